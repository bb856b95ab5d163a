"""Policies and calendars a process keeps between requests (slas.config_cache) follow every edit:
one made by another process, one rolled back; the version comes with a request's user, is read
once per request, and needs no Redis.

Calendar: China's official 2025 schedule, Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai;
Sun 28 Sep 2025 is a make-up working day. Normal priority: resolve within 480 business minutes.
"""

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction

from slas import config_cache
from slas.calendars import import_china_years, update_day
from slas.clocks import ClockContext
from slas.models import SlaPolicy
from tests.faults.processes import BASE_DIR, app_env, free_port, subprocess_database_url
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SH = ZoneInfo("Asia/Shanghai")
TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 120, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}
FRIDAY_5PM = datetime(2025, 9, 26, 17, 0, tzinfo=SH)
MAKE_UP_SUNDAY_5PM = datetime(2025, 9, 28, 17, 0, tzinfo=SH)  # Fri 17–18, Sun 09–12, 13–17
MONDAY_5PM = datetime(2025, 9, 29, 17, 0, tzinfo=SH)  # the Sunday closed: Mon 09–12, 13–17


@pytest.fixture
def policy(company) -> SlaPolicy:
    calendar, _years = import_china_years(years=[2025])
    policy = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=TARGETS)
    company.it.default_sla_policy = policy
    company.it.save()
    return policy


def file_friday_5pm(company) -> Ticket:
    with time_machine.travel(FRIDAY_5PM, tick=False):
        return services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="显示器坏了",
            priority="normal",
            form_data={"model": "14寸"},
        )


def test_a_calendar_edit_in_another_process_is_used_by_the_next_filing(
    company, policy, django_assert_num_queries, tmp_path
):
    assert file_friday_5pm(company).resolution_due_at == MAKE_UP_SUNDAY_5PM
    ClockContext.of_policy(policy.pk)
    with django_assert_num_queries(1):  # kept: the version only, no policy or calendar query
        assert ClockContext.of_policy(policy.pk).policy.name == "标准"

    sunday = policy.calendar.days.get(date="2025-09-28")
    env = app_env(
        database_url=subprocess_database_url(),
        redis_url=settings.CACHES["default"]["LOCATION"],
        mail_dir=tmp_path,
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
    )
    edit = (
        "from slas.calendars import update_day; from slas.models import CalendarDay; "
        f"update_day(day=CalendarDay.objects.get(pk={sunday.pk}), kind='closed')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", edit], cwd=BASE_DIR, env=env, check=True
    )

    assert file_friday_5pm(company).resolution_due_at == MONDAY_5PM


def test_an_edit_rolled_back_is_never_served(company, policy):
    assert file_friday_5pm(company).resolution_due_at == MAKE_UP_SUNDAY_5PM
    sunday = policy.calendar.days.get(date="2025-09-28")
    with pytest.raises(RuntimeError), transaction.atomic():
        update_day(day=sunday, kind="closed")
        assert file_friday_5pm(company).resolution_due_at == MONDAY_5PM  # its own edit
        raise RuntimeError("the admin's request failed")
    assert file_friday_5pm(company).resolution_due_at == MAKE_UP_SUNDAY_5PM


def test_a_request_reads_the_version_once_and_forgets_it_at_its_end(
    company, policy, django_assert_num_queries
):
    from django.core.signals import request_finished, request_started

    request_started.send(sender=None)
    with django_assert_num_queries(1):
        first = config_cache.version()
        assert config_cache.version() == first
    advance_in_another_session()
    assert config_cache.version() == first  # this request's
    request_finished.send(sender=None)
    assert config_cache.version() != first  # a task (no request) reads it at each use


def advance_in_another_session() -> None:
    """What another process's committed edit does to the version."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT nextval('slas_config_version')")


def test_the_version_comes_with_the_api_users_query_and_a_kept_policy_costs_no_query(
    company, policy
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    ticket = file_friday_5pm(company)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=company.agent).key}")
    path = f"/api/v1/tickets/{ticket.pk}/"
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).json()["resolution_remaining_minutes"] is not None
    sqls = [query["sql"] for query in captured.captured_queries]
    assert len(sqls) == 2, sqls  # the token (roles, version), the ticket
    assert "slas_config_version" in sqls[0]
    assert not any("slas_slapolicy" in sql or "slas_calendarday" in sql for sql in sqls)

    advance_in_another_session()  # another process edited the configuration
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    assert any("slas_slapolicy" in query["sql"] for query in captured.captured_queries)


def test_with_redis_unreachable_policies_are_still_kept_and_edits_seen(
    company, policy, settings, django_assert_num_queries
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "KEY_PREFIX": "sd",
        }
    }
    assert file_friday_5pm(company).resolution_due_at == MAKE_UP_SUNDAY_5PM
    ClockContext.of_policy(policy.pk)
    with django_assert_num_queries(1):  # the version; the policy and calendar are kept
        ClockContext.of_policy(policy.pk)
    sunday = policy.calendar.days.get(date="2025-09-28")
    update_day(day=sunday, kind="closed")
    assert file_friday_5pm(company).resolution_due_at == MONDAY_5PM
