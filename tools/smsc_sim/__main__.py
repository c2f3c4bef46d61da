"""``python -m tools.smsc_sim``: see :mod:`tools.smsc_sim.cli`."""

import sys

from tools.smsc_sim.cli import main

sys.exit(main())
