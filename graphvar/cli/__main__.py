"""``python -m graphvar.cli``: the ``graphvar`` command."""

import sys

from . import main

sys.exit(main())
