#!/usr/bin/env bash
# One-command set-up for a fresh Debian/Ubuntu machine (and any machine with Python >= 3.11).
#   bash packaging/dev.sh app [ARGS...]   install, then start the desktop app
#   bash packaging/dev.sh test [PYTEST ARGS...]   install, then run the whole test suite
# It installs Qt's system libraries with apt when they are missing (as root or via sudo),
# makes a virtual environment in .venv (stock Debian Python refuses pip outside one,
# PEP 668) and installs the project into it.
set -euo pipefail
cd "$(dirname "$0")/.."

QT_APT_PACKAGES=(
  libglib2.0-0 libgl1 libegl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libxkbcommon0
  fonts-dejavu-core
  # a real window (xcb) and Xvfb for screenshots
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0
)

apt_install() {
  command -v dpkg-query >/dev/null 2>&1 || return 0   # not Debian/Ubuntu: nothing to do
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "Please install with apt: ${missing[*]}" >&2; return 1; fi
  fi
  echo "Installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is needed" >&2; return 1
}

#: for the test suite only: validators of the .desktop and AppStream files, and a real
#: Prometheus (with promtool) that the metrics tests run on loopback
TEST_APT_PACKAGES=(desktop-file-utils appstream prometheus)

setup() {
  local extra="$1"
  local need=("${QT_APT_PACKAGES[@]}")
  if [ "$extra" = "[test]" ]; then need+=("${TEST_APT_PACKAGES[@]}"); fi
  local py; py=$(find_python)
  # Debian's python3 has venv only with python3-venv.
  "$py" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
  apt_install "${need[@]}"
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}"
}

cmd="${1:-app}"; shift || true
case "$cmd" in
  app)
    setup ""
    exec .venv/bin/sandbox-admin "$@"
    ;;
  test)
    setup "[test]"
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    status=0
    # Two worker processes (-n 2, not "auto": a container's CPU quota is not its CPU
    # count); "-n 0" after "test" runs everything in one process.
    .venv/bin/python -m pytest -n 2 --cov=sandbox_admin --cov-report=term "$@" || status=$?
    if [ "$status" -eq 0 ]; then
      # Lint (ruff, pinned in the test extra; settings in pyproject.toml).
      .venv/bin/ruff check . || status=$?
    fi
    if [ "$status" -eq 0 ]; then
      # The storage core's own claim: at least 90 % of its lines are exercised.
      .venv/bin/python -m coverage report --include='sandbox_admin/storage/*' --fail-under=90 \
        | tail -n 1 || status=$?
    fi
    exit "$status"
    ;;
  *)
    echo "usage: bash packaging/dev.sh app|test [ARGS...]" >&2; exit 2 ;;
esac
