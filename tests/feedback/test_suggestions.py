"""The suggestion box (意见箱, DESIGN §2 Feedback, §3 `suggestions/` and `/suggestions/`):
sending named and anonymous suggestions, the department's answer and its status machine
(open → under_review → accepted/declined, accepted → done; open may be decided directly),
anonymity that leaves no trace of the author, and who may see and answer what."""

import datetime
import logging

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.utils import timezone

from departments.models import Membership
from feedback.models import Suggestion
from feedback.suggestions import answer_suggestion, submit_suggestion
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from tests.factories import UserFactory, make_member
from tickets.models import Notification, TicketEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/suggestions/"


@pytest.fixture
def staff_user(db):
    return UserFactory(username="admin1", is_staff=True)


def send(company, *, anonymous=False, author=None, title="打印机太少", department=None):
    return submit_suggestion(
        author=author or company.requester,
        department=department or company.it,
        title=title,
        body="三楼只有一台打印机，排队很久。",
        anonymous=anonymous,
    )


# --- sending -------------------------------------------------------------------------------------


def test_employee_sends_named_suggestion_through_the_api(company, api):
    response = api(company.requester).post(
        URL,
        {
            "department": company.it.pk,
            "title": "打印机太少",
            "body": "请加一台",
            "anonymous": False,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author"] == company.requester.pk
    assert body["status"] == "open"
    assert body["answer"] == ""
    assert body["department"] == company.it.pk
    assert body["created_on"] == timezone.localdate().isoformat()


def test_anonymous_suggestion_reads_without_author(company, api):
    response = api(company.requester).post(
        URL, {"department": company.it.pk, "title": "匿名", "body": "内容", "anonymous": True}
    )
    assert response.status_code == 201
    assert response.json()["author"] is None
    suggestion = Suggestion.objects.get(pk=response.json()["id"])
    assert suggestion.author_id is None
    assert isinstance(suggestion.created_on, datetime.date)
    assert not isinstance(suggestion.created_on, datetime.datetime)


MISSING = object()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"department": MISSING}, "department"),
        ({"department": 999999}, "department"),
        ({"department": "IT"}, "department"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body": ""}, "body"),
        ({"body": MISSING}, "body"),
        ({"anonymous": "maybe"}, "anonymous"),
    ],
)
def test_bad_suggestion_is_refused_naming_the_field(company, api, changes, field):
    payload = {"department": company.it.pk, "title": "t", "body": "b", **changes}
    payload = {k: v for k, v in payload.items() if v is not MISSING}
    response = api(company.requester).post(URL, payload)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert Suggestion.objects.count() == 0


def test_blank_title_after_trimming_is_refused_by_the_service(company):
    with pytest.raises(InvalidInput) as error:
        submit_suggestion(
            author=company.requester, department=company.it, title="   ", body="b", anonymous=False
        )
    assert "title" in error.value.fields


def test_inactive_department_cannot_receive_suggestions(company, api):
    company.finance.is_active = False
    company.finance.save()
    response = api(company.requester).post(
        URL, {"department": company.finance.pk, "title": "t", "body": "b"}
    )
    assert response.status_code == 400
    assert "department" in response.json()["fields"]


def test_signed_out_caller_gets_401(company, api):
    assert api().get(URL).status_code == 401
    assert (
        api().post(URL, {"department": company.it.pk, "title": "t", "body": "b"}).status_code == 401
    )


# --- anonymity -----------------------------------------------------------------------------------


def _text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = current_schema()
              AND data_type IN ('text', 'character varying', 'json', 'jsonb')
            """
        )
        return cursor.fetchall()


def identity_traces(user) -> dict[str, int]:
    """Every place in the database that names `user`: rows holding a foreign key to them, and
    text of any column of any table containing their username, email or full name."""
    traces: dict[str, int] = {}
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is apps.get_model(
                settings.AUTH_USER_MODEL
            ):
                count = model._default_manager.filter(**{field.attname: user.pk}).count()
                traces[f"fk {model._meta.db_table}.{field.column}"] = count
    needles = [user.username, user.email, user.get_full_name()]
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            for needle in needles:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s',  # noqa: S608
                    [f"%{needle}%"],
                )
                traces[f"text {table}.{column} ~ {needle}"] = cursor.fetchone()[0]
    return traces


def test_identity_trace_finder_does_find_a_named_suggestion(company, api):
    """The search below is only worth something if it sees a named suggestion's author."""
    author = company.requester
    before = identity_traces(author)
    api(author).post(URL, {"department": company.it.pk, "title": "t", "body": "b"})
    after = identity_traces(author)
    assert after != before
    assert (
        after["fk feedback_suggestion.author_id"] == before["fk feedback_suggestion.author_id"] + 1
    )


def test_anonymous_suggestion_through_the_api_leaves_no_trace_of_its_author(company, api, caplog):
    author = company.requester
    before = identity_traces(author)
    events, notes, log_entries = (
        TicketEvent.objects.count(),
        Notification.objects.count(),
        LogEntry.objects.count(),
    )
    with caplog.at_level(logging.DEBUG):
        response = api(author).post(
            URL,
            {
                "department": company.it.pk,
                "title": "厕所太脏",
                "body": "请多打扫",
                "anonymous": True,
            },
        )
    assert response.status_code == 201
    changed = {k: (before[k], v) for k, v in identity_traces(author).items() if before.get(k) != v}
    assert changed == {}
    assert TicketEvent.objects.count() == events
    assert Notification.objects.count() == notes
    assert LogEntry.objects.count() == log_entries
    # No log line of the request names the author (not even the request log's user_id).
    for record in caplog.records:
        text = record.getMessage()
        assert author.username not in text and author.email not in text
        assert getattr(record, "user_id", None) != author.pk
    suggestion = Suggestion.objects.get()
    assert suggestion.author_id is None and suggestion.answered_by_id is None
    # The only stored time is the day (the model keeps no exact timestamp of a suggestion).
    assert suggestion.created_on == timezone.localdate()
    assert not [
        field.name
        for field in Suggestion._meta.concrete_fields
        if field.get_internal_type() == "DateTimeField" and field.name != "answered_at"
    ]


def test_anonymous_suggestion_through_the_page_leaves_no_trace_of_its_author(company, caplog):
    author = company.requester
    client = Client()
    client.force_login(author)
    before = identity_traces(author)
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/suggestions/",
            {"department": company.it.pk, "title": "食堂", "body": "菜太咸", "anonymous": "on"},
        )
    assert response.status_code == 302
    changed = {k: (before[k], v) for k, v in identity_traces(author).items() if before.get(k) != v}
    assert changed == {}
    for record in caplog.records:
        assert getattr(record, "user_id", None) != author.pk
        assert author.username not in record.getMessage()
    assert Suggestion.objects.get().author_id is None
    # The author does not find it under "My suggestions" (nothing links it to them).
    page = client.get("/suggestions/").content.decode()
    assert "菜太咸" not in page


def test_answering_an_anonymous_suggestion_notifies_nobody(company):
    suggestion = send(company, anonymous=True)
    answer_suggestion(actor=company.agent, suggestion=suggestion, status="accepted", answer="好的")
    assert Notification.objects.count() == 0


def test_database_refuses_an_anonymous_suggestion_with_an_author(company):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Suggestion.objects.create(
            department=company.it,
            title="t",
            body="b",
            anonymous=True,
            author=company.requester,
            created_on=datetime.date.today(),
        )


# --- the status machine --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ["under_review", "accepted", "done"],
        ["under_review", "declined"],
        ["accepted", "done"],
        ["declined"],
    ],
)
def test_allowed_status_paths(company, path):
    suggestion = send(company)
    for status in path:
        suggestion = answer_suggestion(actor=company.agent, suggestion=suggestion, status=status)
        assert suggestion.status == status
    assert suggestion.answered_by == company.agent
    assert suggestion.answered_at is not None


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "done"),
        (["under_review"], "open"),
        (["under_review"], "done"),
        (["accepted"], "under_review"),
        (["accepted"], "declined"),
        (["declined"], "accepted"),
        (["declined"], "open"),
        (["accepted", "done"], "open"),
        (["accepted", "done"], "accepted"),
    ],
)
def test_refused_status_moves_answer_409_naming_status(company, api, path, refused):
    suggestion = send(company)
    for status in path:
        answer_suggestion(actor=company.agent, suggestion=suggestion, status=status)
    response = api(company.it_head).patch(f"{URL}{suggestion.pk}/", {"status": refused})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert "status" in response.json()["fields"]
    suggestion.refresh_from_db()
    assert suggestion.status == (path[-1] if path else "open")


def test_unknown_status_is_400_naming_status(company, api):
    suggestion = send(company)
    response = api(company.agent).patch(f"{URL}{suggestion.pk}/", {"status": "maybe"})
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_department_answers_and_the_named_author_is_notified_once_per_status(company, api):
    suggestion = send(company)
    client = api(company.agent)
    response = client.patch(
        f"{URL}{suggestion.pk}/", {"status": "under_review", "answer": "我们在评估"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "under_review"
    assert response.json()["answer"] == "我们在评估"
    notes = Notification.objects.filter(user=company.requester)
    assert [n.source_key for n in notes] == [f"suggestion:{suggestion.pk}:under_review"]
    assert notes[0].read_at is None
    assert "我们在评估" in notes[0].message
    # The author reads it; then the answer changes at the same status: unread again, still one.
    notes.update(read_at=datetime.datetime.now(datetime.UTC))
    client.patch(f"{URL}{suggestion.pk}/", {"answer": "下月采购"})
    notes = Notification.objects.filter(user=company.requester)
    assert notes.count() == 1
    assert notes[0].read_at is None and "下月采购" in notes[0].message
    client.patch(f"{URL}{suggestion.pk}/", {"status": "accepted"})
    assert sorted(Notification.objects.values_list("source_key", flat=True)) == [
        f"suggestion:{suggestion.pk}:accepted",
        f"suggestion:{suggestion.pk}:under_review",
    ]
    # Nobody else is notified.
    assert set(Notification.objects.values_list("user_id", flat=True)) == {company.requester.pk}


def test_saving_the_same_answer_again_notifies_nothing_new(company):
    suggestion = send(company)
    answer_suggestion(actor=company.agent, suggestion=suggestion, answer="好")
    Notification.objects.update(read_at=datetime.datetime.now(datetime.UTC))
    answer_suggestion(actor=company.agent, suggestion=suggestion, answer="好")
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_author_cannot_change_status_or_answer(company, api):
    suggestion = send(company)
    response = api(company.requester).patch(f"{URL}{suggestion.pk}/", {"status": "done"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    with pytest.raises(NotAllowed):
        answer_suggestion(actor=company.requester, suggestion=suggestion, answer="自己回答")


def test_patch_cannot_rewrite_what_the_author_wrote(company, api):
    suggestion = send(company)
    response = api(company.agent).patch(f"{URL}{suggestion.pk}/", {"title": "改标题"})
    assert response.status_code == 400
    assert "title" in response.json()["fields"]
    suggestion.refresh_from_db()
    assert suggestion.title == "打印机太少"


def test_answer_too_long_is_refused_naming_answer(company, api):
    suggestion = send(company)
    response = api(company.agent).patch(f"{URL}{suggestion.pk}/", {"answer": "长" * 5001})
    assert response.status_code == 400
    assert "answer" in response.json()["fields"]


def test_status_machine_service_raises_domain_error(company):
    suggestion = send(company)
    with pytest.raises(InvalidTransition):
        answer_suggestion(actor=company.agent, suggestion=suggestion, status="done")


# --- who sees and answers what -------------------------------------------------------------------


@pytest.fixture
def box(company, staff_user):
    named = send(company, title="named-to-IT")
    anonymous = send(company, anonymous=True, title="anon-to-IT")
    to_finance = send(company, title="named-to-FIN", department=company.finance)
    return {"named": named, "anonymous": anonymous, "to_finance": to_finance}


# role -> (titles in list, retrieve named, patch named)
MATRIX = {
    "requester": ({"named-to-IT", "named-to-FIN"}, 200, 403),
    "other_employee": (set(), 404, 404),
    "agent": ({"named-to-IT", "anon-to-IT"}, 200, 200),
    "it_head": ({"named-to-IT", "anon-to-IT"}, 200, 200),
    "hr_head": (set(), 404, 404),
    "finance_agent": ({"named-to-FIN"}, 404, 404),
    "staff": ({"named-to-IT", "anon-to-IT", "named-to-FIN"}, 200, 403),
}


def _user(company, staff_user, role):
    return staff_user if role == "staff" else getattr(company, role)


@pytest.mark.parametrize("role", list(MATRIX))
def test_api_access_matrix(company, staff_user, box, api, role):
    titles, retrieve, patch = MATRIX[role]
    client = api(_user(company, staff_user, role))
    listed = client.get(URL).json()["results"]
    assert {row["title"] for row in listed} == titles
    assert all(row["author"] is None for row in listed if row["title"] == "anon-to-IT")
    named = box["named"]
    assert client.get(f"{URL}{named.pk}/").status_code == retrieve
    response = client.patch(f"{URL}{named.pk}/", {"status": "under_review"})
    assert response.status_code == patch
    named.refresh_from_db()
    assert named.status == ("under_review" if patch == 200 else "open")


@pytest.mark.parametrize("role", list(MATRIX))
def test_page_access_matrix(company, staff_user, box, role):
    titles, _retrieve, patch = MATRIX[role]
    client = Client()
    client.force_login(_user(company, staff_user, role))
    page = client.get("/suggestions/", {"department": company.it.pk})
    assert page.status_code == 200
    html = page.content.decode()
    # What the page shows of IT's box: the list rules, with the inbox of one department at a time.
    for title in ("named-to-IT", "anon-to-IT"):
        assert (title in html) == (title in titles), title
    named = box["named"]
    answer = client.post(
        f"/suggestions/{named.pk}/answer/",
        {f"s{named.pk}-status": "accepted", f"s{named.pk}-answer": "采纳"},
    )
    expected = {200: 302, 403: 403, 404: 404}[patch]
    assert answer.status_code == expected
    named.refresh_from_db()
    assert named.status == ("accepted" if patch == 200 else "open")


def test_agent_never_sees_who_sent_an_anonymous_suggestion(company, box):
    client = Client()
    client.force_login(company.agent)
    html = client.get("/suggestions/").content.decode()
    assert "anon-to-IT" in html
    start = html.index(f'id="suggestion-{box["anonymous"].pk}"')
    item = html[start : html.index("</li>", start)]
    assert company.requester.username not in item
    assert company.requester.get_full_name() not in item


def test_filters_by_department_and_status(company, box, api):
    answer_suggestion(actor=company.agent, suggestion=box["named"], status="accepted")
    client = api(company.agent)
    rows = client.get(URL, {"status": "accepted"}).json()["results"]
    assert [r["title"] for r in rows] == ["named-to-IT"]
    assert client.get(URL, {"department": company.finance.pk}).json()["results"] == []
    bad = client.get(URL, {"status": "nope"})
    assert bad.status_code == 400 and "status" in bad.json()["fields"]


def test_list_is_paginated_and_bounded(company, api):
    for n in range(3):
        send(company, title=f"s{n}")
    body = api(company.agent).get(URL, {"page_size": 2}).json()
    assert len(body["results"]) == 2 and body["next"]
    assert api(company.agent).get(URL, {"page_size": 100000}).status_code == 200


# --- the page ------------------------------------------------------------------------------------


def test_page_form_errors_sit_next_to_fields_and_input_is_kept(company):
    client = Client()
    client.force_login(company.requester)
    response = client.post(
        "/suggestions/", {"department": company.it.pk, "title": "", "body": "保留这段文字"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_title_errors"' in html
    assert "保留这段文字" in html
    assert Suggestion.objects.count() == 0


def test_page_explains_what_anonymous_means_beside_the_checkbox(company):
    client = Client()
    client.force_login(company.requester)
    default = client.get("/suggestions/").content.decode()
    assert 'aria-describedby="anonymous-explain"' in default
    assert 'id="anonymous-explain"' in default
    english = client.get("/suggestions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "What anonymous means" in english
    assert "not stored" in english


def test_named_author_sees_status_and_public_answer_on_the_page(company):
    suggestion = send(company, title="会议室预约")
    answer_suggestion(
        actor=company.it_head, suggestion=suggestion, status="accepted", answer="下周上线"
    )
    client = Client()
    client.force_login(company.requester)
    html = client.get("/suggestions/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "会议室预约" in html and "下周上线" in html and "accepted" in html


def test_htmx_answer_returns_the_row_with_errors_kept(company):
    suggestion = send(company)
    client = Client()
    client.force_login(company.agent)
    response = client.post(
        f"/suggestions/{suggestion.pk}/answer/",
        {f"s{suggestion.pk}-status": "done", f"s{suggestion.pk}-answer": "留着这句"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200  # htmx swaps 2xx only: the row comes back with errors
    html = response.content.decode()
    assert html.lstrip().startswith("<li") and "留着这句" in html
    assert 'class="errorlist"' in html
    ok = client.post(
        f"/suggestions/{suggestion.pk}/answer/",
        {f"s{suggestion.pk}-status": "under_review", f"s{suggestion.pk}-answer": "在看"},
        HTTP_HX_REQUEST="true",
    )
    assert ok.status_code == 200
    suggestion.refresh_from_db()
    assert suggestion.status == "under_review" and suggestion.answer == "在看"


def test_suggestions_page_query_count_does_not_grow_with_rows(
    company, django_assert_max_num_queries
):
    make_member(company.it, Membership.Role.HEAD, username="ithead2", department=company.it)
    for n in range(30):
        send(company, title=f"mine {n}")
        send(company, anonymous=True, title=f"anon {n}")
    client = Client()
    client.force_login(company.it_head)
    client.get("/suggestions/")  # warm the session
    with django_assert_max_num_queries(8):
        response = client.get("/suggestions/")
    assert response.status_code == 200
    author = Client()
    author.force_login(company.requester)
    author.get("/suggestions/")
    with django_assert_max_num_queries(8):
        response = author.get("/suggestions/")
    assert response.content.decode().count('class="suggestion"') == 20


def test_api_list_query_count_does_not_grow_with_rows(company, api, django_assert_max_num_queries):
    for n in range(30):
        send(company, title=f"mine {n}")
        send(company, anonymous=True, title=f"anon {n}")
    client = api(company.agent)
    with django_assert_max_num_queries(4):  # roles, count, page (+ savepoint-free reads)
        response = client.get(URL)
    assert len(response.json()["results"]) == 50


def test_openapi_documents_both_resources_with_their_conflict_answers(company, api):
    schema = api(company.requester).get("/api/schema/?format=json").json()
    for path in ("/api/v1/suggestions/{id}/", "/api/v1/improvement-actions/{id}/"):
        patch = schema["paths"][path]["patch"]["responses"]
        assert {"400", "403", "404", "409"} <= set(patch)
    assert "delete" not in schema["paths"]["/api/v1/improvement-actions/{id}/"]
    assert {"400", "401"} <= set(schema["paths"]["/api/v1/suggestions/"]["post"]["responses"])
