"""A real PostgreSQL server for tests: a throwaway cluster per test process, a fresh database per
test.

    from tests.support.postgres import postgres_server, postgres_url  # in a conftest.py

`postgres_url` is the SQLAlchemy URL of a new, empty database, dropped after the test.

Where the server comes from:

- `CONVEYOR_TEST_DATABASE_URL` set: that server (its role must be allowed to create databases).
- otherwise the PostgreSQL server binaries (`CONVEYOR_PG_BINDIR`, `initdb` on PATH, or the newest
  `/usr/lib/postgresql/*/bin`): `initdb` into a temporary directory and start `postgres` on
  127.0.0.1 on a free port, its unix socket in that directory. PostgreSQL refuses to run as root,
  so when the tests run as root the cluster belongs to the `postgres` system user (or `nobody`).
  Each pytest-xdist worker is its own process with its own session, hence its own cluster: no
  shared ports or directories. At the end the cluster is stopped with `pg_ctl stop` (or, failing
  that, by the pid in its `postmaster.pid`) and its directory removed.
- no binaries: the tests that need PostgreSQL skip, or fail when `CI=true`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL, make_url

URL_VARIABLE = "CONVEYOR_TEST_DATABASE_URL"
BINDIR_VARIABLE = "CONVEYOR_PG_BINDIR"
SUPERUSER = "conveyor"
_START_ATTEMPTS = 3


def find_server_binaries() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres`, if this machine has one."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_VARIABLE):
        candidates.append(Path(os.environ[BINDIR_VARIABLE]))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(installed, key=lambda path: int(path.parent.name), reverse=True)
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_account() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: None for the current one, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and found neither a `postgres` nor a `nobody` user")


@dataclass
class PostgresServer:
    """A PostgreSQL server tests may create databases on."""

    admin_url: URL

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"conveyor_test_{worker}_{uuid.uuid4().hex[:12]}"
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._execute(statement.format(sql.Identifier(name)))

    def _execute(self, statement: sql.Composed) -> None:
        conninfo = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(statement)


class LocalCluster:
    """A cluster in a temporary directory, owned by an unprivileged account when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.account = _unprivileged_account()
        self.directory = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = 0
        if self.account is not None:
            os.chown(self.directory, self.account.pw_uid, self.account.pw_gid)

    def start(self) -> PostgresServer:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        )
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", self._options())
                break
            except subprocess.CalledProcessError:
                if attempt == _START_ATTEMPTS:  # the port was taken meanwhile, or worse
                    raise RuntimeError(f"PostgreSQL did not start:\n{self._log_text()}") from None
        url = URL.create("postgresql+psycopg", username=SUPERUSER, host="127.0.0.1")
        return PostgresServer(url.set(port=self.port, database="postgres"))

    def _options(self) -> str:
        # Durability is of no use to a throwaway cluster; speed is.
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )

    def stop(self) -> None:
        """Stop the server (by pg_ctl, else by its pid) and remove the directory."""
        if self.data.exists():
            try:
                self._pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
            except subprocess.CalledProcessError:
                self._kill_postmaster()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def _log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def _pg_ctl(self, *arguments: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *arguments)

    def _run(self, program: str, *arguments: str) -> None:
        account = self.account
        subprocess.run(
            [str(self.bindir / program), *arguments],
            check=True,
            capture_output=True,
            cwd=self.directory,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def available_postgres() -> Iterator[PostgresServer | None]:
    """The server `URL_VARIABLE` names, else a throwaway cluster from the server binaries
    (stopped on the way out); None when there is neither. For the fixture and the benchmarks."""
    if external := os.environ.get(URL_VARIABLE):
        url = make_url(external)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        yield PostgresServer(url)
        return
    bindir = find_server_binaries()
    if bindir is None:
        yield None
        return
    cluster = LocalCluster(bindir)
    atexit.register(cluster.stop)  # in case the process ends without leaving the block
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test process (see the module docstring)."""
    with available_postgres() as server:
        if server is None:
            _unavailable(f"no PostgreSQL server binaries found (set {BINDIR_VARIABLE})")
            return
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database on the test PostgreSQL server, dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
