"""``python -m engine``: the engine's subcommands, with no Qt needed."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
