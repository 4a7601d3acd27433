"""The freedesktop files validate, and every resource the app uses is in the package."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from sandbox_admin.gui.resources import DESKTOP_FILE, ICON_NAME, METAINFO_FILE, pane_icon, resource_path


def test_resources_are_inside_the_package():
    for name in (ICON_NAME, DESKTOP_FILE, METAINFO_FILE, "icons/sandboxes.svg", "icons/metrics.svg",
                 "icons/files.svg", "icons/maintenance.svg"):
        path = resource_path(name)
        assert path is not None and "sandbox_admin/resources" in str(path), name
    for key in ("sandboxes", "metrics", "files", "maintenance"):
        assert not pane_icon(key).isNull()


def test_the_desktop_file_offers_sqlite_files_without_claiming_them():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(resource_path(DESKTOP_FILE))
    entry = parser["Desktop Entry"]
    assert entry["Exec"].startswith("sandbox-admin-gui") and entry["Icon"] == "sandbox-admin"
    # listed for .db files ("Open With"), never made the default: no mimeapps.list is written
    assert "application/vnd.sqlite3" in entry["MimeType"]


@pytest.mark.parametrize("tool, name, args", [
    ("desktop-file-validate", DESKTOP_FILE, []),
    ("appstreamcli", METAINFO_FILE, ["validate", "--no-net"]),
])
def test_freedesktop_validators_accept_our_files(tool, name, args):
    exe = shutil.which(tool)
    if exe is None:  # packaging/dev.sh installs both on Debian; elsewhere say what is missing
        pytest.skip(f"{tool} is not installed (Debian: desktop-file-utils / appstream)")
    proc = subprocess.run([exe, *args, str(resource_path(name))], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
