"""The ``llamaburn`` command: ``commands`` parses and dispatches, one module per noun handles it.

Imports stay inside the handlers so ``--help`` answers fast.
"""

from llamaburn.cli.commands import main

__all__ = ["main"]
