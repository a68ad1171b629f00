"""`python -m collector.sim`: see collector/sim/cli.py."""

import sys

from .cli import main

sys.exit(main())
