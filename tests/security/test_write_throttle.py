"""Writes are limited per user (THROTTLE_WRITE, a sliding window kept in Redis): beyond the rate
a write is refused with 429 and Retry-After, reads go on, other users are not affected, the window
slides, concurrent writes cannot slip past the limit, and an unreachable Redis lets writes through
(DESIGN §3: a Redis outage must not stop people filing tickets)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from servicedesk.throttling import WriteRateThrottle
from tests.conftest import Company
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


@pytest.fixture
def three_writes_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF reads rates into a class attribute at import time, so patch the class, not settings.
    monkeypatch.setattr(
        WriteRateThrottle,
        "THROTTLE_RATES",
        {**WriteRateThrottle.THROTTLE_RATES, "write": "3/min"},
    )


def file(client: APIClient, company: Company, title: str) -> object:
    body = {"service": company.service.pk, "title": title, "form_data": {"model": "14寸"}}
    return client.post(TICKETS, body, format="json")


def test_a_fourth_write_in_a_minute_is_refused_with_retry_after(
    company: Company, api, three_writes_a_minute: None
) -> None:
    client = api(company.requester)
    for number in range(3):
        assert file(client, company, f"第 {number} 个").status_code == 201
    refused = file(client, company, "第四个")
    assert refused.status_code == 429, refused.content
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert not Ticket.objects.filter(title="第四个").exists()
    # Reads are not limited, and another user still writes.
    assert client.get(TICKETS).status_code == 200
    assert file(api(company.other_employee), company, "别人的").status_code == 201


def test_the_write_window_slides(company: Company, api, three_writes_a_minute: None) -> None:
    client = api(company.requester)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert file(client, company, "一").status_code == 201
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert file(client, company, "二").status_code == 201
        assert file(client, company, "三").status_code == 201
        assert file(client, company, "四").status_code == 429
    # A minute after the first write, one more fits; the other two are still in the window.
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert file(client, company, "五").status_code == 201
        assert file(client, company, "六").status_code == 429
    assert set(Ticket.objects.values_list("title", flat=True)) == {"一", "二", "三", "五"}


def test_concurrent_writes_cannot_exceed_the_rate(
    company: Company, three_writes_a_minute: None
) -> None:
    request = APIRequestFactory().post(TICKETS)
    force_authenticate(request, user=company.requester)
    view = APIView()
    admitted: list[bool] = []
    barrier = threading.Barrier(12)

    def write() -> None:
        barrier.wait()
        admitted.append(WriteRateThrottle().allow_request(view.initialize_request(request), view))

    threads = [threading.Thread(target=write) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 3


def test_writes_go_through_when_redis_is_unreachable(
    company: Company, settings, three_writes_a_minute: None
) -> None:
    nothing_listens = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": nothing_listens},
    }
    request = APIRequestFactory().post(TICKETS)
    force_authenticate(request, user=company.requester)
    view = APIView()
    for _ in range(5):
        assert WriteRateThrottle().allow_request(view.initialize_request(request), view)
