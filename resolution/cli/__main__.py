"""``python -m resolution.cli``: the ``rs`` command."""

import sys

from resolution.cli import main

sys.exit(main())
