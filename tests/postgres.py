"""A throwaway PostgreSQL 15 cluster for the store tests: Debian's binaries, a temp directory, a free port.

``initdb`` refuses to run as root, and the tests run as root here and in CI, so the cluster belongs to the
``postgres`` user the Debian package creates; the directory is chowned to it and the server listens on a
unix socket inside it as well as on localhost. Each test gets its own database in the one cluster.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.system import free_port, missing

BIN = Path("/usr/lib/postgresql/15/bin")
PACKAGE = "postgresql"  # the Debian package that ships BIN; `.ci/debian-packages` group "postgres"
_databases = itertools.count()


def available() -> bool:
    return not missing("postgres") and (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


def skip_reason() -> str:
    return f"needs the Debian package(s) {PACKAGE}: sudo apt-get install {PACKAGE}"


def _as_postgres() -> list[str]:
    """Run a command as the unprivileged ``postgres`` user when we are root; as ourselves otherwise."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Cluster:
    """A throwaway cluster that a test can stop and start again, as a team's server restarts under a run."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.directory = Path(tempfile.mkdtemp(prefix="llamaburn-pg-"))
        self.data = self.directory / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.port = free_port()
        subprocess.run(
            [*_as_postgres(), str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", owner, "--no-sync"],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg://{owner}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:  # the tests need no durability; the benchmarks measure PostgreSQL as a team runs it
            options += " -c fsync=off"
        log = str(self.directory / "log")
        subprocess.run(
            [*_as_postgres(), str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop at once, as a crash or a pulled cable would: open connections die mid-conversation."""
        subprocess.run(
            [*_as_postgres(), str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster and yield its admin URL (``postgresql+psycopg://…/postgres``); stop and remove it after."""
    with stoppable_cluster() as running:
        yield running.url


@contextmanager
def stoppable_cluster(durable: bool = False) -> Iterator[Cluster]:
    """A started cluster of its own, which the test may stop and start; removed after. ``durable`` keeps
    PostgreSQL's default ``fsync=on`` (the tests turn it off: they need speed, not durability)."""
    running = Cluster(durable)
    try:
        running.start()
        yield running
    finally:
        running.remove()


def fresh_database(admin_url: str) -> str:
    """A new empty database in the cluster, and its URL."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def needs_postgres() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not available(), reason=skip_reason())
