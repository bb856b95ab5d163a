"""Ticket references stay unique and gap-free when many people file at the same moment.

DESIGN §2: `reference` is unique and human, `<DEPT CODE>-<year>-<6-digit seq>`; the sequence
runs per provider department and per year.
"""

import re
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from departments.models import User
from tests.factories import ServiceFactory, UserFactory
from tickets import services
from tickets.models import Service, Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
THREADS = 16
TICKETS_PER_THREAD = 5


@pytest.mark.django_db(transaction=True)
def test_references_stay_unique_and_gap_free_under_concurrent_filing(company):
    requesters = [
        UserFactory(department=company.hr if n % 2 else company.finance) for n in range(THREADS)
    ]
    year = timezone.localdate().year
    barrier = threading.Barrier(THREADS, timeout=30)
    failures: list[Exception] = []

    def file_five(requester_id: int) -> None:
        try:
            # Fresh rows on this thread's own database connection.
            requester = User.objects.get(pk=requester_id)
            service = Service.objects.select_related("department").get(pk=company.service.pk)
            barrier.wait()
            for number in range(TICKETS_PER_THREAD):
                services.file_ticket(
                    requester=requester,
                    service=service,
                    title=f"并发请求 {requester_id}-{number}",
                    form_data={"model": "14寸"},
                )
        except Exception as error:  # reported by the main thread
            failures.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=file_five, args=(r.pk,)) for r in requesters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []

    references = list(Ticket.objects.values_list("reference", flat=True))
    total = THREADS * TICKETS_PER_THREAD
    assert len(references) == total
    assert len(set(references)) == total
    assert all(re.fullmatch(rf"IT-{year}-\d{{6}}", ref) for ref in references), references
    assert sorted(references) == [f"IT-{year}-{n:06d}" for n in range(1, total + 1)]
    # Every thread's five tickets were all filed.
    per_requester = {r.pk: Ticket.objects.filter(requester=r).count() for r in requesters}
    assert set(per_requester.values()) == {TICKETS_PER_THREAD}


@pytest.mark.django_db
def test_references_restart_per_department_and_per_year(company):
    payroll = ServiceFactory(department=company.finance, name="工资条补打")

    def file(service: Service, at: datetime) -> str:
        return services.file_ticket(
            requester=company.requester,
            service=service,
            title="请求",
            form_data={"model": "14寸"} if service.form_schema else {},
            at=at,
        ).reference

    assert file(company.service, datetime(2025, 6, 2, 10, tzinfo=SHANGHAI)) == "IT-2025-000001"
    assert file(company.service, datetime(2025, 11, 3, 10, tzinfo=SHANGHAI)) == "IT-2025-000002"
    assert file(company.service, datetime(2026, 1, 5, 10, tzinfo=SHANGHAI)) == "IT-2026-000001"
    assert file(payroll, datetime(2026, 1, 5, 11, tzinfo=SHANGHAI)) == "FIN-2026-000001"
    assert file(company.service, datetime(2026, 1, 6, 10, tzinfo=SHANGHAI)) == "IT-2026-000002"
    assert file(payroll, datetime(2025, 12, 1, 9, tzinfo=SHANGHAI)) == "FIN-2025-000001"


@pytest.mark.django_db
def test_reference_year_is_the_companys_local_year(company, settings):
    # 2025-12-31 16:30 UTC is already 2026-01-01 00:30 in Shanghai, the company's time zone.
    assert settings.TIME_ZONE == "Asia/Shanghai"
    new_year_just_begun = datetime(2025, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC"))
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="新年第一单",
        form_data={"model": "14寸"},
        at=new_year_just_begun,
    )
    assert ticket.reference == "IT-2026-000001"


@pytest.mark.django_db
def test_a_refused_filing_does_not_use_up_a_reference_number(company):
    from servicedesk.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.file_ticket(
            requester=company.requester,
            service=company.service,
            title="",
            form_data={"model": "14寸"},
        )
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="第一单",
        form_data={"model": "14寸"},
    )
    assert ticket.reference.endswith("-000001")
