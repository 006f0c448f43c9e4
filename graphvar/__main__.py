"""``python -m graphvar``: the ``graphvar`` command."""

import sys

from .cli import main

sys.exit(main())
