"""The history's rows: the SQLModel tables (a run, its iterations, the model-info cache) and the grouped
views of them the store answers with (a host's, a sweep's share of history).

The tables are Alembic's to change (``storage/migrations``); ``Store`` is the only code that reads or writes
them, and every face gets these records from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class RunRecord(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True)
    created_at: datetime = Field(index=True)
    modality: str
    backend: str
    model: str = Field(index=True)
    host: str | None = Field(default=None, index=True)
    """The machine that measured it (``system.hostname``): what a fleet's history filters and groups by."""
    sweep_id: str | None = Field(default=None, index=True)
    """The sweep it is a cell's stream of (``config.sweep.id``), else ``None``."""
    status: str
    error: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    system: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    model_info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class IterationRecord(SQLModel, table=True):
    __tablename__ = "iterations"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    index: int
    warmup: bool = False
    prompt: str = ""
    output: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


@dataclass(frozen=True, slots=True)
class HostSummary:
    """One host's share of history: ``host`` is ``None`` for runs that never recorded one."""

    host: str | None
    runs: int
    latest: datetime


@dataclass(frozen=True, slots=True)
class SweepEntry:
    """One sweep's share of history: its runs (one per stream of each point) by status, its first and
    latest, and one of its runs (``config.sweep.request`` holds the sweep's axes)."""

    sweep_id: str
    runs: int
    completed: int
    running: int
    started: datetime
    latest: datetime
    a_run: str


class ModelInfoRecord(SQLModel, table=True):
    """What the model-info sources said about one model on one server, and when: a cache with a TTL."""

    __tablename__ = "model_info"

    key: str = Field(primary_key=True)
    fetched_at: datetime
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
