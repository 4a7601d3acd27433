"""``python -m sandbox_admin`` is the ``sandbox-admin`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
