"""`calendars/` and `calendars/{id}/days/` (DESIGN §3): everyone signed in reads, admins write."""

import json
from datetime import date

import pytest

from slas.models import BusinessCalendar, CalendarDay, SlaPolicy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CALENDARS = "/api/v1/calendars/"
OFFICE = [["09:00", "12:00"], ["13:00", "18:00"]]
WEEK = {"mon": OFFICE, "tue": OFFICE, "wed": OFFICE, "thu": OFFICE, "fri": OFFICE}


@pytest.fixture
def admin_api(api):
    return api(UserFactory(username="root", is_staff=True))


@pytest.fixture
def user_api(api):
    return api(UserFactory(username="employee"))


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar.objects.create(name="中国标准工作日历", years=[2025])


def days_url(calendar: BusinessCalendar, day_id: int | None = None) -> str:
    base = f"{CALENDARS}{calendar.pk}/days/"
    return f"{base}{day_id}/" if day_id else base


# -- calendars/ -------------------------------------------------------------------------------


def test_admin_creates_a_calendar(admin_api):
    response = admin_api.post(
        CALENDARS,
        {
            "name": "深圳工厂",
            "timezone": "Asia/Shanghai",
            "working_hours": {**WEEK, "sat": [["08:00", "12:00"]]},
            "years": [2026, 2025, 2025],
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "深圳工厂",
        "timezone": "Asia/Shanghai",
        # A day left out has no working hours; all seven days are stored.
        "working_hours": {**WEEK, "sat": [["08:00", "12:00"]], "sun": []},
        "years": [2025, 2026],
    }
    stored = BusinessCalendar.objects.get(pk=body["id"])
    assert stored.working_hours["sun"] == []
    assert stored.years == [2025, 2026]


def test_a_new_calendar_defaults_to_shanghai_office_hours(admin_api):
    response = admin_api.post(CALENDARS, {"name": "总部"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["timezone"] == "Asia/Shanghai"
    assert body["working_hours"] == {**WEEK, "sat": [], "sun": []}
    assert body["years"] == []


def test_hours_cannot_end_at_24_00(admin_api):
    """The business-time arithmetic keeps each interval within one day: 23:59 is the last end."""
    hours = {"mon": [["00:00", "24:00"]]}

    response = admin_api.post(
        CALENDARS, {"name": "运维值班", "timezone": "UTC", "working_hours": hours}
    )

    assert response.status_code == 400
    assert "working_hours.mon" in response.json()["fields"]


def test_employee_reads_calendars_but_cannot_write(user_api, calendar):
    assert user_api.get(CALENDARS).json()["results"][0]["name"] == "中国标准工作日历"
    assert user_api.get(f"{CALENDARS}{calendar.pk}/").status_code == 200

    assert user_api.post(CALENDARS, {"name": "x"}).status_code == 403
    assert user_api.patch(f"{CALENDARS}{calendar.pk}/", {"name": "x"}).status_code == 403
    assert user_api.delete(f"{CALENDARS}{calendar.pk}/").status_code == 403
    assert BusinessCalendar.objects.get().name == "中国标准工作日历"


def test_anonymous_caller_gets_401(api, calendar):
    assert api().get(CALENDARS).status_code == 401


def test_bad_timezone_is_refused_naming_the_field(admin_api):
    response = admin_api.post(CALENDARS, {"name": "x", "timezone": "China/Beijing"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["timezone"]
    assert body["detail"].startswith("timezone: ")
    assert not BusinessCalendar.objects.exists()


@pytest.mark.parametrize(
    ("working_hours", "field"),
    [
        ({"mon": [["18:00", "09:00"]]}, "working_hours.mon"),  # ends before it starts
        ({"tue": [["09:00", "09:00"]]}, "working_hours.tue"),  # empty
        ({"wed": [["09:00", "13:00"], ["12:00", "18:00"]]}, "working_hours.wed"),  # overlap
        ({"thu": [["13:00", "18:00"], ["09:00", "12:00"]]}, "working_hours.thu"),  # out of order
        ({"fri": [["9:00", "12:00"]]}, "working_hours.fri"),  # not HH:MM
        ({"sat": [["09:00", "24:30"]]}, "working_hours.sat"),  # past midnight
        ({"sun": [["24:00", "24:00"]]}, "working_hours.sun"),  # no 24:00
        ({"mon": [["09:00", "12:00", "18:00"]]}, "working_hours.mon"),  # not a pair
        ({"mon": "09:00-18:00"}, "working_hours.mon"),  # not a list
        ({"monday": OFFICE}, "working_hours.monday"),  # unknown day
        (["09:00", "18:00"], "working_hours"),  # not an object
    ],
)
def test_bad_working_hours_are_refused_naming_the_day(admin_api, working_hours, field):
    response = admin_api.post(CALENDARS, {"name": "x", "working_hours": working_hours})

    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]
    assert not BusinessCalendar.objects.exists()


def test_adjacent_intervals_are_allowed(admin_api):
    hours = {"mon": [["09:00", "12:00"], ["12:00", "18:00"]]}

    response = admin_api.post(CALENDARS, {"name": "x", "working_hours": hours})

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("years", [[1899], [2025, 2201], ["next"], [True]])
def test_implausible_years_are_refused(admin_api, years):
    response = admin_api.post(CALENDARS, {"name": "x", "years": years})

    assert response.status_code == 400, response.content
    assert all(field.startswith("years") for field in response.json()["fields"])


def test_duplicate_calendar_name_is_refused(admin_api, calendar):
    response = admin_api.post(CALENDARS, {"name": calendar.name})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["name"]


def test_admin_adds_a_year_and_changes_hours(admin_api, calendar):
    response = admin_api.patch(
        f"{CALENDARS}{calendar.pk}/",
        {"years": [2026, 2025], "working_hours": {**WEEK, "fri": [["09:00", "12:00"]]}},
    )

    assert response.status_code == 200, response.content
    calendar.refresh_from_db()
    assert calendar.years == [2025, 2026]
    assert calendar.working_hours["fri"] == [["09:00", "12:00"]]
    assert calendar.working_hours["mon"] == OFFICE


def test_a_calendar_in_use_by_a_policy_cannot_be_deleted(admin_api, calendar):
    SlaPolicy.objects.create(name="标准", calendar=calendar)

    response = admin_api.delete(f"{CALENDARS}{calendar.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


def test_an_unused_calendar_is_deleted_with_its_days(admin_api, calendar):
    CalendarDay.objects.create(calendar=calendar, date=date(2025, 10, 1), kind="closed")

    assert admin_api.delete(f"{CALENDARS}{calendar.pk}/").status_code == 204
    assert not CalendarDay.objects.exists()


# -- calendars/{id}/days/ ---------------------------------------------------------------------


def test_days_crud(admin_api, calendar):
    created = admin_api.post(
        days_url(calendar), {"date": "2027-10-01", "kind": "closed", "name": "国庆节"}
    )
    assert created.status_code == 201, created.content
    day = created.json()
    assert day == {"id": day["id"], "date": "2027-10-01", "kind": "closed", "name": "国庆节"}

    assert admin_api.get(days_url(calendar, day["id"])).json() == day

    changed = admin_api.patch(days_url(calendar, day["id"]), {"name": "国庆节、中秋节"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "国庆节、中秋节"

    replaced = admin_api.put(
        days_url(calendar, day["id"]), {"date": "2027-09-26", "kind": "working", "name": "调休"}
    )
    assert replaced.status_code == 200, replaced.content
    assert CalendarDay.objects.get(pk=day["id"]).kind == "working"
    assert CalendarDay.objects.get(pk=day["id"]).date == date(2027, 9, 26)

    assert admin_api.delete(days_url(calendar, day["id"])).status_code == 204
    assert not calendar.days.exists()


def test_days_list_filters_by_year_in_date_order(user_api, calendar, django_assert_max_num_queries):
    for day, kind in [
        ("2026-01-01", "closed"),
        ("2025-10-01", "closed"),
        ("2025-09-28", "working"),
    ]:
        CalendarDay.objects.create(calendar=calendar, date=day, kind=kind)
    other = BusinessCalendar.objects.create(name="其他")
    CalendarDay.objects.create(calendar=other, date="2025-05-01", kind="closed")

    with django_assert_max_num_queries(4):
        response = user_api.get(days_url(calendar), {"year": 2025})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [d["date"] for d in body["results"]] == ["2025-09-28", "2025-10-01"]
    closed = user_api.get(days_url(calendar), {"year": 2025, "kind": "closed"}).json()
    assert [d["date"] for d in closed["results"]] == ["2025-10-01"]
    assert user_api.get(days_url(calendar)).json()["count"] == 3


def test_days_list_refuses_a_bad_year(user_api, calendar):
    response = user_api.get(days_url(calendar), {"year": "last"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["year"]


def test_duplicate_date_is_refused_naming_the_date(admin_api, calendar):
    first = CalendarDay.objects.create(calendar=calendar, date="2025-10-01", kind="closed")
    second = CalendarDay.objects.create(calendar=calendar, date="2025-10-02", kind="closed")

    added = admin_api.post(days_url(calendar), {"date": "2025-10-01", "kind": "working"})
    moved = admin_api.patch(days_url(calendar, second.pk), {"date": "2025-10-01"})

    for response in (added, moved):
        assert response.status_code == 400, response.content
        assert list(response.json()["fields"]) == ["date"]
    assert calendar.days.count() == 2
    first.refresh_from_db()
    assert first.kind == "closed"


def test_the_same_date_may_sit_in_two_calendars(admin_api, calendar):
    other = BusinessCalendar.objects.create(name="其他")
    CalendarDay.objects.create(calendar=other, date="2025-10-01", kind="closed")

    response = admin_api.post(days_url(calendar), {"date": "2025-10-01", "kind": "closed"})

    assert response.status_code == 201, response.content


def test_bad_kind_is_refused(admin_api, calendar):
    response = admin_api.post(days_url(calendar), {"date": "2025-10-01", "kind": "holiday"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["kind"]


def test_employee_reads_days_but_cannot_write(user_api, calendar):
    day = CalendarDay.objects.create(calendar=calendar, date="2025-10-01", kind="closed")

    assert user_api.get(days_url(calendar)).status_code == 200
    assert (
        user_api.post(days_url(calendar), {"date": "2025-10-02", "kind": "closed"}).status_code
        == 403
    )
    assert user_api.patch(days_url(calendar, day.pk), {"name": "x"}).status_code == 403
    assert user_api.delete(days_url(calendar, day.pk)).status_code == 403
    assert calendar.days.count() == 1


def test_days_of_an_unknown_calendar_or_of_another_calendar_are_404(admin_api, calendar):
    other = BusinessCalendar.objects.create(name="其他")
    foreign = CalendarDay.objects.create(calendar=other, date="2025-10-01", kind="closed")

    assert admin_api.get(f"{CALENDARS}999999/days/").status_code == 404
    missing = admin_api.post(f"{CALENDARS}999999/days/", {"date": "2025-10-01", "kind": "closed"})
    assert missing.status_code == 404
    assert admin_api.get(days_url(calendar, foreign.pk)).status_code == 404
    assert admin_api.delete(days_url(calendar, foreign.pk)).status_code == 404
    assert CalendarDay.objects.filter(pk=foreign.pk).exists()


def test_schema_documents_the_calendar_endpoints(user_api):
    response = user_api.get("/api/schema/?format=json")

    paths = json.loads(response.content)["paths"]
    assert {
        "/api/v1/calendars/",
        "/api/v1/calendars/{id}/",
        "/api/v1/calendars/{calendar_id}/days/",
        "/api/v1/calendars/{calendar_id}/days/{id}/",
    } <= set(paths)
    assert "409" in paths["/api/v1/calendars/{id}/"]["delete"]["responses"]


# -- admin --------------------------------------------------------------------------------------


def _admin_form(**fields: str) -> dict[str, str]:
    return {
        "name": "后台日历",
        "timezone": "Asia/Shanghai",
        "working_hours": json.dumps(WEEK),
        "years": "[2025]",
        "days-TOTAL_FORMS": "0",
        "days-INITIAL_FORMS": "0",
        **fields,
    }


def test_admin_form_applies_the_same_rules(admin_client):
    refused = admin_client.post(
        "/admin/slas/businesscalendar/add/",
        _admin_form(working_hours=json.dumps({"mon": [["18:00", "09:00"]]})),
    )
    assert refused.status_code == 200  # the form again, with the error
    assert "working_hours.mon" in refused.content.decode()
    assert not BusinessCalendar.objects.exists()

    saved = admin_client.post("/admin/slas/businesscalendar/add/", _admin_form())
    assert saved.status_code == 302
    assert BusinessCalendar.objects.get().working_hours == {**WEEK, "sat": [], "sun": []}
