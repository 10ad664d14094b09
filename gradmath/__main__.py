"""``python -m gradmath`` runs the command line."""

import sys

from gradmath.cli import main

sys.exit(main())
