"""Bad input is refused with HTTP 400 naming the offending field, and nothing is half-saved.

DESIGN §3: errors are JSON with a stable `code` and a human `detail`; validation errors name the
field. A refused request must leave no ticket, comment, event, attachment row, reserved
reference number or stored file behind.
"""

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from departments.models import Department
from tests.factories import DepartmentFactory, ServiceFactory, UserFactory
from tickets import services
from tickets.models import (
    Attachment,
    Comment,
    Service,
    Ticket,
    TicketEvent,
    TicketSequence,
)
from tickets.uploads import UploadRejected, check_upload

pytestmark = pytest.mark.django_db


TICKETS = "/api/v1/tickets/"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
WINDOWS_EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def stored_files(root: Path) -> set[Path]:
    return {p for p in Path(root).rglob("*") if p.is_file()} if Path(root).exists() else set()


@pytest.fixture
def nothing_saved(settings) -> Callable[[], AbstractContextManager[None]]:
    """Assert the block leaves no new rows of the ticket models and no new stored file."""

    models = (Ticket, Comment, Attachment, TicketEvent, TicketSequence)

    @contextmanager
    def _check() -> Iterator[None]:
        rows_before = {m.__name__: m.objects.count() for m in models}
        files_before = stored_files(settings.MEDIA_ROOT)
        yield
        assert {m.__name__: m.objects.count() for m in models} == rows_before
        assert stored_files(settings.MEDIA_ROOT) == files_before

    return _check


def assert_invalid(response: Any, field: str, *, code: str = "invalid") -> dict[str, Any]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert field in body["fields"], body
    messages = body["fields"][field]
    assert messages and all(isinstance(m, str) and m for m in messages), body
    return body


def valid_ticket(company, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": company.service.pk,
        "title": "新电脑",
        "description": "旧的坏了",
        "form_data": {"model": "14寸"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def ticket(company) -> Ticket:
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="打印机卡纸",
        form_data={"model": "16寸"},
    )


# --- filing a ticket: the service ------------------------------------------------------------


def test_filing_to_an_unknown_service_id_is_refused_naming_service(company, api, nothing_saved):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, service=987654), format="json"
        )
    assert_invalid(response, "service")


def test_filing_to_an_inactive_service_is_refused_naming_service(company, api, nothing_saved):
    retired = ServiceFactory(department=company.it, name="传真机维修", is_active=False)
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, service=retired.pk, form_data={}), format="json"
        )
    assert_invalid(response, "service")


def test_filing_to_a_service_of_an_inactive_department_is_refused(company, api, nothing_saved):
    closed = DepartmentFactory(name="已撤销部门", code="OLD", is_active=False)
    orphan = ServiceFactory(department=closed, name="旧服务")
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, service=orphan.pk, form_data={}), format="json"
        )
    assert_invalid(response, "service")


def test_filing_to_a_service_restricted_to_other_departments_is_refused(
    company, api, nothing_saved
):
    payroll = ServiceFactory(department=company.it, name="财务系统权限")
    payroll.allowed_consumers.set([company.finance])
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, service=payroll.pk, form_data={}), format="json"
        )
    assert_invalid(response, "service")


# --- filing a ticket: title, types, form answers --------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"title": None}, id="null"),
        pytest.param({"title": ""}, id="empty"),
        pytest.param({"title": "   "}, id="blank"),
        pytest.param({"title": "长" * 201}, id="too-long"),
        pytest.param({"title": ["新电脑"]}, id="list"),
        pytest.param({"title": {"zh": "新电脑"}}, id="object"),
        pytest.param({"title": "新\x00电脑"}, id="nul-character"),
    ],
)
def test_a_missing_or_malformed_title_is_refused_naming_title(
    company, api, nothing_saved, overrides
):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, **overrides), format="json"
        )
    assert_invalid(response, "title")


def test_a_body_without_title_is_refused_naming_title(company, api, nothing_saved):
    body = valid_ticket(company)
    del body["title"]
    with nothing_saved():
        response = api(company.requester).post(TICKETS, body, format="json")
    assert_invalid(response, "title")


@pytest.mark.parametrize(
    ("form_data", "field"),
    [
        pytest.param({"needed_by": "2026-05-01"}, "form_data.model", id="required-missing"),
        pytest.param({"model": ""}, "form_data.model", id="required-blank"),
        pytest.param({"model": "17寸"}, "form_data.model", id="choice-not-in-list"),
        pytest.param({"model": ["14寸"]}, "form_data.model", id="choice-as-list"),
        pytest.param({"model": "14寸", "count": "abc"}, "form_data.count", id="number-abc"),
        pytest.param({"model": "14寸", "count": True}, "form_data.count", id="number-boolean"),
        pytest.param({"model": "14寸", "count": "NaN"}, "form_data.count", id="number-nan"),
        pytest.param(
            {"model": "14寸", "count": "Infinity"}, "form_data.count", id="number-infinity"
        ),
        pytest.param(
            {"model": "14寸", "count": "1e5000"},
            "form_data.count",
            id="number-astronomically-large",
        ),
        pytest.param(
            {"model": "14寸", "needed_by": "2026-13-40"},
            "form_data.needed_by",
            id="date-impossible",
        ),
        pytest.param(
            {"model": "14寸", "needed_by": "next friday"}, "form_data.needed_by", id="date-words"
        ),
        pytest.param(
            {"model": "14寸", "needed_by": 20260501}, "form_data.needed_by", id="date-as-number"
        ),
        pytest.param({"model": "14寸", "colour": "银色"}, "form_data.colour", id="unknown-key"),
    ],
)
def test_answers_violating_the_form_schema_are_refused_naming_the_answer(
    company, api, nothing_saved, form_data, field
):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, form_data=form_data), format="json"
        )
    assert_invalid(response, field)


def test_every_bad_answer_is_named_at_once(company, api, nothing_saved):
    form_data = {"count": "abc", "needed_by": "2026-13-40", "colour": "银色"}
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, form_data=form_data), format="json"
        )
    body = assert_invalid(response, "form_data.model")
    assert {"form_data.model", "form_data.count", "form_data.needed_by", "form_data.colour"} <= set(
        body["fields"]
    )


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("型号\x00备注", id="nul-character"),
        pytest.param(12, id="number-for-text"),
        pytest.param("长" * 201, id="longer-than-a-text-field"),
    ],
)
def test_a_malformed_text_answer_is_refused_naming_the_answer(company, api, nothing_saved, note):
    service = ServiceFactory(
        department=company.it,
        name="软件安装",
        form_schema=[{"key": "note", "label": "备注", "type": "text", "required": False}],
    )
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS,
            valid_ticket(company, service=service.pk, form_data={"note": note}),
            format="json",
        )
    assert_invalid(response, "form_data.note")


@pytest.mark.parametrize(
    ("count", "stored"), [("999999999999999", 999999999999999), ("-12.5", -12.5), (" 3 ", 3)]
)
def test_numbers_within_range_are_accepted_and_stored_as_numbers(company, api, count, stored):
    response = api(company.requester).post(
        TICKETS, valid_ticket(company, form_data={"model": "14寸", "count": count}), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["form_data"]["count"] == stored


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"form_data": "model=14寸"}, "form_data", id="form-data-as-string"),
        pytest.param({"form_data": [["model", "14寸"]]}, "form_data", id="form-data-as-list"),
        pytest.param({"priority": "critical"}, "priority", id="priority-unknown"),
        pytest.param({"priority": 1}, "priority", id="priority-as-number"),
        pytest.param({"service": "IT"}, "service", id="service-as-code"),
        pytest.param({"service": None}, "service", id="service-null"),
        pytest.param({"description": ["旧的坏了"]}, "description", id="description-as-list"),
    ],
)
def test_fields_of_the_wrong_type_are_refused_naming_the_field(
    company, api, nothing_saved, overrides, field
):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, valid_ticket(company, **overrides), format="json"
        )
    assert_invalid(response, field)


def test_a_malformed_json_body_is_refused_as_parse_error(company, api, nothing_saved):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, b'{"title": ', content_type="application/json"
        )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"]


def test_a_json_body_that_is_not_an_object_is_refused(company, api, nothing_saved):
    with nothing_saved():
        response = api(company.requester).post(
            TICKETS, b'["new laptop"]', content_type="application/json"
        )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


# --- attachments -----------------------------------------------------------------------------


def upload(client: APIClient, ticket: Ticket, name: str, content: bytes) -> Any:
    return client.post(
        f"{TICKETS}{ticket.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_an_attachment_over_the_size_limit_is_refused_and_not_stored(
    company, api, ticket, settings, nothing_saved
):
    settings.ATTACHMENT_MAX_BYTES = 1000
    with nothing_saved():
        response = upload(api(company.requester), ticket, "log.txt", b"a" * 1001)
    assert_invalid(response, "file")


def test_an_attachment_exactly_at_the_size_limit_is_accepted(company, api, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = upload(api(company.requester), ticket, "log.txt", b"a" * 1000)
    assert response.status_code == 201, response.content
    assert Attachment.objects.get().size == 1000


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("setup.exe", WINDOWS_EXECUTABLE, id="executable"),
        pytest.param("photo.png", WINDOWS_EXECUTABLE, id="executable-named-png"),
        pytest.param("photo.png", b"just some text, not an image", id="text-named-png"),
        pytest.param("report.pdf", PNG_BYTES, id="png-named-pdf"),
        pytest.param("notes.txt", WINDOWS_EXECUTABLE, id="binary-named-txt"),
        pytest.param("script.sh", b"#!/bin/sh\nrm -rf /\n", id="shell-script"),
        pytest.param("README", b"no extension", id="no-extension"),
        pytest.param("empty.txt", b"", id="empty-file"),
    ],
)
def test_an_attachment_of_a_disallowed_or_disguised_type_is_refused_and_not_stored(
    company, api, ticket, nothing_saved, name, content
):
    with nothing_saved():
        response = upload(api(company.requester), ticket, name, content)
    assert_invalid(response, "file")


def test_a_real_png_is_accepted(company, api, ticket):
    response = upload(api(company.requester), ticket, "photo.png", PNG_BYTES)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "image/png"


def test_a_request_without_a_file_is_refused_naming_file(company, api, ticket, nothing_saved):
    with nothing_saved():
        response = api(company.requester).post(
            f"{TICKETS}{ticket.pk}/attachments/", {"internal": "false"}, format="multipart"
        )
    assert_invalid(response, "file")


def test_a_path_traversal_file_name_cannot_escape_the_media_root(
    company, api, ticket, settings, tmp_path
):
    # Django's multipart parser keeps only the base name of an uploaded file, so the request
    # reaches the service as "passwd.txt": the file lands inside MEDIA_ROOT under a random name.
    boundary = "sd-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="../../etc/passwd.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "root:x:0:0:root:/root:/bin/sh\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = api(company.requester).generic(
        "POST",
        f"{TICKETS}{ticket.pk}/attachments/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["filename"] == "passwd.txt"
    media_root = Path(settings.MEDIA_ROOT).resolve()
    stored = Path(Attachment.objects.get().file.path).resolve()
    assert stored.is_relative_to(media_root)
    assert "passwd" not in stored.name
    assert not (tmp_path / "etc").exists()
    assert not (media_root.parent.parent / "etc" / "passwd.txt").exists()


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.txt", "..\\..\\windows\\win.ini.txt", "notes/../../secret.txt"]
)
def test_the_upload_check_refuses_a_name_with_a_parent_directory(name):
    # Defence in depth below the HTTP parser: a caller handing a raw name to the check.
    with pytest.raises(UploadRejected):
        check_upload(name, io.BytesIO(b"hello"), 5, 1000)


# --- comments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"body": ""}, id="empty"),
        pytest.param({"body": "  \n\t "}, id="whitespace"),
        pytest.param({}, id="missing"),
        pytest.param({"body": None}, id="null"),
        pytest.param({"body": "x" * 20001}, id="too-long"),
        pytest.param({"body": ["谢谢"]}, id="list"),
    ],
)
def test_an_empty_or_malformed_comment_is_refused_naming_body(
    company, api, ticket, nothing_saved, body
):
    with nothing_saved():
        response = api(company.requester).post(
            f"{TICKETS}{ticket.pk}/comments/", body, format="json"
        )
    assert_invalid(response, "body")


def test_an_empty_comment_is_refused_by_the_service_too(company, ticket, nothing_saved):
    from servicedesk.errors import InvalidInput

    with nothing_saved(), pytest.raises(InvalidInput) as refused:
        services.add_comment(ticket=ticket, author=company.requester, body="   ")
    assert "body" in refused.value.fields


# --- list filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=bogus", "status", id="unknown-status"),
        pytest.param("status=new,bogus", "status", id="one-unknown-status-in-list"),
        pytest.param("priority=critical", "priority", id="unknown-priority"),
        pytest.param("assignee=abc", "assignee", id="assignee-not-an-id"),
        pytest.param("created_after=yesterday", "created_after", id="created-after-not-a-time"),
        # PostgreSQL refuses a NUL in a text: a 500 before, when the search was compared.
        pytest.param("search=%00", "search", id="search-nul-character"),
        pytest.param("search=%E5%9E%8B%00", "search", id="search-with-a-nul-character"),
        pytest.param("search=printer%00&status=new", "search", id="filtered-search-nul"),
    ],
)
def test_a_list_filter_with_an_unknown_value_is_refused_naming_the_filter(
    company, api, ticket, query, field
):
    response = api(company.agent).get(f"{TICKETS}?{query}")
    assert_invalid(response, field)


# --- catalog and org chart writes ------------------------------------------------------------


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_staff=True)


@pytest.mark.parametrize(
    ("form_schema", "bad_index"),
    [
        pytest.param(
            [
                {"key": "model", "label": "型号", "type": "text"},
                {"key": "model", "label": "型号2", "type": "text"},
            ],
            1,
            id="duplicate-key",
        ),
        pytest.param(
            [{"key": "model", "label": "型号", "type": "choice"}], 0, id="choice-without-choices"
        ),
        pytest.param(
            [{"key": "model", "label": "型号", "type": "choice", "choices": []}],
            0,
            id="choice-with-empty-choices",
        ),
        pytest.param(
            [
                {"key": "size", "label": "尺寸", "type": "text"},
                {"key": "model", "label": "型号", "type": "colour"},
            ],
            1,
            id="bad-type",
        ),
        pytest.param(
            [{"key": "Model Name", "label": "型号", "type": "text"}], 0, id="key-not-an-identifier"
        ),
        pytest.param(
            [{"key": "model", "label": "型号", "type": "text", "required": "yes"}],
            0,
            id="required-not-boolean",
        ),
        pytest.param(
            [{"key": "model", "label": "型\x00号", "type": "text"}],
            0,
            id="label-with-nul-character",
        ),
        pytest.param(["model"], 0, id="field-not-an-object"),
    ],
)
def test_creating_a_service_with_a_malformed_form_schema_is_refused_naming_form_schema(
    company, api, admin, form_schema, bad_index
):
    services_before = Service.objects.count()
    response = api(admin).post(
        "/api/v1/services/",
        {
            "department": company.it.pk,
            "name": "显示器申请",
            "form_schema": form_schema,
        },
        format="json",
    )
    body = assert_invalid(response, "form_schema")
    assert any(f"[{bad_index}]" in message for message in body["fields"]["form_schema"]), body
    assert Service.objects.count() == services_before


def test_creating_a_service_with_a_form_schema_that_is_not_a_list_is_refused(company, api, admin):
    services_before = Service.objects.count()
    response = api(admin).post(
        "/api/v1/services/",
        {
            "department": company.it.pk,
            "name": "显示器申请",
            "form_schema": {"key": "model"},
        },
        format="json",
    )
    assert_invalid(response, "form_schema")
    assert Service.objects.count() == services_before


@pytest.mark.parametrize("who", ["requester", "it_head", "agent"])
def test_only_admins_may_create_departments(company, api, who):
    departments_before = Department.objects.count()
    response = api(getattr(company, who)).post(
        "/api/v1/departments/", {"name": "法务部", "code": "LEGAL"}, format="json"
    )
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert Department.objects.count() == departments_before


def test_an_anonymous_caller_may_not_create_departments(company, api):
    response = api().post(
        "/api/v1/departments/", {"name": "法务部", "code": "LEGAL"}, format="json"
    )
    # DRF answers 403 rather than 401 because session authentication is tried first.
    assert response.status_code in (401, 403), response.content
    assert response.json()["code"] == "not_authenticated"
    assert not Department.objects.filter(code="LEGAL").exists()
