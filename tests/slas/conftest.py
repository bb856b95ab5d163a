"""SLA fixtures: China's 2025 calendar, a policy with a warning and an escalation ladder, a parent
department above IT with its own head, and filing a ticket at a fixed instant."""

from collections.abc import Callable
from datetime import datetime

import pytest
import time_machine

from departments.models import Membership, User
from slas.calendars import import_china_years
from slas.models import BusinessCalendar, SlaPolicy
from slas.policies import save_policy
from tests.factories import DepartmentFactory, make_member
from tickets import services
from tickets.models import Ticket

# Business minutes per priority. The tests file "normal" tickets: respond within 1 business
# hour, resolve within 8 (one full working day of the calendar below).
LADDER_TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 60, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}
# Warning at 75 % (to the assignee), breach at 100 % (to the assignee), then the ladder.
LADDER = [
    {"at_percent": 100, "notify": "department_head"},
    {"at_percent": 150, "notify": "parent_department_head"},
]


@pytest.fixture
def china_2025(db) -> BusinessCalendar:
    """Mon–Fri 09:00–12:00 and 13:00–18:00 Asia/Shanghai with China's official 2025 schedule."""
    calendar, _years = import_china_years(years=[2025])
    return calendar


@pytest.fixture
def ladder_policy(company, china_2025) -> SlaPolicy:
    """IT's default policy: warning 75 %, breach 100 %, head at 100 %, the head above at 150 %."""
    policy = save_policy(
        name="IT 标准服务（升级）",
        calendar=china_2025,
        targets=LADDER_TARGETS,
        warning_percent=75,
        ladder=LADDER,
    )
    company.it.default_sla_policy = policy
    company.it.save(update_fields=["default_sla_policy"])
    return policy


@pytest.fixture
def parent_head(company) -> User:
    """IT (信息技术部) reports to 总经办, whose head is the ladder's last level."""
    office = DepartmentFactory(name="总经办", code="GM")
    head = make_member(office, Membership.Role.HEAD, username="gmhead", department=office)
    company.it.parent = office
    company.it.save(update_fields=["parent"])
    return head


@pytest.fixture
def file_ticket_at(company) -> Callable[..., Ticket]:
    """File a normal-priority IT ticket for the HR requester at a fixed instant."""

    def _file(when: datetime, *, title: str = "显示器坏了", priority: str = "normal") -> Ticket:
        with time_machine.travel(when, tick=False):
            return services.file_ticket(
                requester=company.requester,
                service=company.service,
                title=title,
                priority=priority,
                form_data={"model": "14寸"},
            )

    return _file
