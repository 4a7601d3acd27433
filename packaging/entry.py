"""The bundle's entry point (PyInstaller runs this script): the ``sandbox-admin`` command."""

import sys

from sandbox_admin.cli import main

if __name__ == "__main__":
    sys.exit(main())
