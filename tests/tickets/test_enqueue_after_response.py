"""A request's ticket emails are published to the broker (Redis) after its response is sent, not
while the user waits; outside a request (a task, a command) at commit, as before; and the
email still reaches a real worker once."""

import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.core.signals import request_finished, request_started
from rest_framework.test import APIClient

from servicedesk.celery import app
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


def queued() -> int:
    """Messages waiting in the default queue of the real broker."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return client.llen(app.conf.task_default_queue)


def file(company):
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="打印机卡纸",
        form_data={"model": "14寸"},
    )


def test_a_requests_notification_is_published_once_its_response_is_sent(company):
    app.control.purge()
    request_started.send(sender=None)
    file(company)  # committed: the on-commit enqueue ran
    assert queued() == 0
    request_finished.send(sender=None)  # the response is closed
    assert queued() == 1
    request_finished.send(sender=None)  # nothing left to publish twice
    assert queued() == 1


def test_outside_a_request_it_is_published_at_commit(company):
    app.control.purge()
    file(company)
    assert queued() == 1


def test_an_api_filing_still_mails_through_a_worker(company):
    app.control.purge()
    client = APIClient()
    client.force_authenticate(company.requester)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = client.post(
            "/api/v1/tickets/",
            {"service": company.service.pk, "title": "显示器坏了", "form_data": {"model": "14寸"}},
            format="json",
        )
        assert response.status_code == 201, response.content
        deadline = time.monotonic() + 10
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.05)
    assert mail.outbox and "显示器坏了" in mail.outbox[0].subject
