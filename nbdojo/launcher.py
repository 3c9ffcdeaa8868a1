"""Kept so that kernel specs written by earlier versions (`python -m nbdojo.launcher ...`) still start.

The launcher lives in `nbdojo.kernel.launcher`.
"""

from nbdojo.kernel.launcher import main

if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
