"""Real PostgreSQL and Redis servers for tests, benchmarks and the distributed demo.

Both start on a free loopback port in a private temporary directory and are stopped by the PID
this module started, never by name::

    with PostgresServer.start() as pg, RedisServer.start() as redis:
        url, broker = pg.url, redis.url

PostgreSQL: ``initdb`` refuses to run as root, so under root (CI) the server runs as the
``postgres`` system user (created by the Debian package) or, if missing, a ``pleo-erp-ci``
user this module creates. The data directory is throw-away (``fsync=off``, trust auth on
127.0.0.1 only). When no ``initdb`` is found, :func:`ensure_installed` installs the Debian
packages with apt (root only) -- the same step ``.ci/run`` performs.

Run ``python -m pleo_erp.testing.services`` to start both and print their URLs until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from typing_extensions import Self

__all__ = [
    "PostgresServer",
    "RedisServer",
    "ServiceUnavailable",
    "ensure_installed",
    "find_postgres_bin",
    "free_port",
]

_CI_USER = "pleo-erp-ci"


class ServiceUnavailable(RuntimeError):
    """A server binary is missing and could not be installed, or the server did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_postgres_bin() -> Path | None:
    """The directory holding ``initdb``/``postgres``, or ``None``.

    Looks at ``$PATH`` first, then Debian's versioned ``/usr/lib/postgresql/<n>/bin`` (newest).
    """
    found = shutil.which("initdb")
    if found and shutil.which("postgres", path=str(Path(found).parent)):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(candidates[-1]).parent if candidates else None


def ensure_installed(*, postgres: bool = True, redis: bool = True) -> None:
    """Install the missing servers with apt (root only); raise :class:`ServiceUnavailable`."""
    packages = []
    if postgres and find_postgres_bin() is None:
        packages.append("postgresql")
    if redis and shutil.which("redis-server") is None:
        packages.append("redis-server")
    if not packages:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceUnavailable(f"missing {', '.join(packages)}; install them (apt/brew)")
    # Parallel test workers must not run apt at once: the first installs, the others re-check.
    with open(os.path.join(tempfile.gettempdir(), "pleo-erp-apt.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        still = [p for p in packages if p != "postgresql" or find_postgres_bin() is None]
        still = [p for p in still if p != "redis-server" or not shutil.which("redis-server")]
        if still:
            _apt_install(still)


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServiceUnavailable(f"{' '.join(argv)} failed: {done.stderr[-500:]}")


def _service_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run PostgreSQL as (``None``: run as ourselves, not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _CI_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _CI_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(_CI_USER)


def _stop_pid(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Signal our child by PID, wait, and SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(10)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailable(f"{what} exited with code {process.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not listen on port {port} within {timeout:g} s")


class _Service:
    """What both servers share: a context manager that stops the server, and a ``repr``."""

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self: _Described) -> str:
        return f"{type(self).__name__}(url={self.url!r}, pid={self.pid})"


class _Described(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int | None: ...


class PostgresServer(_Service):
    """A throw-away PostgreSQL server on ``127.0.0.1:<port>`` (see the module docstring)."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        """Wrap a started server; use :meth:`start`."""
        self.root = root
        self.port = port
        self.process = process

    @property
    def pid(self) -> int:
        """The postmaster's PID (signals go here)."""
        return self.process.pid

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/pleo`` (trust auth, loopback only)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/pleo"

    @classmethod
    def start(
        cls, *, port: int | None = None, max_connections: int = 200, timeout: float = 60.0
    ) -> PostgresServer:
        """initdb a temp directory, start ``postgres`` and create the ``pleo`` database."""
        ensure_installed(redis=False)
        bindir = find_postgres_bin()
        if bindir is None:  # pragma: no cover - ensure_installed raised already
            raise ServiceUnavailable("initdb not found")
        user = _service_user()
        root = Path(tempfile.mkdtemp(prefix="pleo-erp-pg-"))
        data = root / "data"
        as_user: dict[str, object] = {}
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
            as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            env=env,
            cwd=root,
            check=False,
            **as_user,  # type: ignore[call-overload]
        )
        if init.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise ServiceUnavailable(f"initdb failed: {init.stderr.decode()[-800:]}")
        chosen = port or free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(chosen),
            "unix_socket_directories": str(root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": str(max_connections),
            "shared_buffers": "64MB",
            "timezone": "UTC",
        }
        argv = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        log = open(root / "postgres.log", "wb")  # noqa: SIM115 - owned by the child
        process = subprocess.Popen(  # type: ignore[call-overload]
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, **as_user
        )
        log.close()
        server = cls(root, chosen, process)
        try:
            _wait_port(chosen, process, "postgres", timeout)
            server._create_database(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _create_database(self, timeout: float) -> None:
        import psycopg  # the [postgres] extra

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
                ) as conn:
                    conn.execute("CREATE DATABASE pleo")
                return
            except psycopg.OperationalError:
                # "the database system is starting up"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server log (for failure messages)."""
        try:
            return (self.root / "postgres.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster PID), then delete the directory."""
        _stop_pid(self.process, signal.SIGINT, 30)
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer(_Service):
    """A throw-away ``redis-server`` on ``127.0.0.1:<port>`` without persistence."""

    def __init__(self, root: Path, port: int) -> None:
        """Prepare (not start) a server; use :meth:`start`."""
        self.root = root
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs."""
        return None if self.process is None else self.process.pid

    @classmethod
    def start(cls, *, port: int | None = None, timeout: float = 20.0) -> RedisServer:
        """Start a server in a temp directory on a free (or the given) port."""
        ensure_installed(postgres=False)
        server = cls(Path(tempfile.mkdtemp(prefix="pleo-erp-redis-")), port or free_port())
        server.restart(timeout=timeout)
        return server

    def restart(self, *, timeout: float = 20.0) -> None:
        """(Re)start on the same port; everything queued in memory is gone (chaos tests)."""
        self.kill()
        binary = shutil.which("redis-server")
        if binary is None:  # pragma: no cover - ensure_installed checked
            raise ServiceUnavailable("redis-server not found")
        argv: Sequence[str] = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "no",
            "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=self.root)
        _wait_port(self.port, self.process, "redis-server", timeout)

    def kill(self) -> None:
        """SIGKILL the server by PID (queued messages are lost)."""
        if self.process is not None:
            _stop_pid(self.process, signal.SIGKILL, 10)
            self.process = None

    def stop(self) -> None:
        """SIGTERM the server by PID and delete its directory."""
        if self.process is not None:
            _stop_pid(self.process, signal.SIGTERM, 10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running(*, redis: bool = True) -> Iterator[tuple[PostgresServer, RedisServer | None]]:
    """PostgreSQL (and Redis) for the block; both stopped by PID afterwards."""
    with PostgresServer.start() as pg:
        if not redis:
            yield pg, None
            return
        with RedisServer.start() as broker:
            yield pg, broker


def main() -> int:
    """Start both servers, print their URLs, serve until Ctrl-C/SIGTERM."""
    stop = {"flag": False}

    def _stop(*_: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    with running() as (pg, broker):
        assert broker is not None
        print(f"PLEO_ERP_STATE={pg.url}", flush=True)
        print(f"PLEO_ERP_BROKER={broker.url}", flush=True)
        try:
            while not stop["flag"]:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
