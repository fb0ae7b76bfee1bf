"""``python -m pairsift.cli``: the ``pairsift`` command."""

import sys

from pairsift.cli.main import main

sys.exit(main())
