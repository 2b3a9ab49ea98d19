"""One run per model server across processes: an advisory file lock per server URL.

Two runs on one server measure each other. The app's service keeps to one run per backend inside its
process; this lock carries the rule between processes (two ``llamaburn bench``, or the app and a CLI
run). The operating system drops the lock when its process ends, however it ends, so a killed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from llamaburn.errors import RunInProgressError
from llamaburn.storage.data_dir import data_dir

log = logging.getLogger(__name__)


def locks_dir() -> Path:
    """``<data dir>/locks``, beside the history database."""
    return data_dir() / "locks"


def _try_lock(file: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        file.seek(0)
        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_OPEN: dict[Path, tuple[IO[str], int]] = {}
"""This process's locked files, and how many ``ServerLock`` share each: runs inside one process are the
service's to order, so the lock only stands between processes."""
_TABLE = threading.Lock()


class ServerLock:
    """Held while a run measures the server at ``url``: ``with ServerLock(label, url, run_id): ...``.

    ``acquire`` raises ``RunInProgressError`` naming the other process and its run when the server is
    taken; the lock file then keeps the holder's pid and run id for that message.
    """

    def __init__(self, label: str, url: str, run_id: str, directory: Path | None = None) -> None:
        self.label, self.url, self.run_id = label, url, run_id
        name = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:24]
        self.path = (directory or locks_dir()) / f"{name}.lock"
        self._state: Literal["free", "locked", "unguarded"] = "free"

    @property
    def held(self) -> bool:
        return self._state != "free"

    def acquire(self) -> None:
        with _TABLE:
            if self.path in _OPEN:
                file, count = _OPEN[self.path]
            else:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (open as long as the lock)
                except OSError as exc:  # a read-only data directory must not stop a benchmark, only its guard
                    log.warning("cannot lock %s (%s): other llamaburn processes may measure %s at once",
                                self.path, exc.strerror or exc, self.url)
                    self._state = "unguarded"
                    return
                if not _try_lock(file):
                    raise self._refusal(file)
                count = 0
            file.seek(0)
            file.truncate()
            file.write(json.dumps({"pid": os.getpid(), "run_id": self.run_id, "url": self.url}))
            file.flush()
            _OPEN[self.path] = (file, count + 1)
            self._state = "locked"

    def _refusal(self, file: IO[str]) -> RunInProgressError:
        try:
            file.seek(0)
            holder = _holder(file.read())
        except OSError:  # Windows: a locked region cannot be read
            holder = _holder("")
        file.close()
        return RunInProgressError(self.label, self.url, str(holder["run_id"]), holder["pid"])

    def release(self) -> None:
        """Closing the file releases the lock; the file stays, so no other process races its removal."""
        with _TABLE:
            if self._state == "locked":
                file, count = _OPEN.pop(self.path)
                if count > 1:
                    _OPEN[self.path] = (file, count - 1)
                else:
                    file.close()
            self._state = "free"

    def __enter__(self) -> ServerLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def _holder(text: str) -> dict[str, object]:
    """Who holds the lock, as it wrote itself down; ``?`` while it has not written yet."""
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return {"pid": "?", "run_id": "?"}
    return {"pid": found.get("pid", "?"), "run_id": found.get("run_id", "?")}
