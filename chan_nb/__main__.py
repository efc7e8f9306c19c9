"""``python -m chan_nb`` runs the command line."""

import sys

from chan_nb.cli import main

sys.exit(main())
