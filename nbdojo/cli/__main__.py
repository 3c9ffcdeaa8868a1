"""`python -m nbdojo.cli` runs the CLI."""

import sys

from nbdojo.cli import main

sys.exit(main())
