"""Where LlamaBurn keeps its files: the history database, uploads, the servers' run locks, and the runs the
database did not take (``unsaved/``)."""

from __future__ import annotations

from pathlib import Path


def data_dir() -> Path:
    """The user data directory of platformdirs (``$XDG_DATA_HOME/llamaburn`` on Linux); not created here."""
    from platformdirs import user_data_dir  # lazily: the CLI's --help imports no dependency

    return Path(user_data_dir("llamaburn", appauthor=False))
