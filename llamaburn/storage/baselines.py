"""Baselines: the run that later runs of the same setup are checked against (``llamaburn check``).

A baseline is keyed by what makes two runs comparable at all: the host that measured it, the backend, the
model and the modality, plus a ``tag`` that names it (``ollama-0.12``; empty when untagged). Setting one
for a key and tag replaces the one there was. Checking without a tag takes the key's newest baseline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, col, delete, select

from llamaburn.storage.records import RunRecord
from llamaburn.storage.store import Store, now


class BaselineRecord(SQLModel, table=True):
    __tablename__ = "baselines"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    host: str
    """The run's host, ``""`` when it recorded none (a unique key cannot hold NULL and stay unique)."""
    backend: str
    model: str
    modality: str
    tag: str = ""
    created_at: datetime


def key_of(run: RunRecord) -> tuple[str, str, str, str]:
    """``(host, backend, model, modality)``: which baseline a run is checked against."""
    return run.host or "", run.backend, run.model, run.modality


class Baselines:
    """The baselines in ``store``'s database (revision ``0004``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def set(self, run: RunRecord, tag: str = "") -> BaselineRecord:
        """Make ``run`` the baseline of its key under ``tag``, replacing the one there was."""
        host, backend, model, modality = key_of(run)
        with self.store._session() as session:
            session.exec(delete(BaselineRecord).where(*self._matches(run, tag)))
            record = BaselineRecord(
                run_id=run.id, host=host, backend=backend, model=model, modality=modality, tag=tag,
                created_at=now(),
            )
            session.add(record)
            session.commit()
            return record

    def all(self) -> list[BaselineRecord]:
        """Every baseline whose run is still stored, by key, then newest first."""
        with self.store._session() as session:
            query = (
                select(BaselineRecord)
                .join(RunRecord, col(RunRecord.id) == col(BaselineRecord.run_id))
                .order_by(
                    col(BaselineRecord.host), col(BaselineRecord.backend), col(BaselineRecord.model),
                    col(BaselineRecord.modality), col(BaselineRecord.created_at).desc(),
                )
            )
            return list(session.exec(query))

    def find(self, run: RunRecord, tag: str | None = None) -> BaselineRecord | None:
        """The baseline ``run`` is checked against: its key's under ``tag``, or its newest without one."""
        return self.find_key(key_of(run), tag)

    def find_key(self, key: tuple[str, str, str, str], tag: str | None = None) -> BaselineRecord | None:
        """The baseline of ``(host, backend, model, modality)``: before a run exists, ``check`` asks this."""
        with self.store._session() as session:
            query = (
                select(BaselineRecord)
                .join(RunRecord, col(RunRecord.id) == col(BaselineRecord.run_id))
                .where(*self._matches(key, tag))
                .order_by(col(BaselineRecord.created_at).desc(), col(BaselineRecord.id).desc())
                .limit(1)
            )
            return session.exec(query).first()

    def clear(self, run: RunRecord | None = None, tag: str | None = None) -> int:
        """Delete the baselines of ``run``'s key (all of them, or those under ``tag``); without ``run``, every
        baseline (under ``tag``, if given). Returns how many went."""
        with self.store._session() as session:
            query = select(BaselineRecord.id)
            if run is not None:
                query = query.where(*self._matches(run, tag))
            elif tag is not None:
                query = query.where(BaselineRecord.tag == tag)
            doomed = list(session.exec(query))
            session.exec(delete(BaselineRecord).where(col(BaselineRecord.id).in_(doomed)))
            session.commit()
            return len(doomed)

    @staticmethod
    def _matches(of: RunRecord | tuple[str, str, str, str], tag: str | None) -> list[Any]:
        host, backend, model, modality = key_of(of) if isinstance(of, RunRecord) else of
        conditions: list[Any] = [
            BaselineRecord.host == host,
            BaselineRecord.backend == backend,
            BaselineRecord.model == model,
            BaselineRecord.modality == modality,
        ]
        if tag is not None:
            conditions.append(BaselineRecord.tag == tag)
        return conditions
