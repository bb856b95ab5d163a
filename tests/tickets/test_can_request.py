"""Who may file to a service (DESIGN: a service's consumer departments, empty = everyone; only
active services of active departments). Filing asks `selectors.can_request` for the one service
it loaded; the catalog lists `selectors.requestable_services`: the two must always agree."""

import pytest

from tests.factories import DepartmentFactory, ServiceFactory, UserFactory
from tickets import selectors
from tickets.models import Service

pytestmark = pytest.mark.django_db


def may_file(user, service: Service) -> bool:
    loaded = Service.objects.select_related("department").get(pk=service.pk)  # as filing does
    allowed = selectors.can_request(user, loaded)
    assert allowed == selectors.requestable_services(user).filter(pk=service.pk).exists()
    return allowed


def test_a_service_without_consumer_departments_is_open_to_everyone(company):
    homeless = UserFactory(department=None)
    assert may_file(company.requester, company.service)
    assert may_file(company.agent, company.service)
    assert may_file(homeless, company.service)


def test_a_service_with_consumer_departments_is_open_to_those_only(company):
    payroll = ServiceFactory(department=company.it)
    payroll.allowed_consumers.set([company.finance, company.it])
    finance_employee = UserFactory(department=company.finance)
    homeless = UserFactory(department=None)
    assert may_file(finance_employee, payroll)
    assert may_file(company.agent, payroll)  # IT is a consumer too
    assert not may_file(company.requester, payroll)  # HR is not
    assert not may_file(homeless, payroll)


def test_an_inactive_service_or_department_takes_no_requests(company):
    retired = ServiceFactory(department=company.it, is_active=False)
    closed_department = DepartmentFactory(is_active=False)
    orphan = ServiceFactory(department=closed_department)
    assert not may_file(company.requester, retired)
    assert not may_file(company.requester, orphan)


def test_checking_a_loaded_service_costs_one_query(company, django_assert_num_queries):
    payroll = ServiceFactory(department=company.it)
    payroll.allowed_consumers.set([company.hr])
    loaded = Service.objects.select_related("department").get(pk=payroll.pk)
    with django_assert_num_queries(1):
        assert selectors.can_request(company.requester, loaded)
