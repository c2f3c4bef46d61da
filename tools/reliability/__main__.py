"""``python -m tools.reliability``: see :mod:`tools.reliability.cli`."""

import sys

from tools.reliability.cli import main

sys.exit(main())
