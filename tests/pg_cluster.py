"""A throwaway PostgreSQL cluster for the test run (pytest plugin, registered in conftest).

The session starts ONE cluster on first use (``initdb`` + ``pg_ctl`` in a temporary folder,
as an unprivileged user when the run is root: the server refuses to run as root), listening
on a unix socket in that folder and on a free private TCP port of 127.0.0.1, with trust
authentication. It is stopped and removed at the end of the session, also after a failure
(the fixture's finaliser, ``atexit`` for an interrupted run, and a SIGTERM handler for a run
that is terminated, e.g. by a CI timeout; only SIGKILL leaves it behind).

Fixtures:

* ``pg_server`` (session): the :class:`PgServer`; ``None`` never — without PostgreSQL the
  test is skipped with the reason (or fails when ``ORDER_DESK_REQUIRE_PG=1``, as in CI).
* ``pg_url`` (function): the URL of a FRESH empty database for this test (dropped after it).
* ``pg_login`` (function): ``pg_login(db_url, name, member_of=None)`` creates a LOGIN role
  (no password: trust auth) in the cluster, optionally a member of a group role, and returns
  the URL of ``db_url`` as that role. Roles are dropped after the test.

``ORDER_DESK_TEST_PG_URL`` may point at an existing server instead (a role that may create
databases and roles); no cluster is started then.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

REQUIRE_ENV = "ORDER_DESK_REQUIRE_PG"
URL_ENV = "ORDER_DESK_TEST_PG_URL"
SUPERUSER = "postgres"


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: from PATH, else Debian's versioned ones."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as: None when not root; the ``postgres`` system user if
    present, else ``nobody``."""
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    return 65534, 65534


def with_user(url: str, user: str) -> str:
    """``url`` with its user name replaced (no password: trust auth / .pgpass)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}"))


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@dataclass
class PgServer:
    """A running server the tests may use; ``admin_url`` is a superuser on ``postgres``."""

    admin_url: str
    folder: Path | None = None
    port: int = 0
    _proc_owner: tuple[int, int] | None = None
    _bin: Path | None = None
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def admin_sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction as the superuser (CREATE/DROP DATABASE...)."""
        import psycopg

        with psycopg.connect(with_database(self.admin_url, database), autocommit=True) as con:
            for sql in statements:
                con.execute(sql)  # type: ignore[arg-type]  # test-made literal SQL

    def create_database(self) -> str:
        """A fresh empty database (from template0); returns its URL."""
        name = f"odt_{os.getpid()}_{next(self._counter)}"
        self.admin_sql(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its sessions)."""
        name = urlsplit(url).path.lstrip("/")
        self.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the cluster and remove its folder (idempotent)."""
        if self.folder is None or self._bin is None:
            return
        folder, self.folder = self.folder, None
        data = folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(self._bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                user=self._proc_owner[0] if self._proc_owner else None,
                group=self._proc_owner[1] if self._proc_owner else None,
                extra_groups=[] if self._proc_owner else None,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)


def start_cluster(bin_dir: Path) -> PgServer:
    """initdb + pg_ctl start in a fresh temporary folder; raises with the server's log."""
    owner = _run_user()
    folder = Path(tempfile.mkdtemp(prefix="orderdesk-pg-"))
    if owner is not None:
        os.chown(folder, *owner)
    server = PgServer(admin_url="", folder=folder, _proc_owner=owner, _bin=bin_dir)
    atexit.register(server.stop)
    as_owner: dict[str, object] = (
        {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
    )
    data = folder / "data"
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            env=env,
            capture_output=True,
            check=True,
            **as_owner,  # type: ignore[arg-type]
        )
        # fsync=off (and no full-page writes): a test cluster is thrown away after the run and
        # never has to survive an OS crash; a server restart (pg_ctl) still keeps every commit.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={{port}} "
            f"-c unix_socket_directories='{folder}' -c fsync=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        last = ""
        for _attempt in range(5):  # another run may take the free port between probe and bind
            port = _free_port()
            proc = subprocess.run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(folder / "server.log"),
                    "-o",
                    options.format(port=port),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
                **as_owner,  # type: ignore[arg-type]
            )
            if proc.returncode == 0:
                server.port = port
                server.admin_url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
                return server
            log_file = folder / "server.log"
            last = proc.stderr + (log_file.read_text(errors="replace") if log_file.exists() else "")
        raise RuntimeError(f"PostgreSQL did not start:\n{last}")
    except BaseException:
        server.stop()
        raise


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL parameter skipped: {reason}")


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[PgServer]:
    """The session's PostgreSQL server (started on first use, removed at the end)."""
    external = os.environ.get(URL_ENV)
    if external:
        yield PgServer(admin_url=external)
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _unavailable(
            "no initdb/pg_ctl found (install Debian's 'postgresql' package; "
            "`make system-deps` does it as root)"
        )
        return
    try:
        server = start_cluster(bin_dir)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        _unavailable(f"a throwaway cluster could not be started with {bin_dir}: {detail}")
        return
    request.addfinalizer(server.stop)
    restore = _stop_on_sigterm(server)
    try:
        yield server
    finally:
        restore()


def _stop_on_sigterm(server: PgServer) -> Callable[[], None]:
    """A run ended by SIGTERM (a CI timeout) runs no finalizer and no atexit: stop the
    cluster first, then end as the signal would have. Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: object) -> None:
        server.stop()
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)  # type: ignore[arg-type]
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(
        signal.SIGTERM, previous if previous is not None else signal.SIG_DFL
    )


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh empty database for this test (superuser; dropped afterwards)."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url)
        _drop_roles_of(pg_server, url)


def _drop_roles_of(server: PgServer, url: str) -> None:
    """Drop the roles named after the test's database (``<db>_...``: made by init and by
    ``pg_login``), now that the database that held their privileges is gone."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server.admin_url, autocommit=True) as con:
        rows = con.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY oid DESC",
            (name.replace("_", r"\_") + r"\_%",),
        ).fetchall()
        for (role,) in rows:
            con.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]


Login = Callable[..., str]


@pytest.fixture
def pg_login(pg_server: PgServer) -> Login:
    """``pg_login(db_url, name, member_of=None) -> url``: a LOGIN role ``<db>_<name>`` (no
    password), a member of ``member_of`` when given; the URL of ``db_url`` as that role."""

    def make(db_url: str, name: str, member_of: str | None = None) -> str:
        database = urlsplit(db_url).path.lstrip("/")
        role = f"{database}_{name}"
        grant = f' IN ROLE "{member_of}"' if member_of else ""
        pg_server.admin_sql(f'CREATE ROLE "{role}" LOGIN{grant}')
        return with_user(db_url, role)

    return make
