#!/usr/bin/env bash
# Build a one-folder bundle of sandbox-admin with PyInstaller, then smoke-test it.
#   bash packaging/build.sh        -> dist/sandbox-admin/sandbox-admin (+ its libraries)
# Uses the project's .venv (made by packaging/dev.sh); PyInstaller is installed there
# for the build only. The bundle runs on a Linux with the same or a newer glibc; it
# still needs the system's Qt libraries listed in the README (libgl1, libegl1, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash packaging/dev.sh test --collect-only -q >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check "pyinstaller>=6.10,<7"
.venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/sandbox-admin.spec
echo "bundle: dist/sandbox-admin ($(du -sh dist/sandbox-admin | cut -f1))"
QT_QPA_PLATFORM=offscreen SANDBOX_ADMIN_HOME="$(mktemp -d)" dist/sandbox-admin/sandbox-admin --smoke
