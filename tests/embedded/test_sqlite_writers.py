"""The embedded set-up (`./dev run`: SQLite, web + worker + beat as separate processes) lets
writers that first read wait for each other instead of failing: two processes running
read-then-write transactions at once all commit (seen before: a Celery task failing at once
with "database is locked" while another wrote). And what is written for PostgreSQL alone has
its SQLite form: ordering by rank."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.faults.processes import BASE_DIR

WRITER = r"""
import os, sys, time
import django
django.setup()
from django.conf import settings
from django.db import transaction
if sys.argv[1] != "settings":  # the failure this guards against, for the test's own check
    settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] = sys.argv[1]
from slas.models import BusinessCalendar
# Both writers start together: on a loaded machine one process's start-up could outlast the
# other's whole loop, and then nothing overlapped.
gate = sys.argv[2]
open(os.path.join(gate, str(os.getpid())), "w").close()
for _ in range(600):
    if len(os.listdir(gate)) >= 2:
        break
    time.sleep(0.05)
for i in range(40):
    with transaction.atomic():
        BusinessCalendar.objects.count()  # a read first: the transaction holds a shared lock
        time.sleep(0.005)
        BusinessCalendar.objects.create(name=f"{os.getpid()}-{i}")
print("ok")
"""


def _environment(database: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)}
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "servicedesk.settings",
        "PYTHONPATH": str(BASE_DIR),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _writers(env: dict[str, str], mode: str) -> list[subprocess.CompletedProcess]:
    with tempfile.TemporaryDirectory(prefix="writers-") as gate:
        processes = [
            subprocess.Popen(  # noqa: S603 - our interpreter and script
                [sys.executable, "-c", WRITER, mode, gate],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> dict[str, str]:
    database = tmp_path_factory.mktemp("embedded") / "servicedesk.sqlite3"
    env = _environment(database)
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    return env


# The start of a script: Django set up, and a small desk (IT serves HR; an agent of IT, a
# requester of HR, one service), for a script that then imports what it needs.
SMALL_DESK = r"""
import django

django.setup()
from django.conf import settings

from departments.models import Department, Membership, User
from tickets.models import Service

settings.ALLOWED_HOSTS = ["*"]
it = Department.objects.create(name="信息技术部", code="IT")
hr = Department.objects.create(name="人力资源部", code="HR")
agent = User.objects.create(username="agent", department=it)
Membership.objects.create(user=agent, department=it, role=Membership.Role.AGENT)
requester = User.objects.create(username="requester", department=hr)
service = Service.objects.create(department=it, name="电脑")
"""


def run_script(script: str, env: dict[str, str]) -> list[str]:
    """Run `script` in a fresh interpreter on the `migrated` database: the lines it printed
    (it must succeed)."""
    done = subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2500:]
    return done.stdout.strip().splitlines()


def run_ok(script: str, env: dict[str, str]) -> None:
    """`run_script`, which must end printing ok."""
    assert run_script(script, env)[-1] == "ok"


def test_concurrent_read_then_write_transactions_all_commit(migrated):
    results = _writers(migrated, "settings")
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-600:] for r in results]
    assert all(r.stdout.strip() == "ok" for r in results)


def test_without_immediate_transactions_one_writer_fails(migrated):
    """The check above can fail: with SQLite's default (deferred) transactions, one of the two
    is refused at once."""
    results = _writers(migrated, "DEFERRED")
    assert any("database is locked" in r.stderr for r in results), [r.returncode for r in results]


RANKS = r"""
import django

django.setup()
from django.utils import timezone

from departments.models import Department, User
from tickets.models import Service, Ticket
from tickets.ranks import Rank

it = Department.objects.create(name="信息技术部", code="IT")
someone = User.objects.create(username="someone", department=it)
service = Service.objects.create(department=it, name="电脑")
for number, (priority, status) in enumerate(
    [("low", "waiting"), ("urgent", "closed"), ("normal", "new"), ("high", "assigned")]
):
    Ticket.objects.create(
        reference=f"IT-2026-{number:06}", title="排序", service=service, provider_department=it,
        requester=someone, requester_department=it, priority=priority, status=status,
        created_at=timezone.now(),
    )
for column in ("priority", "status"):
    ranked = Ticket.objects.annotate(rank=Rank(column)).order_by("rank", "id")
    print(column, " ".join(ranked.values_list(column, flat=True)))
"""


def test_priority_and_status_order_by_rank_on_sqlite(migrated):
    """tickets.ranks writes the ranks as CASE where PostgreSQL's rank functions do not exist
    (the queue's priority sort and the API's ?ordering=priority|status)."""
    assert run_script(RANKS, migrated) == [
        "priority urgent high normal low",
        "status new assigned waiting closed",
    ]
