"""Real processes for the fault tests: throwaway Redis and PostgreSQL servers on their own loopback
ports, gunicorn and Celery subprocesses pointed at them, and the file-based mailbox they write.

Nothing here touches the shared PostgreSQL (5432) or Redis (6379): a test that stops or restarts a
server starts its own. Every wait is bounded; every process is started in its own session so it
can be stopped (SIGTERM, then SIGKILL) as a group.
"""

import contextlib
import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import requests
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAIT = 60.0  # seconds: the bound on every wait unless a test says otherwise
MAIL_SEPARATOR = b"-" * 79 + b"\n"  # the file-based email backend ends each message with it


def wait_until(
    predicate: Callable[[], object], *, what: str, timeout: float = WAIT, interval: float = 0.05
) -> float:
    """Poll until `predicate()` is true; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_database_url() -> str:
    """The pytest test database as a URL a subprocess can use."""
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_env(*, database_url: str, redis_url: str, mail_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a web/worker/beat subprocess: settings from variables only, as deployed."""
    dropped = ("DJANGO_", "CELERY_", "PYTEST", "TEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    for name in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_BACKEND", "DEBUG", "SECRET_KEY"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="servicedesk.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        EMAIL_URL=f"filemail:///{mail_dir}",  # EMAIL_FILE_PATH is the absolute path
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """A subprocess in its own session, logging to a file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                args,
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group (a warm shutdown), SIGKILL what is left after `timeout`."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):  # stray children of the group
            os.killpg(self.process.pid, signal.SIGKILL)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def check_alive(self, what: str) -> None:
        if not self.alive():
            raise AssertionError(f"{what} exited early:\n{self.tail()}")


# -- Redis ---------------------------------------------------------------------------------------


class ThrowawayRedis:
    """A redis-server of the test's own on a free loopback port (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.workdir = workdir
        self.proc: Proc | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.proc = Proc(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            env=dict(os.environ),
            log=self.workdir / "redis.log",
        )
        wait_until(self.ping, what=f"redis on port {self.port}", timeout=15)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=10)
            self.proc = None
        wait_until(lambda: not self.ping(), what="redis to stop", timeout=10)


# -- PostgreSQL ----------------------------------------------------------------------------------


def postgres_unavailable_reason() -> str | None:
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN}"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to drop to the postgres user"
    return None


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (initdb into a temporary directory, trust auth on
    loopback only), which a test may stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sd-fault-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres")
        self._run(
            PG_BIN / "initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def _run(self, *args: object, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.dir / "server.log",
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def create_database(self, name: str) -> None:
        self._run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", name)

    def running(self) -> bool:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# -- The application's processes -----------------------------------------------------------------


def start_gunicorn(
    *, env: dict[str, str], log: Path, processes: list[Proc], workers: int = 2
) -> tuple[Proc, str]:
    """gunicorn serving servicedesk.wsgi; returns the process and its base URL once it answers.

    The process goes into `processes` at once, so the test's teardown stops it whatever happens.
    """
    port = free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "servicedesk.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
        ],
        env=env,
        log=log,
    )
    processes.append(proc)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        proc.check_alive("gunicorn")
        try:
            requests.get(f"{base}/healthz", timeout=30)
        except (requests.ConnectionError, requests.Timeout):
            return False
        return True

    wait_until(answers, what="gunicorn to answer", timeout=WAIT, interval=0.2)
    return proc, base


def start_worker(
    *, env: dict[str, str], log: Path, processes: list[Proc], concurrency: int = 2
) -> tuple[Proc, str]:
    """A prefork Celery worker on the default queue; returns it once it logs that it is ready."""
    name = f"fault-{uuid.uuid4().hex[:8]}@localhost"
    proc = Proc(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "servicedesk",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        env=env,
        log=log,
    )
    processes.append(proc)
    return proc, name


def wait_worker_ready(proc: Proc, name: str, *, since: int = 0) -> None:
    def ready() -> bool:
        proc.check_alive(f"worker {name}")
        text = proc.log.read_bytes()[since:].decode(errors="replace")
        return f"{name} ready." in text

    wait_until(ready, what=f"worker {name} to be ready", interval=0.2)


# -- Mail written by the file-based backend -------------------------------------------------------


def sent_mail(directory: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def mail_count(directory: Path) -> int:
    return sum(path.read_bytes().count(MAIL_SEPARATOR) for path in directory.glob("*.log"))
