"""``python -m bdfm`` runs the command line interface."""

import sys

from bdfm.cli import main

sys.exit(main())
