"""Demo feedback for the demo company: ratings and kudos on its tickets, two past SERVQUAL
campaigns of IT and an open KANO one, suggestions and improvement actions.

Everything is written through the feedback services, then moved back in time where it is
history (like the ticket loader moves its timelines): a rating to a few hours after the
ticket's resolution, a past campaign to the quarter it ran in.
"""

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from departments.models import Department, Membership, User
from tickets.models import Notification, Status, Ticket, TicketEvent
from tickets.services import notifications_muted

from . import actions, ratings, suggestions, surveys
from .models import Kudos, OutboundEmail, Survey, TicketRating
from .questionnaires import DEFAULT_SERVQUAL_ITEMS
from .rating_selectors import kudos_candidates

# Perception drifts below expectation more in some dimensions: the demo gap chart has a story.
DIMENSION_SHORTFALL = {
    "tangibles": 0.2,
    "reliability": 0.6,
    "responsiveness": 1.4,
    "assurance": 0.3,
    "empathy": 0.8,
}
KANO_FEATURES = (
    ("self_service_reset", "自助重置密码", "能在门户上自助重置密码", "不能自助重置密码"),
    ("live_chat", "在线即时咨询", "可以在线即时咨询 IT 工程师", "不能在线即时咨询"),
    ("loaner_laptop", "维修期间借用电脑", "电脑维修期间提供备用电脑", "维修期间没有备用电脑"),
)
SUGGESTIONS = (
    ("IT", False, "会议室投屏经常连不上", "希望每间会议室贴上投屏步骤，并定期检查设备。"),
    ("IT", True, "新员工开通账号太慢", "入职第一天常常拿不到邮箱和系统权限，影响工作。"),
    ("ADM", False, "食堂晚餐时间延长", "研发部加班较多，希望晚餐供应到 19:30。"),
    ("HR", True, "培训报名流程繁琐", "报名培训需要三级审批，建议简化为部门负责人审批。"),
    ("FIN", False, "报销进度可查询", "希望在系统里看到报销单目前在谁手上。"),
    ("IT", False, "打印机驱动自动安装", "新电脑每次都要手动装打印机驱动，建议统一推送。"),
)


def load_demo_feedback(*, seed: int, write: Callable[[str], None]) -> None:
    it = Department.objects.filter(code="IT").first()
    if it is None:
        return
    if TicketRating.objects.exists() or Survey.objects.filter(provider_department=it).exists():
        write("feedback: demo feedback already loaded, none added")
        return
    rng = random.Random(seed)
    now = timezone.now()
    with notifications_muted(), transaction.atomic():
        rated, kudos = _ratings_and_kudos(rng)
        write(f"feedback: {rated} ticket ratings, {kudos} kudos")
        campaigns = _surveys(rng, it, now)
        write(f"feedback: {campaigns} survey campaigns (2 closed SERVQUAL, 1 open KANO)")
        sent = _suggestions_and_actions(rng, it, now)
        write(f"feedback: {sent} suggestions, improvement actions on IT's board")


def _ratings_and_kudos(rng: random.Random) -> tuple[int, int]:
    tickets = (
        Ticket.objects.filter(
            status__in=(Status.RESOLVED, Status.CLOSED), resolved_at__isnull=False
        )
        .select_related("requester", "assignee")
        .order_by("pk")
    )
    rated = given = 0
    for ticket in tickets:
        if rng.random() > 0.65:
            continue
        # Breached tickets are remembered worse; the end (resolution) colours the whole.
        base = 2.6 if ticket.resolution_breached or ticket.response_breached else 4.3
        score = max(1, min(5, round(rng.gauss(base, 0.9))))
        end_score = max(1, min(5, round(rng.gauss(score + 0.2, 0.7))))
        moments = [choice for choice, _label in TicketRating._meta.get_field("best_moment").choices]
        best, worst = rng.sample(moments, 2)
        ratings.rate_ticket(
            user=ticket.requester,
            ticket=ticket,
            score=score,
            end_score=end_score,
            best_moment=best if score >= 3 else "",
            worst_moment=worst if score <= 4 else "",
            comment=rng.choice(("", "", "谢谢！", "处理很及时", "沟通可以更主动一些")),
        )
        rated_at = min(ticket.resolved_at + timedelta(hours=rng.randint(1, 20)), timezone.now())
        TicketRating.objects.filter(ticket=ticket).update(created_at=rated_at, updated_at=rated_at)
        TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RATED).update(at=rated_at)
        Ticket.objects.filter(pk=ticket.pk, updated_at__lt=rated_at).update(updated_at=rated_at)
        rated += 1
        if score >= 4 and rng.random() < 0.35:
            agent = next(iter(kudos_candidates(ticket)), None)
            if agent is not None:
                ratings.give_kudos(
                    giver=ticket.requester,
                    ticket=ticket,
                    agent=agent,
                    message=rng.choice(("感谢耐心解答！", "效率很高，点赞", "帮了大忙")),
                )
                Kudos.objects.filter(ticket=ticket).update(created_at=rated_at)
                given += 1
    # History: the agents have long seen their thanks.
    Notification.objects.filter(read_at__isnull=True, kind__startswith="kudos").update(
        read_at=timezone.now()
    )
    return rated, given


def _audience(departments: list[Department]) -> list[User]:
    return list(
        User.objects.filter(department__in=departments, is_active=True).order_by("username")
    )


def _surveys(rng: random.Random, it: Department, now: datetime) -> int:
    head = (
        User.objects.filter(memberships__department=it, memberships__role=Membership.Role.HEAD)
        .order_by("pk")
        .first()
    )
    consumers = list(Department.objects.filter(code__in=("HR", "FIN", "SALES", "ADM")))
    people = _audience(consumers)
    for quarters_ago, shortfall_scale in ((2, 1.0), (1, 0.7)):
        opens = now - timedelta(days=91 * quarters_ago + 20)
        survey = surveys.create_survey(
            actor=head,
            kind=Survey.Kind.SERVQUAL,
            title=f"IT 服务质量调查（{quarters_ago} 个季度前）",
            provider_department=it,
            audience_departments=consumers,
            opens_at=now + timedelta(minutes=1),
            closes_at=now + timedelta(days=14),
        )
        surveys.open_survey(survey_id=survey.pk, now=now + timedelta(minutes=1))
        for person in people:
            if rng.random() > 0.7:
                continue
            answers = []
            for item in DEFAULT_SERVQUAL_ITEMS:
                expectation = max(1, min(7, round(rng.gauss(6.1, 0.7))))
                drop = DIMENSION_SHORTFALL[item.dimension] * shortfall_scale
                perception = max(1, min(7, round(rng.gauss(expectation - drop, 0.9))))
                answers.append(
                    {"item": item.key, "expectation": expectation, "perception": perception}
                )
            surveys.submit_response(user=person, survey=survey, answers=answers)
        surveys.close_survey(survey_id=survey.pk, now=now + timedelta(days=15))
        closes = opens + timedelta(days=14)
        Survey.objects.filter(pk=survey.pk).update(
            opens_at=opens,
            closes_at=closes,
            remind_at=None,
            opened_at=opens,
            reminded_at=None,
            closed_at=closes,
        )
        key = f"survey-invite:{survey.pk}"
        OutboundEmail.objects.filter(key=key).update(sent_at=opens)  # went out back then
        Notification.objects.filter(source_key=key).update(read_at=opens)
    kano = surveys.create_survey(
        actor=head,
        kind=Survey.Kind.KANO,
        title="IT 新服务需求调查（KANO）",
        provider_department=it,
        audience_departments=[department for department in consumers if department.code == "HR"],
        opens_at=now - timedelta(days=2),
        closes_at=now + timedelta(days=12),
        items=[
            {"key": key, "feature": feature, "functional": functional, "dysfunctional": dys}
            for key, feature, functional, dys in KANO_FEATURES
        ],
    )
    surveys.open_survey(survey_id=kano.pk, now=now)
    return 3


def _suggestions_and_actions(rng: random.Random, it: Department, now: datetime) -> int:
    departments = {d.code: d for d in Department.objects.all()}
    employees = list(User.objects.filter(department__code__in=("HR", "SALES", "RD")).order_by("pk"))
    it_staff = list(
        User.objects.filter(
            memberships__department=it,
            memberships__role__in=(Membership.Role.AGENT, Membership.Role.HEAD),
        ).order_by("pk")
    )
    head = next(
        user
        for user in User.objects.filter(
            memberships__department=it, memberships__role=Membership.Role.HEAD
        )
    )
    made = []
    for code, anonymous, title, body in SUGGESTIONS:
        made.append(
            suggestions.submit_suggestion(
                author=rng.choice(employees),
                department=departments[code],
                title=title,
                body=body,
                anonymous=anonymous,
            )
        )
    printer, onboarding = made[5], made[1]
    suggestions.answer_suggestion(
        actor=head,
        suggestion=printer,
        status="accepted",
        answer="已纳入下月的桌面标准化项目，届时新电脑会自动安装打印机驱动。",
    )
    suggestions.answer_suggestion(actor=head, suggestion=onboarding, status="under_review")
    survey = (
        Survey.objects.filter(provider_department=it, kind=Survey.Kind.SERVQUAL)
        .order_by("-closes_at")
        .first()
    )
    breached_service = (
        Ticket.objects.filter(provider_department=it)
        .filter(Q(resolution_breached=True) | Q(response_breached=True))
        .values_list("service_id", flat=True)
        .first()
    )
    owner = it_staff[1] if len(it_staff) > 1 else head
    plans = [
        (
            "缩短首次响应时间",
            "survey",
            survey.pk if survey else None,
            "do",
            "平均首次响应（分钟）",
            95,
            None,
        ),
        ("账号开通一日达", "suggestion", onboarding.pk, "plan", "入职当天开通率（%）", 62, None),
        ("高发故障知识库", "breach", breached_service, "check", "解决超时率（%）", 18, 11),
    ]
    for title, source_type, source_id, stage, metric, baseline, result in plans:
        if source_id is None:
            continue
        action = actions.save_improvement_action(
            actor=head,
            department=it,
            title=title,
            owner=owner,
            source_type=source_type,
            source_id=source_id,
            due_date=(now + timedelta(days=rng.randint(10, 60))).date(),
            metric=metric,
            baseline=baseline,
            result=result,
        )
        for _step in ("do", "check", "act"):
            if action.stage == stage:
                break
            action = actions.advance_improvement_action(actor=head, action=action)
    return len(made)
