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
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.system import missing

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster and yield its admin URL (``postgresql+psycopg://…/postgres``); stop and remove it after."""
    directory = Path(tempfile.mkdtemp(prefix="llamaburn-pg-"))
    data = directory / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    port = _free_port()
    run = _as_postgres()
    subprocess.run(
        [*run, str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", owner, "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        [*run, str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://{owner}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run, str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(directory, ignore_errors=True)


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
