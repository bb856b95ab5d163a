"""Filing through the API reads the service (with its department and consumer departments) and
the SLA policy it gets from this process's copies (slas.config_cache) while nothing changed
(issue #6); every edit of the service, its department or its consumers, made in another
process, reaches the next filing; the errors are DRF's; the response is TicketSerializer's.

Calendar: China's official 2025 schedule, Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai.
Filed Mon 22 Sep 2025 09:00: "标准" answers within 120 and resolves within 480 business minutes
(11:00, 18:00 that day); "快速" within 30 and 120 (09:30, 11:00).
"""

import subprocess
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from departments.models import User
from slas.calendars import import_china_years
from slas.models import SlaPolicy
from tests.faults.processes import BASE_DIR, app_env, subprocess_database_url
from tickets.models import Service, Ticket
from tickets.serializers import TicketSerializer

pytestmark = pytest.mark.django_db(transaction=True)

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9AM = datetime(2025, 9, 22, 9, 0, tzinfo=SH)
STANDARD = {p: {"response": 120, "resolution": 480} for p in ("urgent", "high", "normal", "low")}
FAST = {p: {"response": 30, "resolution": 120} for p in ("urgent", "high", "normal", "low")}
TICKETS = "/api/v1/tickets/"
# With the catalog and the policy kept: the SLA configuration's version (which an API token's
# query brings along; these clients are authenticated without one), BEGIN, the filing
# statement (the reference number, the ticket, its event, the SLA figures ledger entries and the
# ticket's row for the response: tickets.filing), COMMIT (the test's connection is in
# autocommit: filing is a transaction of its own, not a savepoint).
FILE_QUERIES_KEPT = 4
# A first move by an agent: the agent's roles, the visible ticket, BEGIN, the ticket locked, two
# events (status, first response), the SLA configuration's version, the fired SLA steps, the
# ticket update, the ledger entries, COMMIT, the ticket row.
TRANSITION_QUERIES_KEPT = 12


@pytest.fixture
def policies(company) -> tuple[SlaPolicy, SlaPolicy]:
    calendar, _years = import_china_years(years=[2025])
    standard = SlaPolicy.objects.create(name="标准", calendar=calendar, targets=STANDARD)
    fast = SlaPolicy.objects.create(name="快速", calendar=calendar, targets=FAST)
    company.it.default_sla_policy = standard
    company.it.save()
    return standard, fast


def file(api, user: User, service: Any, **extra: Any) -> Any:
    """POST a ticket to `service` (an id, or what a client may send instead)."""
    body = {"service": service, "title": "显示器坏了", "form_data": {"model": "14寸"}, **extra}
    with time_machine.travel(MONDAY_9AM, tick=False):
        return api(user).post(TICKETS, body, format="json")


def in_another_process(code: str, tmp_path) -> None:
    """Run `code` in a `manage.py shell` of its own (another web or worker process)."""
    env = app_env(
        database_url=subprocess_database_url(),
        redis_url=settings.CACHES["default"]["LOCATION"],
        mail_dir=tmp_path,
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env, check=True
    )


def test_filing_with_the_catalog_kept_costs_a_pinned_number_of_queries(company, api, policies):
    first = file(api, company.requester, company.service.pk).json()  # loads the copies
    moved = api(company.agent).post(  # loads the policy by its id
        f"{TICKETS}{first['id']}/transitions/", {"status": "in_progress"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    with CaptureQueriesContext(connection) as queries:
        response = file(api, company.requester, company.service.pk)
    assert response.status_code == 201, response.content
    assert len(queries) == FILE_QUERIES_KEPT, "\n".join(q["sql"][:90] for q in queries)
    filed = response.json()
    assert filed["sla_policy"] == policies[0].pk
    assert filed["resolution_due_at"] == "2025-09-22T18:00:00+08:00"

    url = f"{TICKETS}{filed['id']}/transitions/"
    agent = api(User.objects.get(pk=company.agent.pk))  # no role cache carried between requests
    with CaptureQueriesContext(connection) as queries:
        moved = agent.post(url, {"status": "in_progress"}, format="json")
    assert moved.status_code == 200, moved.content
    assert len(queries) == TRANSITION_QUERIES_KEPT, "\n".join(q["sql"][:90] for q in queries)
    assert moved.json()["first_response_at"] is not None


def test_names_edited_in_another_process_show_in_the_next_list(company, api, policies, tmp_path):
    """A ticket row's service name and department code come from the catalog's names the
    process keeps (selectors.catalog_names): a rename elsewhere shows at the next request, and
    a service added elsewhere is named at once."""
    file(api, company.requester, company.service.pk)
    listed = api(company.agent).get(TICKETS).json()["results"][0]
    assert (listed["service_name"], listed["provider_department_code"]) == (
        company.service.name,
        "IT",
    )
    in_another_process(
        "from tickets.models import Service; from departments.models import Department; "
        f"s = Service.objects.get(pk={company.service.pk}); s.name = '台式机维修'; s.save(); "
        f"d = Department.objects.get(pk={company.it.pk}); d.code = 'ITS'; d.save()",
        tmp_path,
    )
    listed = api(company.agent).get(TICKETS).json()["results"][0]
    assert (listed["service_name"], listed["provider_department_code"]) == ("台式机维修", "ITS")

    # Written without a signal (bulk_create): not announced, so the kept names lack it.
    (added,) = Service.objects.bulk_create([Service(department=company.it, name="新服务")])
    Ticket.objects.filter(service=company.service).update(service=added)
    listed = api(company.agent).get(TICKETS).json()["results"][0]
    assert listed["service_name"] == "新服务"  # an id not kept: the names read afresh


def test_edits_in_another_process_reach_the_next_filing(company, api, policies, tmp_path):
    standard, fast = policies
    assert file(api, company.requester, company.service.pk).json()["sla_policy"] == standard.pk

    in_another_process(
        "from tickets.models import Service; "
        f"s = Service.objects.get(pk={company.service.pk}); s.sla_policy_id = {fast.pk}; s.save()",
        tmp_path,
    )
    filed = file(api, company.requester, company.service.pk).json()
    assert (filed["sla_policy"], filed["response_due_at"]) == (
        fast.pk,
        "2025-09-22T09:30:00+08:00",
    )

    in_another_process(
        "from tickets.models import Service; "
        f"Service.objects.get(pk={company.service.pk}).allowed_consumers.set([{company.it.pk}])",
        tmp_path,
    )
    refused = file(api, company.requester, company.service.pk)  # HR may no longer ask
    assert refused.status_code == 400 and "service" in refused.json()["fields"], refused.content
    assert file(api, company.agent, company.service.pk).status_code == 201  # IT may

    in_another_process(
        "from departments.models import Department; "
        f"d = Department.objects.get(pk={company.it.pk}); d.is_active = False; d.save()",
        tmp_path,
    )
    refused = file(api, company.agent, company.service.pk)
    assert refused.status_code == 400 and "service" in refused.json()["fields"], refused.content


def test_a_service_edit_here_reaches_the_next_filing_at_once(company, api, policies):
    standard, fast = policies
    assert file(api, company.requester, company.service.pk).json()["sla_policy"] == standard.pk
    company.service.default_priority = "high"
    company.service.sla_policy = fast
    company.service.save()
    filed = file(api, company.requester, company.service.pk).json()
    assert (filed["sla_policy"], filed["priority"]) == (fast.pk, "high")


# What DRF's PrimaryKeyRelatedField answers (its documented messages), kept or not.
@pytest.mark.parametrize(
    "value",
    ["IT", True, 987654, "987654", None, [1], {"id": 1}, 2**70, -1, ""],
)
def test_a_bad_service_gets_the_errors_of_drf(company, api, policies, value):
    assert file(api, company.requester, company.service.pk).status_code == 201  # copies kept
    drf = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    with pytest.raises(serializers.ValidationError) as expected:
        drf.run_validation(value)
    response = file(api, company.requester, value)
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["service"] == [str(m) for m in expected.value.detail]


def test_a_service_id_as_text_is_the_service(company, api, policies):
    assert file(api, company.requester, company.service.pk).status_code == 201
    filed = file(api, company.requester, str(company.service.pk))
    assert filed.status_code == 201 and filed.json()["service"] == company.service.pk


def test_the_response_is_the_serializers_json_byte_for_byte(company, api, policies):
    assert file(api, company.requester, company.service.pk).status_code == 201
    response = file(api, company.requester, company.service.pk, form_data={"model": "16寸"})
    assert response.status_code == 201
    ticket = Ticket.objects.get(pk=response.json()["id"])
    with time_machine.travel(MONDAY_9AM, tick=False):
        expected = JSONRenderer().render(TicketSerializer(ticket).data)
    assert response.content == expected
