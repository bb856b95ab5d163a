"""Fixtures for the abuse tests: a realistic company loaded once per module, signed-in clients."""

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

DEMO_TICKETS = 40


@pytest.fixture(scope="module")
def demo_company(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo company (departments, services, policies, tickets with timelines), loaded once
    for the module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo_data", tickets=DEMO_TICKETS, seed=7, stdout=StringIO())
        yield
        transaction.set_rollback(True)
