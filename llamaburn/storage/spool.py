"""The local file that holds a run the history database stopped taking: PostgreSQL down, the network gone,
the disk full. It is a JSON export of that one run, so ``llamaburn import FILE`` completes it later.

It goes to ``<data dir>/unsaved/<run id>.json``; when that cannot be written (the full disk is usually the
data directory's own), to ``<temp dir>/llamaburn-unsaved/``. Each write replaces the whole file through a
``.part`` file, so a write that fails leaves the previous copy whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from llamaburn.storage.data_dir import data_dir


def directories() -> list[Path]:
    """Where a spooled run may go, in order of preference."""
    return [data_dir() / "unsaved", Path(tempfile.gettempdir()) / "llamaburn-unsaved"]


class Spool:
    """One run's file; ``path`` is where it last was written, ``error`` why no directory took it."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.path: Path | None = None
        self.error: str | None = None

    def write(self, run: dict[str, Any]) -> Path | None:
        """Write ``run`` (an export's run, with its iterations) to the first directory that takes it."""
        text = json.dumps([run], indent=2) + "\n"
        failures = []
        for directory in directories():
            path = directory / f"{self.run_id}.json"
            part = path.with_suffix(".json.part")
            try:
                directory.mkdir(parents=True, exist_ok=True)
                part.write_text(text)
                os.replace(part, path)
            except OSError as exc:
                with contextlib.suppress(OSError):  # no directory to hold it (ENOTDIR) is not a second failure
                    part.unlink(missing_ok=True)
                failures.append(f"{directory}: {exc.strerror or exc}")
                continue
            if self.path is not None and self.path != path:
                self.path.unlink(missing_ok=True)  # an older, shorter copy elsewhere
            self.path, self.error = path, None
            return path
        self.error = "; ".join(failures)
        return None

    def remove(self) -> None:
        """The database has the whole run now: the file is no longer needed."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
