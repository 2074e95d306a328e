"""``python -m analysis <command>``: the command line lives in :mod:`analysis.commands.cli`."""
import sys

from .commands.cli import COMMANDS, build_parser, main  # noqa: F401  (the registry, for readers)

if __name__ == "__main__":
    sys.exit(main())
