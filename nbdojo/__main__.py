"""`python -m nbdojo` runs the CLI."""

import sys

from nbdojo.cli.app import main

sys.exit(main())
