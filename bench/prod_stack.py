"""The production process set-up of docker-compose.yml, run on this machine without Docker.

    .venv/bin/python -m bench.prod_stack [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]

It starts what the compose file starts, configured by environment variables only, with
DJANGO_ENV=production:

* a Redis of its own (redis-server on a free loopback port, the compose `redis` service) and a
  fresh PostgreSQL database `sd_prodstack_<random>` on the given server (the `postgres` service);
* `manage.py migrate` (the `migrate` service) and `manage.py collectstatic` into a temporary
  STATIC_ROOT (what the Dockerfile does at build time), served by WhiteNoise;
* gunicorn serving `servicedesk.wsgi` (the `web` service), two Celery workers (`worker`, scaled to
  2) and exactly one beat with the DatabaseScheduler (`beat`).

Then it checks, each within a bounded wait: /healthz says database ok and broker ok; both workers
answer `celery inspect ping` (the compose health check); an employee signs in for a token and files
a ticket over the API, and a worker mails the provider's staff (file email backend); the login
page's stylesheet is served with far-future caching; beat's SLA sweep fires for a ticket that is
overdue (an Escalation row appears). Finally it stops every process with SIGTERM (they must exit
by themselves: warm shutdown), drops the database and prints a JSON report. Exit status 0 when
every check passed. tests/faults/test_production_stack.py runs it.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
WAIT = 90.0  # seconds: the bound on every wait
MAIL_SEPARATOR = b"-" * 79 + b"\n"

# Seeds the minimum a first check needs, through the app's own services: IT (an agent and its
# head) serving HR (an employee), China's calendar for this year, an SLA policy, and one ticket
# filed three days ago whose SLA steps are all overdue. The SLA sweep's schedule is marked as last
# run long ago, so beat fires it as soon as it starts instead of a minute later.
SEED = """\
import json, sys
from datetime import timedelta

import django

django.setup()
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from departments.models import Department, Membership, User
from slas.calendars import import_china_years
from slas.policies import save_policy
from tickets import services
from tickets.models import Service

password = sys.argv[1]
now = timezone.now()
it = Department.objects.create(name="信息技术部", code="IT")
hr = Department.objects.create(name="人力资源部", code="HR")
for username, role in (("agent", "agent"), ("ithead", "head")):
    user = User.objects.create_user(username, f"{username}@example.com", password, department=it)
    Membership.objects.create(user=user, department=it, role=role)
employee = User.objects.create_user("employee", "employee@example.com", password, department=hr)
calendar, _years = import_china_years(years=[now.year])
it.default_sla_policy = save_policy(
    name="IT 标准服务",
    calendar=calendar,
    targets={p: {"response": 60, "resolution": 480} for p in ("urgent", "high", "normal", "low")},
    warning_percent=75,
    ladder=[{"at_percent": 100, "notify": "department_head"}],
)
it.save(update_fields=["default_sla_policy"])
service = Service.objects.create(department=it, name="笔记本电脑申请", category="硬件")
with services.notifications_muted():
    overdue = services.file_ticket(
        requester=employee, service=service, title="三天前的请求", at=now - timedelta(days=3)
    )
swept = PeriodicTask.objects.filter(task="slas.tasks.escalate_due_tickets")
assert swept.count() == 1, "the SLA sweep's schedule is missing (slas migration 0003)"
swept.update(last_run_at=now - timedelta(days=1))
print(json.dumps({"service": service.pk, "overdue_ticket": overdue.pk}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, what: str, timeout: float = WAIT) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


class Process:
    """A service's process, in its own session, logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(  # noqa: S603 - our own command lines
                args, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.tail()}")

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait; returns the exit status, or None if it had to be SIGKILLed."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            status: int | None = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # whatever is left of the group
        if status is None:
            self.popen.wait(timeout=10)
        return status

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(  # noqa: S603 - our own command lines
        args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def mail_messages(directory: Path) -> list[bytes]:
    chunks = []
    for path in sorted(directory.glob("*.log")):
        chunks += [c for c in path.read_bytes().split(MAIL_SEPARATOR) if c.strip()]
    return chunks


@contextlib.contextmanager
def database(server_url: str) -> Iterator[str]:
    name = f"sd_prodstack_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_stack(postgres_url: str, workdir: Path, workers: int = 2) -> dict[str, Any]:
    """Start the stack, run the checks, stop it; returns the report (raises if a check fails)."""
    report: dict[str, Any] = {"checks": {}}
    logs, mail, static, media = (workdir / d for d in ("logs", "mail", "static", "media"))
    for directory in (logs, mail, media):
        directory.mkdir(parents=True, exist_ok=True)
    processes: list[Process] = []
    started = time.monotonic()
    with database(postgres_url) as database_url:
        redis_port = free_port()
        processes.append(
            Process(
                "redis",
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(workdir)],
                dict(os.environ),
                logs,
            )
        )  # fmt: skip
        web_port = free_port()
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            DJANGO_SETTINGS_MODULE="servicedesk.settings",
            DJANGO_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            CONN_MAX_AGE="60",
            SITE_URL=f"http://127.0.0.1:{web_port}",
            SECURE_SSL_REDIRECT="false",  # TLS ends at the proxy in front (compose default)
            EMAIL_URL=f"filemail:///{mail}",
            STATIC_ROOT=str(static),
            MEDIA_ROOT=str(media),
            PYTHONUNBUFFERED="1",
        )
        password = secrets.token_urlsafe(12)
        try:
            wait_until(lambda: _redis_ping(redis_port), what="redis", timeout=15)
            # The `migrate` service, then the Dockerfile's collectstatic.
            run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
            run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env)
            seed = json.loads(run([sys.executable, "-c", SEED, password], env).splitlines()[-1])
            report["setup_seconds"] = round(time.monotonic() - started, 1)

            celery = [sys.executable, "-m", "celery", "-A", "servicedesk"]
            processes.append(
                Process(
                    "web",
                    [sys.executable, "-m", "gunicorn", "servicedesk.wsgi:application",
                     "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
                     "--access-logfile", "-"],
                    env,
                    logs,
                )
            )  # fmt: skip
            worker_names = [f"worker{n}@prodstack" for n in range(1, workers + 1)]
            for n, node in enumerate(worker_names, start=1):
                processes.append(
                    Process(f"worker{n}", [*celery, "worker", "--loglevel=INFO",
                                           "--concurrency=2", "-n", node], env, logs)
                )  # fmt: skip
            processes.append(
                Process(
                    "beat",
                    [*celery, "beat", "--loglevel=INFO",
                     "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
                    env,
                    logs,
                )
            )  # fmt: skip
            base = f"http://127.0.0.1:{web_port}"
            report["checks"] = _check(base, env, seed, password, mail, worker_names, processes)
            report["checks"]["database"] = database_url.rsplit("/", 1)[-1]
        finally:
            exits = {p.name: p.terminate() for p in reversed(processes)}
            report["exit_status"] = exits
            report["logs"] = {p.name: p.tail()[-1500:] for p in processes if p.name != "redis"}
    report["total_seconds"] = round(time.monotonic() - started, 1)
    return report


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _check(
    base: str,
    env: dict[str, str],
    seed: dict[str, int],
    password: str,
    mail: Path,
    worker_names: list[str],
    processes: list[Process],
) -> dict[str, Any]:
    checks: dict[str, Any] = {}

    def healthy() -> dict[str, Any] | None:
        for process in processes:
            process.check()
        try:
            response = requests.get(f"{base}/healthz", timeout=10)
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    t0 = time.monotonic()
    wait_until(healthy, what="/healthz to report ok")
    checks["healthz"] = healthy()
    checks["web_ready_seconds"] = round(time.monotonic() - t0, 1)

    # The compose health check of a worker, for each of them.
    def pinged() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "servicedesk", "inspect", "ping",
             "--timeout", "5"],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        answered = sorted(set(re.findall(r"(worker\d+@prodstack): OK", result.stdout)))
        return answered if answered == sorted(worker_names) else []

    answering: list[str] = []

    def all_answer() -> bool:
        answering[:] = pinged()
        return bool(answering)

    wait_until(all_answer, what="every worker to answer a ping")
    checks["workers_answering"] = answering

    # An employee signs in and files a ticket; a worker mails IT's agent and head.
    token = requests.post(
        f"{base}/api/v1/auth/token/",
        json={"username": "employee", "password": password},
        timeout=30,
    ).json()["token"]
    filed = requests.post(
        f"{base}/api/v1/tickets/",
        json={"service": seed["service"], "title": "新员工电脑", "description": "下周一入职"},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    if filed.status_code != 201:
        raise AssertionError(f"filing answered {filed.status_code}: {filed.text[:500]}")
    reference = filed.json()["reference"]
    checks["ticket_filed"] = reference

    def mailed() -> list[bytes]:
        return [m for m in mail_messages(mail) if reference.encode() in m]

    checks["mail_seconds"] = round(
        wait_until(lambda: len(mailed()) >= 2, what=f"the emails about {reference}"), 1
    )
    time.sleep(1.0)  # a duplicate would show up now
    recipients = sorted(
        re.search(rb"^To: (.+)$", m, re.MULTILINE)[1].decode().strip() for m in mailed()
    )
    checks["mailed_to"] = recipients
    if recipients != ["agent@example.com", "ithead@example.com"]:
        raise AssertionError(f"the ticket was mailed to {recipients}")

    # WhiteNoise serves the collected, hashed stylesheet the login page links to.
    page = requests.get(f"{base}/accounts/login/", timeout=30)
    stylesheets = re.findall(r'<link[^>]+href="(/static/[^"]+\.css)"', page.text)
    if page.status_code != 200 or not stylesheets:
        raise AssertionError(f"login page {page.status_code} links no stylesheet")
    css = requests.get(f"{base}{stylesheets[0]}", timeout=30)
    checks["static"] = {
        "url": stylesheets[0],
        "status": css.status_code,
        "content_type": css.headers.get("Content-Type", ""),
        "cache_control": css.headers.get("Cache-Control", ""),
        "bytes": len(css.content),
    }
    if css.status_code != 200 or "text/css" not in checks["static"]["content_type"]:
        raise AssertionError(f"stylesheet not served: {checks['static']}")

    # Beat's SLA sweep fires for the overdue ticket.
    def escalations() -> int:
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            return conn.execute(
                "SELECT count(*) FROM slas_escalation WHERE ticket_id = %s",
                [seed["overdue_ticket"]],
            ).fetchone()[0]

    checks["sla_sweep_seconds"] = round(wait_until(escalations, what="beat's SLA sweep"), 1)
    checks["escalations"] = escalations()
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a PostgreSQL server where a database may be created (and dropped afterwards)",
    )
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sd-prodstack-") as workdir:
        try:
            report = production_stack(options.postgres_url, Path(workdir), options.workers)
        except Exception as error:  # print what happened, then fail
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
    report.pop("logs", None)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
