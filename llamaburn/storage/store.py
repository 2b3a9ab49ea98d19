"""Run history in SQLModel: SQLite in the user data directory by default, any SQLAlchemy URL otherwise.

Each iteration is committed as it completes, so a crash or kill mid-run loses nothing already measured.
SQLite runs in WAL mode so the app and a CLI run can share one file. The schema is Alembic's: see
``llamaburn.storage.schema``, which applies the revisions at start-up under a cross-process lock.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sql
from pydantic import ValidationError
from sqlalchemy import case, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, create_engine, delete, func, select, update
from sqlmodel.sql.expression import SelectOfScalar

from llamaburn.errors import ConfigError, StoreError
from llamaburn.storage import schema
from llamaburn.storage.data_dir import data_dir
from llamaburn.storage.records import HostSummary, IterationRecord, ModelInfoRecord, RunRecord, SweepEntry

ENV_URL = "LLAMABURN_DB_URL"
INTERRUPTED = "interrupted: the process running it stopped before it finished"
CONNECT_TIMEOUT_S = 5  # a server gone from the network must not hold a write (or a retry) for TCP's minutes
Narrowed = TypeVar("Narrowed", bound=SelectOfScalar[Any])


def default_url() -> str:
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'llamaburn.db'}"


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ.get(ENV_URL) or default_url()
        is_sqlite = self.url.startswith("sqlite")
        try:
            # pool_pre_ping: a pooled connection to a PostgreSQL that restarted is dead; ping and replace it
            self.engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite
                else {"connect_timeout": CONNECT_TIMEOUT_S},
                pool_pre_ping=not is_sqlite,
            )
        except (SQLAlchemyError, ValueError, ImportError) as exc:  # ImportError: the URL's driver is missing
            raise StoreError(f"cannot use database URL {self.url!r}: {exc}") from None
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrate()
        self.mark_interrupted()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: SQLAlchemyError) -> StoreError:
        return StoreError(f"history database {self.url} failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")

    def _migrate(self) -> None:
        try:
            schema.upgrade(self.engine, self.url)
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None

    def mark_interrupted(self) -> int:
        """Mark as failed the runs left ``running`` by a process on this machine that no longer exists.

        A run records its host and pid in its system snapshot; a SIGKILL or crash leaves its row
        ``running`` with every completed iteration already committed. Runs of live processes and of
        other machines (a shared database) are left alone. Returns how many runs were marked.
        """
        host = platform.node()
        with self._session() as session:
            stale = [
                run
                for run in session.exec(select(RunRecord).where(RunRecord.status == "running"))
                if (run.system or {}).get("hostname") == host and not _alive((run.system or {}).get("pid"))
            ]
            for run in stale:
                run.status, run.error = "failed", INTERRUPTED
                session.add(run)
            session.commit()
            return len(stale)

    def schema_version(self) -> str | None:
        """The Alembic revision the database is at (``schema.head()`` once opened)."""
        with self._session():
            return schema.revision(self.engine)

    def create_run(self, record: RunRecord) -> None:
        record.sweep_id = record.sweep_id or sweep_of(record.config)
        with self._session() as session:
            session.add(record)
            session.commit()

    def add_iteration(self, record: IterationRecord) -> None:
        with self._session() as session:
            session.add(record)
            session.commit()

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any], error: str | None) -> None:
        """One UPDATE, the row not read first: its config, system and model info are not the end's business,
        and decoding them cost each of a sweep's runs a millisecond."""
        with self._session() as session:
            query = update(RunRecord).where(col(RunRecord.id) == run_id)
            found = session.exec(query.values(status=status, summary=summary, error=error))
            if found.rowcount != 1:
                raise StoreError(f"no run with id {run_id!r} to finish")
            session.commit()

    def list_runs(
        self, limit: int = 50, offset: int = 0, host: str | None = None, sweep: str | None = None
    ) -> list[RunRecord]:
        """Runs newest first, without their iterations; only ``host``'s and ``sweep``'s runs when given."""
        with self._session() as session:
            query = _only(select(RunRecord), host, sweep)
            query = query.order_by(col(RunRecord.created_at).desc()).offset(offset).limit(limit)
            return list(session.exec(query))

    def sweep_runs(self, sweep_id: str) -> list[RunRecord]:
        """A sweep's runs, oldest first: its cells in the order they ran, each cell's streams together."""
        with self._session() as session:
            query = select(RunRecord).where(RunRecord.sweep_id == sweep_id).order_by(col(RunRecord.created_at))
            return list(session.exec(query))

    def finish_sweep_cell(self, run_ids: Sequence[str], result: dict[str, Any]) -> None:
        """Mark a sweep cell finished: each of its streams' runs gets ``config.sweep.result`` (the cell's
        aggregate), in one transaction, so a resumed sweep knows a cell is whole only once all of it is."""
        with self._session() as session:
            for run in session.exec(select(RunRecord).where(col(RunRecord.id).in_(list(run_ids)))):
                sweep = dict(run.config.get("sweep") or {})
                run.config = {**run.config, "sweep": {**sweep, "result": result}}  # a new dict: JSON is compared
                session.add(run)
            session.commit()

    def hosts(self) -> list[HostSummary]:
        """Every host that has runs here, with its run count and latest run: history grouped by host."""
        with self._session() as session:
            query = (
                select(RunRecord.host, func.count(), func.max(RunRecord.created_at))
                .group_by(RunRecord.host)
                .order_by(col(RunRecord.host).nulls_last())
            )
            return [HostSummary(host=host, runs=runs, latest=latest) for host, runs, latest in session.exec(query)]

    def sweeps(self, limit: int = 50) -> list[SweepEntry]:
        """The ``limit`` sweeps with the latest runs, newest first: history grouped by sweep, in one query."""
        def counted(status: str) -> Any:
            return func.sum(case((col(RunRecord.status) == status, 1), else_=0))

        created = col(RunRecord.created_at)
        query = (
            sql.select(col(RunRecord.sweep_id), func.count(), counted("completed"), counted("running"),
                       func.min(created), func.max(created), func.min(col(RunRecord.id)))
            .where(col(RunRecord.sweep_id).is_not(None))
            .group_by(RunRecord.sweep_id)
            .order_by(func.max(created).desc())
            .limit(limit)
        )
        with self._session() as session:
            return [SweepEntry(*row) for row in session.execute(query)]  # sqlmodel's select takes 4 columns

    def runs_of_model(self, model: str, limit: int = 200) -> list[RunRecord]:
        """A model's completed runs, oldest first: the history's trend for that model."""
        with self._session() as session:
            query = (
                select(RunRecord)
                .where(RunRecord.model == model, RunRecord.status == "completed")
                .order_by(col(RunRecord.created_at).desc())
                .limit(limit)
            )
            return list(reversed(list(session.exec(query))))

    def cached_model_info(self, key: str, max_age: timedelta) -> dict[str, Any] | None:
        """The cached info for ``key`` if it is younger than ``max_age``."""
        with self._session() as session:
            record = session.get(ModelInfoRecord, key)
        if record is None:
            return None
        fetched_at = record.fetched_at if record.fetched_at.tzinfo else record.fetched_at.replace(tzinfo=UTC)
        return record.info if now() - fetched_at < max_age else None

    def cache_model_info(self, key: str, info: dict[str, Any]) -> None:
        with self._session() as session:
            session.merge(ModelInfoRecord(key=key, fetched_at=now(), info=info))
            session.commit()

    def count_runs(self, host: str | None = None, sweep: str | None = None) -> int:
        with self._session() as session:
            return session.exec(_only(select(func.count()).select_from(RunRecord), host, sweep)).one()

    def get_run(self, run_id: str) -> RunRecord:
        """A run by its id, or by a unique prefix of it (``llamaburn history`` shows 8 characters)."""
        return self.get_runs([run_id])[0]

    def get_runs(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """Runs by id or unique prefix, in the order asked, read in one session: comparing 10 runs on
        PostgreSQL took 50 ms as 10 sessions (each a ping, a ``BEGIN``, a query and a ``ROLLBACK``).

        A prefix is looked up as a range of the primary key, ``prefix <= id < prefix_upper``, not with
        ``LIKE``: ``LIKE`` makes ``%`` and ``_`` wildcards, and SQLite's is case-insensitive, so it cannot
        use the index (comparing 10 runs by prefix among 10,000 took 81 ms). The range is exact under a
        binary collation (SQLite's, and PostgreSQL's ``C``); under another, the ``substr`` test still keeps out
        every id that does not start with the prefix. A full id is in its own range and sorts first in it, so
        one query answers both.
        """
        with self._session() as session:
            return [_find(session, run_id) for run_id in run_ids]

    def iterations(self, run_id: str) -> list[IterationRecord]:
        """A run's iterations in order, warmups first."""
        with self._session() as session:
            query = (
                select(IterationRecord)
                .where(IterationRecord.run_id == run_id)
                .order_by(col(IterationRecord.warmup).desc(), col(IterationRecord.index))
            )
            return list(session.exec(query))

    def delete_run(self, run_id: str) -> None:
        with self._session() as session:
            if session.get(RunRecord, run_id) is None:
                raise ConfigError(f"no run with id {run_id!r} in history")
            session.exec(delete(IterationRecord).where(col(IterationRecord.run_id) == run_id))
            session.exec(delete(RunRecord).where(col(RunRecord.id) == run_id))
            session.commit()

    def import_runs(self, data: list[dict[str, Any]]) -> tuple[int, int]:
        """Add the runs of an export (``llamaburn export --format json``) with their iterations; returns
        ``(added, skipped)``. A run whose id is already here is skipped, so importing a laptop's history
        into the team's database twice adds nothing the second time, unless the stored copy is unfinished
        (``running``, or marked interrupted) and the incoming one has more: then it is completed and counts
        as added. That is how a run the database stopped taking mid-run (the recorder's file in
        ``<data dir>/unsaved``) gets its missing iterations and final status. All or nothing: one
        transaction."""
        try:
            incoming = [
                (
                    RunRecord.model_validate(
                        {"host": (run.get("system") or {}).get("hostname"), **run,
                         "sweep_id": run.get("sweep_id") or sweep_of(run.get("config"))}
                    ),
                    [
                        IterationRecord.model_validate({**it, "id": None, "run_id": run["id"]})
                        for it in run.get("iterations", [])
                    ],
                )
                for run in data
            ]
        except (ValidationError, AttributeError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a LlamaBurn JSON export: {str(exc).splitlines()[0]}") from None
        added = 0
        with self._session() as session:
            for run, iterations in incoming:
                if (stored := session.get(RunRecord, run.id)) is not None:
                    added += _complete(session, stored, run, iterations)
                    continue
                session.add(run)
                session.flush()  # the run row first: without relationships, the ORM does not order the inserts
                session.add_all(iterations)
                added += 1
            session.commit()
        return added, len(incoming) - added

    def clear(self, keep: Collection[str] = ()) -> int:
        """Delete every run but those in ``keep`` (runs still in progress); returns how many went."""
        with self._session() as session:
            doomed = list(session.exec(select(RunRecord.id).where(col(RunRecord.id).not_in(list(keep)))))
            session.exec(delete(IterationRecord).where(col(IterationRecord.run_id).in_(doomed)))
            session.exec(delete(RunRecord).where(col(RunRecord.id).in_(doomed)))
            session.commit()
            return len(doomed)


def _only(query: Narrowed, host: str | None, sweep: str | None) -> Narrowed:
    """``query`` narrowed to ``host``'s and ``sweep``'s runs, each only when given."""
    if host is not None:
        query = query.where(RunRecord.host == host)
    if sweep is not None:
        query = query.where(RunRecord.sweep_id == sweep)
    return query


def _find(session: Session, run_id: str) -> RunRecord:
    if len(run_id) < 4:
        run = session.get(RunRecord, run_id)
    else:
        query = select(RunRecord).where(
            col(RunRecord.id) >= run_id, func.substr(RunRecord.id, 1, len(run_id)) == run_id
        )
        if (upper := _prefix_upper(run_id)) is not None:
            query = query.where(col(RunRecord.id) < upper)
        matches = list(session.exec(query.order_by(col(RunRecord.id)).limit(2)))
        if len(matches) > 1 and matches[0].id != run_id:
            raise ConfigError(f"run id prefix {run_id!r} is ambiguous: give more characters")
        run = matches[0] if matches else None
    if run is None:
        raise ConfigError(f"no run with id {run_id!r} in history")
    return run


def _complete(session: Session, stored: RunRecord, incoming: RunRecord, iterations: list[IterationRecord]) -> bool:
    """Bring an unfinished stored run up to ``incoming``: its missing iterations (by warmup and index), and
    its final status once ``incoming`` has one. A finished stored run is left as it was. True if it changed."""
    if not (stored.status == "running" or (stored.status == "failed" and stored.error == INTERRUPTED)):
        return False
    query = select(IterationRecord.warmup, IterationRecord.index).where(IterationRecord.run_id == stored.id)
    have = {(warmup, index) for warmup, index in session.exec(query)}
    missing = [it for it in iterations if (it.warmup, it.index) not in have]
    session.add_all(missing)
    finished = incoming.status != "running"
    if finished:
        stored.status, stored.summary, stored.error = incoming.status, incoming.summary, incoming.error
        session.add(stored)
    return bool(missing) or finished


def sweep_of(config: Any) -> str | None:
    """The sweep id a run's config names (``config.sweep.id``), if any."""
    sweep = config.get("sweep") if isinstance(config, dict) else None
    found = sweep.get("id") if isinstance(sweep, dict) else None
    return found if isinstance(found, str) else None


def now() -> datetime:
    return datetime.now(UTC)


def _prefix_upper(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``: its last character incremented,
    in code point order (the order of SQLite's BINARY collation of UTF-8). ``None`` when there is none."""
    stripped = prefix.rstrip(chr(sys.maxunicode))
    if not stripped:
        return None
    code = ord(stripped[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be encoded in UTF-8: the next character is U+E000
        code = 0xE000
    return stripped[:-1] + chr(code)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
