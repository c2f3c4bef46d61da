"""``python -m tools.fuzz_smpp``: see :mod:`tools.fuzz_smpp.cli`."""

import sys

from tools.fuzz_smpp.cli import main

sys.exit(main())
