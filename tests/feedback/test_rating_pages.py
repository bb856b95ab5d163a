"""The rating and kudos sections of the ticket page, and the satisfaction and recognition panels
of the heads' dashboard (DESIGN §3 "Pages"), on figures counted by hand."""

import re
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import Kudos, TicketRating
from feedback.ratings import give_kudos, rate_ticket
from tests.feedback.rating_helpers import GOOD, closed_ticket, filed_ticket, resolved_ticket
from tickets import services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def page(user, ticket: Ticket, language: str = "en") -> str:
    response = client_for(user, language).get(f"/tickets/{ticket.reference}/")
    assert response.status_code == 200
    return response.content.decode()


def rating_section(html: str) -> str:
    match = re.search(r'<section id="rating".*?</section>', html, flags=re.S)
    return match.group(0) if match else ""


def kudos_section(html: str) -> str:
    match = re.search(r'<section id="kudos".*?</section>', html, flags=re.S)
    return match.group(0) if match else ""


def form_post(ticket: Ticket, **values) -> dict:
    return {**{k: str(v) for k, v in values.items()}}


# --- the ticket page --------------------------------------------------------------------------


def test_requester_of_a_resolved_ticket_sees_an_accessible_rating_form(company):
    ticket = resolved_ticket(company)
    section = rating_section(page(company.requester, ticket))
    assert f'hx-post="/tickets/{ticket.reference}/rating/"' in section
    # Two radio groups of five, each in a fieldset with a legend, each radio with its label.
    assert section.count('type="radio" class="score-input" name="score"') == 5
    assert section.count('name="end_score"') == 5
    assert section.count("<legend>") == 2
    for n in range(5):
        assert f'for="id_score_{n}"' in section and f'id="id_score_{n}"' in section
    # The labels are translated (default language zh-Hans): 1 – 很差 … 5 – 非常好 or English.
    assert re.search(r"1 – \S", section) and re.search(r"5 – \S", section)
    assert 'name="best_moment"' in section and 'name="worst_moment"' in section
    assert 'name="reopen"' in section  # shown by the stylesheet when the score is 1 or 2
    assert "Send rating" in section


def test_no_rating_section_while_the_ticket_is_open(company):
    ticket = filed_ticket(company)
    assert rating_section(page(company.requester, ticket)) == ""
    assert kudos_section(page(company.requester, ticket)) == ""


PAGE_VIEWERS = ["agent", "it_head", "hr_head"]


@pytest.mark.parametrize("who", PAGE_VIEWERS)
def test_others_who_see_the_ticket_read_the_rating_without_a_form(company, who):
    ticket = resolved_ticket(company)
    assert "Not rated yet." in rating_section(page(getattr(company, who), ticket))
    rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    section = rating_section(page(getattr(company, who), ticket))
    assert "<form" not in section
    assert "4/5 · good" in section and "5/5 · excellent" in section
    assert "expertise" in section and "speed" in section and "修得很快，谢谢" in section


@pytest.mark.parametrize("who", ["other_employee", "finance_agent"])
def test_people_who_cannot_see_the_ticket_get_404_on_page_and_post(company, who):
    ticket = resolved_ticket(company)
    client = client_for(getattr(company, who))
    assert client.get(f"/tickets/{ticket.reference}/").status_code == 404
    post = client.post(f"/tickets/{ticket.reference}/rating/", form_post(ticket, **GOOD))
    assert post.status_code == 404
    kudos = client.post(f"/tickets/{ticket.reference}/kudos/", {"agent": company.agent.pk})
    assert kudos.status_code == 404
    assert not TicketRating.objects.exists() and not Kudos.objects.exists()


@pytest.mark.parametrize("who", PAGE_VIEWERS)
def test_provider_and_heads_cannot_post_a_rating(company, who):
    ticket = resolved_ticket(company)
    response = client_for(getattr(company, who)).post(
        f"/tickets/{ticket.reference}/rating/", form_post(ticket, **GOOD)
    )
    assert response.status_code == 403
    assert "Only the requester may rate this ticket." in response.content.decode()
    assert not TicketRating.objects.exists()


def test_htmx_rating_saves_and_returns_the_section(company):
    ticket = resolved_ticket(company)
    response = client_for(company.requester).post(
        f"/tickets/{ticket.reference}/rating/", form_post(ticket, **GOOD), **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<section id="rating"' in html
    assert "<html" not in html  # a partial, swapped in place
    assert "Thank you for your rating." in html and "Update rating" in html
    rating = TicketRating.objects.get(ticket=ticket)
    assert (rating.score, rating.end_score, rating.best_moment) == (4, 5, "expertise")
    # The saved values are shown selected in the form for editing.
    assert re.search(r'name="score" id="id_score_3" value="4" checked', html)


def test_htmx_errors_are_shown_next_to_their_fields(company):
    ticket = resolved_ticket(company)
    body = {"best_moment": "speed", "worst_moment": "speed", "end_score": "3"}
    response = client_for(company.requester).post(
        f"/tickets/{ticket.reference}/rating/", body, **HTMX
    )
    assert response.status_code == 200  # htmx swaps 2xx only
    html = response.content.decode()
    assert 'id="score_errors"' in html and "from 1 to 5" in html
    assert 'aria-describedby="score_errors"' in html
    assert "the worst moment must differ from the best moment" in html
    assert re.search(r'name="end_score" id="id_end_score_2" value="3" checked', html)
    assert not TicketRating.objects.exists()


def test_without_htmx_bad_input_is_400_with_the_whole_page(company):
    ticket = resolved_ticket(company)
    response = client_for(company.requester).post(
        f"/tickets/{ticket.reference}/rating/", {"end_score": "3"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" in html and 'id="score_errors"' in html


def test_without_htmx_a_rating_redirects_back_to_the_ticket(company):
    ticket = resolved_ticket(company)
    response = client_for(company.requester).post(
        f"/tickets/{ticket.reference}/rating/", form_post(ticket, **GOOD)
    )
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.reference}/#rating"


def test_low_score_reopen_from_the_page_reloads_the_ticket(company):
    ticket = resolved_ticket(company)
    body = {"score": "1", "end_score": "1", "worst_moment": "resolution", "reopen": "on"}
    client = client_for(company.requester)
    response = client.post(f"/tickets/{ticket.reference}/rating/", body, **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/tickets/{ticket.reference}/"
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    html = client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "Your request was reopened." in html
    section = rating_section(html)
    assert "<form" not in section and "1/5" in section
    assert "when the ticket is resolved again" in section


def test_a_high_score_cannot_reopen_and_says_so_next_to_the_checkbox(company):
    ticket = resolved_ticket(company)
    body = {**form_post(ticket, **GOOD), "reopen": "on"}
    html = (
        client_for(company.requester)
        .post(f"/tickets/{ticket.reference}/rating/", body, **HTMX)
        .content.decode()
    )
    assert 'id="reopen_errors"' in html and "reopen-choice has-error" in html
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_rating_is_editable_until_closed_then_read_only(company):
    ticket = resolved_ticket(company)
    rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    assert "Update rating" in rating_section(page(company.requester, ticket))
    services.transition_ticket(ticket=ticket, actor=company.requester, status=Status.CLOSED)
    section = rating_section(page(company.requester, ticket))
    assert "<form" not in section and "can no longer be changed" in section
    response = client_for(company.requester).post(
        f"/tickets/{ticket.reference}/rating/", form_post(ticket, **{**GOOD, "score": 1})
    )
    assert response.status_code == 409
    assert TicketRating.objects.get().score == 4


def test_a_closed_unrated_ticket_still_offers_the_form(company):
    ticket = closed_ticket(company)
    section = rating_section(page(company.requester, ticket))
    assert "Send rating" in section
    assert 'name="reopen"' not in section  # a closed ticket cannot be reopened


def test_kudos_button_thanks_the_agent_once(company):
    ticket = resolved_ticket(company)
    section = kudos_section(page(company.requester, ticket))
    assert f"Thank {company.agent}" in section
    client = client_for(company.requester)
    body = {"agent": company.agent.pk, "message": "非常感谢"}
    response = client.post(f"/tickets/{ticket.reference}/kudos/", body, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f"You thanked {company.agent}." in html
    assert f"Thank {company.agent}</button>" not in html
    assert Kudos.objects.get().message == "非常感谢"
    again = client.post(f"/tickets/{ticket.reference}/kudos/", body)
    assert again.status_code == 409
    assert Kudos.objects.count() == 1


def test_provider_side_sees_the_kudos_but_no_button(company):
    ticket = resolved_ticket(company)
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent, message="好")
    section = kudos_section(page(company.it_head, ticket))
    assert f"{company.requester} thanked {company.agent}" in section and "“好”" in section
    assert "<form" not in section
    post = client_for(company.it_head).post(
        f"/tickets/{ticket.reference}/kudos/", {"agent": company.agent.pk}
    )
    assert post.status_code == 403


def test_each_agent_sees_only_the_kudos_they_may_read_on_the_ticket_page(company):
    """The kudos section is read by one statement for every viewer of the same kind (no
    departments headed): each still sees only their own, and the head of IT all of them."""
    ticket = resolved_ticket(company)
    services.add_comment(ticket=ticket, author=company.agent2, body="补充")
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent2, message="谢谢")
    assert f"thanked {company.agent2}" in kudos_section(page(company.agent2, ticket))
    assert kudos_section(page(company.agent, ticket)) == ""
    assert f"thanked {company.agent2}" in kudos_section(page(company.it_head, ticket))


def test_ticket_page_query_count_is_fixed_with_a_rating_and_kudos(company):
    ticket = resolved_ticket(company)
    client = client_for(company.requester)
    url = f"/tickets/{ticket.reference}/"
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    rate_ticket(user=company.requester, ticket=ticket, **GOOD)
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent)
    services.add_comment(ticket=ticket, author=company.agent2, body="补充")
    give_kudos(giver=company.requester, ticket=ticket, agent=company.agent2)
    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after) == len(before), [q["sql"] for q in after.captured_queries]


def test_pages_in_chinese_by_default(company):
    ticket = resolved_ticket(company)
    client = Client()
    client.force_login(company.requester)
    html = client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert '<html lang="zh-hans">' in html and '<section id="rating"' in html


# --- the dashboard ----------------------------------------------------------------------------

_refs = count(1)


def rated(company, *, department, score, end, best="", worst="", days_ago=2, agent=None):
    """A resolved ticket of `department` and its rating, written as stored data."""
    when = timezone.now() - timedelta(days=days_ago)
    ticket = Ticket.objects.create(
        reference=f"{department.code}-2026-{next(_refs):06d}",
        title="评分",
        service=company.service,
        provider_department=department,
        requester=company.requester,
        requester_department=company.hr,
        assignee=agent,
        status=Status.RESOLVED,
        created_at=when - timedelta(hours=3),
        resolved_at=when,
    )
    return TicketRating.objects.create(
        ticket=ticket,
        provider_department=department,
        agent=agent,
        score=score,
        end_score=end,
        best_moment=best,
        worst_moment=worst,
        created_at=when,
        updated_at=when,
    )


@pytest.fixture
def ratings_set(company):
    """IT, last 30 days (hand-counted):
        score end best            worst
        5     5   resolution      -
        4     5   expertise       speed
        2     1   first_response  resolution
        1     1   -               resolution
        4     3   expertise       communication
    count 5; average score 16/5 = 3.2; average end score 15/5 = 3.0;
    distribution 1:1 2:1 3:0 4:2 5:1;
    best: first_response 1, communication 0, expertise 2, speed 0, resolution 1;
    worst: first_response 0, communication 1, expertise 0, speed 1, resolution 2;
    by end score: 1 → 2 ratings, mean (2+1)/2 = 1.5; 3 → 1, mean 4; 5 → 2, mean (5+4)/2 = 4.5.
    Not counted: an IT rating 40 days ago, a finance rating.
    Kudos: agent 2, agent2 1 (and one for agent 40 days ago, not counted)."""
    it, a = company.it, company.agent
    rows = [
        rated(company, department=it, score=5, end=5, best="resolution", agent=a),
        rated(company, department=it, score=4, end=5, best="expertise", worst="speed", agent=a),
        rated(company, department=it, score=2, end=1, best="first_response", worst="resolution"),
        rated(company, department=it, score=1, end=1, worst="resolution"),
        rated(company, department=it, score=4, end=3, best="expertise", worst="communication"),
        rated(company, department=it, score=1, end=1, days_ago=40),
        rated(company, department=company.finance, score=1, end=1),
    ]
    now = timezone.now()
    for rating, agent, days in [
        (rows[0], company.agent, 1),
        (rows[1], company.agent, 2),
        (rows[2], company.agent2, 3),
        (rows[5], company.agent, 40),
    ]:
        Kudos.objects.create(
            ticket=rating.ticket,
            agent=agent,
            giver=company.requester,
            department=company.it,
            created_at=now - timedelta(days=days),
        )
    return rows


def dashboard_section(html: str, heading: str) -> str:
    start = html.index(f">{heading}</h2>")
    return html[start : html.find("</section>", start)]


def bars(svg_html: str) -> dict[str, str]:
    return dict(re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', svg_html))


def test_dashboard_shows_hand_counted_satisfaction_and_peak_end(company, ratings_set):
    html = client_for(company.it_head).get("/dashboard/").content.decode()
    satisfaction = dashboard_section(html, "Satisfaction")
    assert "5 ratings of the department" in satisfaction
    assert "3.2 / 5" in satisfaction and "3.0 / 5" in satisfaction
    svgs = re.findall(r"<svg.*?</svg>", satisfaction, flags=re.S)
    assert len(svgs) == 4 and all("<title" in s and "<desc" in s for s in svgs)
    distribution, best, worst, by_end = (bars(svg) for svg in svgs)
    assert distribution == {"1": "1", "2": "1", "3": "0", "4": "2", "5": "1"}
    assert best == {"first response": "1", "communication": "0", "expertise": "2",
                    "speed": "0", "resolution": "1"}  # fmt: skip
    assert worst == {"first response": "0", "communication": "1", "expertise": "0",
                     "speed": "1", "resolution": "2"}  # fmt: skip
    assert by_end == {"1": "1.5", "3": "4", "5": "4.5"}
    rows = re.findall(
        r'<tr><th scope="row">(\d)</th><td>(\d+)</td><td>([^<]*)</td></tr>', satisfaction
    )
    assert rows == [("1", "2", "1.5"), ("2", "0", "—"), ("3", "1", "4.0"), ("4", "0", "—"),
                    ("5", "2", "4.5")]  # fmt: skip


def test_dashboard_shows_recognition_per_agent(company, ratings_set):
    html = client_for(company.it_head).get("/dashboard/").content.decode()
    recognition = dashboard_section(html, "Recognition")
    assert "3 kudos given to the department" in recognition
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>(\d+)</td></tr>', recognition)
    assert rows == [(str(company.agent), "2"), (str(company.agent2), "1")]


def test_dashboard_over_a_year_counts_the_older_rating_too(company, ratings_set):
    html = client_for(company.it_head).get("/dashboard/?period=365d").content.decode()
    satisfaction = dashboard_section(html, "Satisfaction")
    assert "6 ratings of the department" in satisfaction
    assert "4 kudos given" in dashboard_section(html, "Recognition")


def test_dashboard_of_a_department_without_ratings(company, ratings_set):
    html = client_for(company.hr_head).get("/dashboard/").content.decode()
    satisfaction = dashboard_section(html, "Satisfaction")
    assert "0 ratings of the department" in satisfaction and "—" in satisfaction
    assert "No kudos in the period." in dashboard_section(html, "Recognition")


def test_dashboard_query_count_does_not_grow_with_ratings(company, ratings_set):
    client = client_for(company.it_head)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as few:
        client.get("/dashboard/")
    for n in range(30):
        rating = rated(company, department=company.it, score=1 + n % 5, end=1 + n % 3)
        Kudos.objects.create(
            ticket=rating.ticket,
            agent=company.agent2,
            giver=company.requester,
            department=company.it,
            created_at=timezone.now(),
        )
    with CaptureQueriesContext(connection) as many:
        client.get("/dashboard/")
    assert len(few) == len(many)


def test_dashboard_panels_cost_two_aggregate_queries(
    company, ratings_set, django_assert_num_queries
):
    from feedback.rating_views import dashboard_panels

    now = timezone.now()
    # ratings grouped by score, end score and moments; kudos per agent (their sum the total)
    with django_assert_num_queries(2):
        panels = dashboard_panels(
            department_id=company.it.pk, start=now - timedelta(days=30), end=now
        )
    assert panels["rating_dashboard"]["summary"]["count"] == 5


def test_dashboard_means_round_like_sql_averages(company):
    """Scores 2, 2, 1 with end score 4: mean 5/3 → 1.67 (summary and the end-score row);
    end scores 4, 4, 4 → 4.0."""
    from feedback.rating_selectors import rating_breakdowns

    for score in (2, 2, 1):
        rated(company, department=company.it, score=score, end=4)
    now = timezone.now()
    summary, breakdown = rating_breakdowns(
        department_id=company.it.pk, start=now - timedelta(days=30), end=now + timedelta(days=1)
    )
    assert summary["count"] == 3
    assert summary["average_score"] == 1.67 and summary["average_end_score"] == 4.0
    assert summary["distribution"] == {1: 1, 2: 2, 3: 0, 4: 0, 5: 0}
    assert breakdown["by_end_score"][3] == {"end_score": 4, "count": 3, "mean_score": 1.67}
    assert breakdown["by_end_score"][0] == {"end_score": 1, "count": 0, "mean_score": None}
