"""Shared fixtures: a small company with a provider (IT) and a consumer (HR) department."""

import contextlib
import importlib
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from departments.models import Department, Membership, User
from tests.factories import DepartmentFactory, ServiceFactory, UserFactory, make_member
from tickets.models import Service


@pytest.fixture(autouse=True)
def _media_cache_and_hashing(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Fixtures create many users; the production hasher would dominate the run.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # to check hashes made before
    ]
    from django.core.cache import cache

    from tickets import search

    cache.clear()
    # No pair or department statistics: which step a search takes first does not depend on
    # what autovacuum analyzed of earlier tests' tickets (tests/tickets/test_search.py reads
    # them on purpose).
    search._pair_statistics = (float("inf"), None)
    search._department_statistics = (float("inf"), None)
    yield


@pytest.fixture(scope="session", autouse=True)
def _empty_task_queue():
    """Tests that commit enqueue notification tasks; leave no backlog in the test broker."""
    yield
    from servicedesk.celery import app

    with contextlib.suppress(Exception):  # broker already gone: nothing to clean
        app.control.purge()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database is built from the models (--no-migrations); the SQL functions and
    indexes of the title search (tickets 0009, 0014) and rank ordering (0011) and the SLA
    configuration's version sequence (slas 0006) are no model's, so those migrations' steps
    run here."""
    from django.db import connection

    title_search = importlib.import_module("tickets.migrations.0009_title_search")
    title_characters = importlib.import_module("tickets.migrations.0014_title_single_characters")
    rank_ordering = importlib.import_module("tickets.migrations.0011_rank_ordering")
    config_version = importlib.import_module("slas.migrations.0006_config_version_sequence")
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        title_search.create_bigram_index(None, editor)
        title_characters.create_grams_index(None, editor)
        rank_ordering.create_rank_indexes(None, editor)
        config_version.create(None, editor)


@dataclass
class Company:
    it: Department
    hr: Department
    finance: Department
    service: Service
    requester: User  # employee of HR
    other_employee: User  # another employee of HR, not head
    hr_head: User  # head of HR (sees HR's tickets as consumer)
    agent: User  # agent of IT
    agent2: User  # second agent of IT
    it_head: User  # head of IT
    finance_agent: User  # agent of another provider


@pytest.fixture
def company(db) -> Company:
    it = DepartmentFactory(name="信息技术部", code="IT")
    hr = DepartmentFactory(name="人力资源部", code="HR")
    finance = DepartmentFactory(name="财务部", code="FIN")
    service = ServiceFactory(
        department=it,
        name="笔记本电脑申请",
        form_schema=[
            {
                "key": "model",
                "label": "型号",
                "type": "choice",
                "choices": ["14寸", "16寸"],
                "required": True,
            },
            {"key": "needed_by", "label": "需要日期", "type": "date", "required": False},
            {"key": "count", "label": "数量", "type": "number", "required": False},
        ],
    )
    requester = UserFactory(username="requester", department=hr)
    other_employee = UserFactory(username="other", department=hr)
    hr_head = UserFactory(username="hrhead", department=hr)
    Membership.objects.update_or_create(
        user=hr_head, department=hr, defaults={"role": Membership.Role.HEAD}
    )
    agent = make_member(it, Membership.Role.AGENT, username="agent", department=it)
    agent2 = make_member(it, Membership.Role.AGENT, username="agent2", department=it)
    it_head = make_member(it, Membership.Role.HEAD, username="ithead", department=it)
    finance_agent = make_member(
        finance, Membership.Role.AGENT, username="finagent", department=finance
    )
    return Company(
        it,
        hr,
        finance,
        service,
        requester,
        other_employee,
        hr_head,
        agent,
        agent2,
        it_head,
        finance_agent,
    )


@pytest.fixture
def api():
    """Make an APIClient authenticated as a user (session-less, like an external client)."""

    def _client(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return _client
