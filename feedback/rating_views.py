"""Pages for ratings and kudos: the panels on the ticket page (rate, thank the agent), their
htmx endpoints, and the satisfaction and recognition panels of the heads' dashboard.

Reads go through `feedback.rating_selectors`, writes through `feedback.ratings`; the service is
the one place input is validated, and its field errors are put back next to the form's fields.
"""

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from departments.models import User
from servicedesk.errors import DomainError, InvalidInput
from slas import charts
from tickets import selectors
from tickets.models import Status, Ticket
from tickets.widgets import OnePassSelect

from . import rating_selectors, ratings
from .models import Moment, TicketRating

SCORE_LABELS = {
    1: gettext_lazy("very poor"),
    2: gettext_lazy("poor"),
    3: gettext_lazy("fair"),
    4: gettext_lazy("good"),
    5: gettext_lazy("excellent"),
}
SCORE_CHOICES = [(n, f"{n} – {label}") for n, label in SCORE_LABELS.items()]
MOMENT_CHOICES = [("", "—"), *Moment.choices]


class RatingForm(forms.Form):
    """Collects a rating; permissive on purpose, `rate_ticket` says what is wrong."""

    score = forms.TypedChoiceField(
        label=gettext_lazy("Overall, how satisfied are you?"),
        choices=SCORE_CHOICES,
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    end_score = forms.TypedChoiceField(
        label=gettext_lazy("How did it end? (the resolution itself)"),
        choices=SCORE_CHOICES,
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    # OnePassSelect: the stock select's markup without two template includes per option.
    best_moment = forms.ChoiceField(
        label=gettext_lazy("Best moment"),
        choices=MOMENT_CHOICES,
        required=False,
        widget=OnePassSelect,
    )
    worst_moment = forms.ChoiceField(
        label=gettext_lazy("Worst moment"),
        choices=MOMENT_CHOICES,
        required=False,
        widget=OnePassSelect,
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=ratings.COMMENT_MAX,
    )
    reopen = forms.BooleanField(
        label=gettext_lazy("Not solved: reopen this request"), required=False
    )

    def apply_service_errors(self, error: InvalidInput) -> None:
        for path, problems in error.fields.items():
            field = path if path in self.fields else None
            for problem in problems:
                self.add_error(field, problem)


class KudosForm(forms.Form):
    agent = forms.IntegerField(widget=forms.HiddenInput)
    message = forms.CharField(
        label=gettext_lazy("A word of thanks (optional)"),
        required=False,
        max_length=ratings.KUDOS_MESSAGE_MAX,
    )


# --- the ticket page ---------------------------------------------------------------------------


def _rating_initial(rating: TicketRating | None) -> dict[str, Any]:
    if rating is None:
        return {}
    return {
        "score": rating.score,
        "end_score": rating.end_score,
        "best_moment": rating.best_moment,
        "worst_moment": rating.worst_moment,
        "comment": rating.comment,
    }


def rating_panel(
    user: User,
    ticket: Ticket,
    *,
    form: RatingForm | None = None,
    error: str = "",
    saved: bool = False,
) -> dict[str, Any]:
    """What the ticket page's rating section shows to this user (one query)."""
    rating = rating_selectors.ticket_rating(ticket)
    can_rate = ratings.can_rate(user, ticket, rating)
    if can_rate and form is None:
        form = RatingForm(initial=_rating_initial(rating))
    return {
        "show": rating is not None or ticket.status in (Status.RESOLVED, Status.CLOSED),
        "rating": rating,
        "rating_score_label": SCORE_LABELS.get(rating.score) if rating else "",
        "rating_end_label": SCORE_LABELS.get(rating.end_score) if rating else "",
        "can_rate": can_rate,
        "is_requester": ticket.requester_id == user.pk,
        "closed": ticket.status == Status.CLOSED,
        "form": form if can_rate else None,
        "error": error,
        "saved": saved,
    }


def kudos_panel(
    user: User,
    ticket: Ticket,
    *,
    form: KudosForm | None = None,
    error: str = "",
    thanked: str = "",
) -> dict[str, Any]:
    """Thank-the-agent buttons for the requester and the kudos given on this ticket
    (two queries for the requester, one for anyone else)."""
    given = rating_selectors.ticket_kudos_rows(user, ticket)
    candidates: list[dict[str, Any]] = []
    requester = ticket.requester_id == user.pk
    if requester and ticket.status in (Status.RESOLVED, Status.CLOSED):
        mine = {k["agent_id"] for k in given if k["giver_id"] == user.pk}
        candidates = [
            {"agent": agent, "thanked": agent.pk in mine}
            for agent in rating_selectors.kudos_candidates(ticket)
        ]
    return {
        "show": bool(candidates) or bool(given),
        "candidates": candidates,
        "given": given,
        "form": form or KudosForm(),
        "error": error,
        "thanked": thanked,
    }


def _ticket(request: HttpRequest, reference: str) -> Ticket:
    return get_object_or_404(selectors.ticket_list(request.user), reference=reference)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_text(error: DomainError) -> str:
    if isinstance(error, InvalidInput):
        return "; ".join(m for problems in error.fields.values() for m in problems)
    return str(error.detail)


@login_required
@require_POST
def rate(request: HttpRequest, reference: str) -> HttpResponse:
    """Save the rating form. htmx gets the section back (errors next to the fields; the
    status is 200 so htmx swaps it in); without htmx, a redirect or the page with a 4xx."""
    ticket = _ticket(request, reference)
    form = RatingForm(request.POST)
    form.is_valid()  # permissive: only shapes values; the service validates
    values = form.cleaned_data
    error = ""
    status = 200
    try:
        ratings.rate_ticket(
            user=request.user,
            ticket=ticket,
            score=values.get("score"),
            end_score=values.get("end_score"),
            best_moment=values.get("best_moment") or "",
            worst_moment=values.get("worst_moment") or "",
            comment=values.get("comment") or request.POST.get("comment", ""),
            reopen=bool(values.get("reopen")),
        )
    except InvalidInput as problem:
        form.apply_service_errors(problem)
        status = 400
    except DomainError as problem:
        error, status = _error_text(problem), problem.http_status
    else:
        reopened = bool(values.get("reopen"))
        if _is_htmx(request) and not reopened:
            ticket.refresh_from_db()
            return render(
                request,
                "feedback/_rating.html",
                {"ticket": ticket, "rating_panel": rating_panel(request.user, ticket, saved=True)},
            )
        if reopened:
            messages.success(request, _("Thank you. Your request was reopened."))
        else:
            messages.success(request, _("Thank you for your rating."))
        if _is_htmx(request):
            # The ticket moved (reopened): the whole page changes, not just this section. No
            # fragment in the address: a same-page "#rating" would not reload the page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"/tickets/{ticket.reference}/"
            return response
        return redirect(f"/tickets/{ticket.reference}/#rating")
    ticket.refresh_from_db()
    panel = rating_panel(request.user, ticket, form=form, error=error)
    if not panel["can_rate"]:
        panel["error"] = error or _("You may not rate this ticket now.")
    if _is_htmx(request):
        return render(request, "feedback/_rating.html", {"ticket": ticket, "rating_panel": panel})
    return _ticket_page(request, ticket, rating=panel, status=status)


@login_required
@require_POST
def thank(request: HttpRequest, reference: str) -> HttpResponse:
    """Give kudos to an agent of the ticket (htmx: the kudos section comes back)."""
    ticket = _ticket(request, reference)
    form = KudosForm(request.POST)
    error = ""
    thanked = ""
    status = 200
    if not form.is_valid():
        error, status = _("Choose an agent to thank."), 400
    else:
        agent = User.objects.filter(pk=form.cleaned_data["agent"]).first()
        try:
            if agent is None:
                raise InvalidInput({"agent": [_("must be an agent who worked on this ticket")]})
            ratings.give_kudos(
                giver=request.user,
                ticket=ticket,
                agent=agent,
                message=form.cleaned_data.get("message") or "",
            )
        except DomainError as problem:
            error, status = _error_text(problem), problem.http_status
        else:
            thanked = _("You thanked %(agent)s.") % {"agent": agent}
    panel = kudos_panel(request.user, ticket, error=error, thanked=thanked)
    if _is_htmx(request):
        return render(request, "feedback/_kudos.html", {"ticket": ticket, "kudos_panel": panel})
    if not error:
        messages.success(request, thanked)
        return redirect(f"/tickets/{ticket.reference}/#kudos")
    return _ticket_page(request, ticket, kudos=panel, status=status)


def _ticket_page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    rating: dict[str, Any] | None = None,
    kudos: dict[str, Any] | None = None,
    status: int,
) -> HttpResponse:
    """The whole ticket page with the panel that carries the errors (no-JavaScript path)."""
    from tickets.views import _render_ticket

    request.feedback_panels = {"rating_panel": rating, "kudos_panel": kudos}  # type: ignore[attr-defined]
    return _render_ticket(request, ticket, status=status)


def ticket_panels(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """The rating and kudos sections of the ticket page (called by `tickets.views`)."""
    given: dict[str, Any] = getattr(request, "feedback_panels", None) or {}
    return {
        "rating_panel": given.get("rating_panel") or rating_panel(request.user, ticket),
        "kudos_panel": given.get("kudos_panel") or kudos_panel(request.user, ticket),
    }


# --- the heads' dashboard ----------------------------------------------------------------------


def dashboard_panels(*, department_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Satisfaction (ratings, peak-end) and recognition (kudos) of a provider department in a
    period: two aggregate queries whatever the number of ratings."""
    summary, breakdown = rating_selectors.rating_breakdowns(
        department_id=department_id, start=start, end=end
    )
    top, total_kudos = rating_selectors.kudos_recognition(
        department_id=department_id, start=start, end=end
    )
    labels = dict(Moment.choices)
    distribution = [(str(n), count) for n, count in summary["distribution"].items()]
    moments = [
        {
            "label": str(labels[key]),
            "best": breakdown["best"][key],
            "worst": breakdown["worst"][key],
        }
        for key in Moment.values
    ]
    by_end = breakdown["by_end_score"]
    ratings_panel = {
        "summary": summary,
        "distribution": distribution,
        "distribution_chart": charts.bar_chart(
            title=_("Ratings by score"),
            desc=_("How many ratings gave each overall score from 1 (very poor) to 5 (excellent)."),
            bars=distribution,
            x_label=_("Score"),
            y_label=_("Ratings"),
        ),
        "moments": moments,
        "moments_chart": charts.bar_chart(
            title=_("Best moments"),
            desc=_("How often each moment of the ticket was named the best one."),
            bars=[(row["label"], row["best"]) for row in moments],
            x_label=_("Moment"),
            y_label=_("Ratings"),
        ),
        "worst_chart": charts.bar_chart(
            title=_("Worst moments"),
            desc=_("How often each moment of the ticket was named the worst one."),
            bars=[(row["label"], row["worst"]) for row in moments],
            x_label=_("Moment"),
            y_label=_("Ratings"),
        ),
        "by_end_score": by_end,
        "end_chart": charts.bar_chart(
            title=_("Mean score by end score"),
            desc=_(
                "For each end score (how the ticket ended, 1–5), the mean overall score of "
                "those ratings: the peak-end effect."
            ),
            bars=[
                (str(row["end_score"]), row["mean_score"] or 0) for row in by_end if row["count"]
            ],
            x_label=_("End score"),
            y_label=_("Mean score"),
        ),
    }
    kudos_dashboard = {
        "total": total_kudos,
        "agents": [{"agent": agent, "count": n} for agent, n in top],
        "chart": charts.bar_chart(
            title=_("Kudos per agent"),
            desc=_("Thanks received by the department's agents in the period (most first)."),
            bars=[(str(agent), n) for agent, n in top],
            x_label=_("Agent"),
            y_label=_("Kudos"),
        ),
    }
    return {"rating_dashboard": ratings_panel, "kudos_dashboard": kudos_dashboard}
