"""Loading a large, realistic company into a benchmark database, fast (PostgreSQL COPY).

Shared by the benchmarks (`bench.sla_sweep`, `bench.run`) and the `generate_dataset` management
command. The helpers at the top prepare a benchmark database (create it, point Django at it); the
generator below fills one with departments, people, a service catalog, SLA policies and two years
of tickets with their timelines, comments, escalations and ratings.

Tickets' SLA fields are computed with the real business calendar (China's official schedule,
imported into the database as the product does), on a precomputed "business-time axis": every
working interval of the period with its cumulative business seconds, so adding business time or
measuring it is a bisection instead of a walk over the calendar. The axis is checked against
`slas.business_time` on random samples before anything is written.
"""

import bisect
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

BENCH_PASSWORD = "bench12345"  # noqa: S105 - every generated account; benchmark databases only
INFO_TABLE = "bench_dataset_info"  # one row describing what the generator loaded (no model)


# -- Benchmark databases --------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def is_bench_database(name: str) -> bool:
    return "bench" in name


def ensure_database(url: str) -> bool:
    """Create the benchmark database when missing (through the server's `postgres` database).

    Returns True when it was created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    with psycopg.connect(server_conninfo(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        log(f"creating database {name}")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def server_conninfo(url: str, dbname: str = "postgres") -> str:
    import psycopg

    parts = urlsplit(url)
    return psycopg.conninfo.make_conninfo(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        dbname=dbname,
    )


def database_conninfo(url: str) -> str:
    return server_conninfo(url, unquote(urlsplit(url).path.lstrip("/")))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "servicedesk.settings"
    os.environ["DEBUG"] = "false"  # as in production: no query log kept in memory
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def copy_rows(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """COPY rows (sequences in `columns` order) into `table` with a psycopg 3 cursor."""
    names = ", ".join(f'"{column}"' for column in columns)
    count = 0
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608 - our names
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


class Progress:
    """Rows per second and the time left, printed every `every` seconds at most."""

    def __init__(self, label: str, total: int, every: float = 5.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.started = self.last = time.perf_counter()

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed else 0.0
        eta = (self.total - done) / rate if rate else 0.0
        log(
            f"  {self.label}: {done:,}/{self.total:,} ({100 * done / max(self.total, 1):.0f} %)"
            f", {rate:,.0f}/s, ETA {eta:.0f}s{extra}"
        )


# -- The business-time axis -----------------------------------------------------------------------


class BusinessAxis:
    """Working intervals between two dates as epoch seconds, with cumulative business seconds.

    `at(b)` is the instant where b business seconds have elapsed since the axis origin (the end of
    an interval when b falls exactly on it, as `add_business_seconds` does); `position(t)` is the
    business seconds elapsed at t (a non-working instant counts as the next opening).
    """

    def __init__(self, cal: Any, first_day: date, last_day: date) -> None:
        zone = ZoneInfo(cal.timezone)
        self.zone = zone
        starts: list[float] = []
        ends: list[float] = []
        cumulative_starts: list[float] = []
        total = 0.0
        day_end_of_work: dict[date, float] = {}
        working_days: list[date] = []
        day = first_day
        while day <= last_day:
            intervals = cal.intervals_on(day)
            for opening, closing in intervals:
                start = datetime.combine(day, opening, tzinfo=zone).timestamp()
                end = datetime.combine(day, closing, tzinfo=zone).timestamp()
                starts.append(start)
                ends.append(end)
                cumulative_starts.append(total)
                total += end - start
            if intervals:
                working_days.append(day)
                day_end_of_work[day] = datetime.combine(
                    day, intervals[-1][1], tzinfo=zone
                ).timestamp()
            day += timedelta(days=1)
        self.starts, self.ends, self.cumulative_starts = starts, ends, cumulative_starts
        self.cumulative_ends = [
            c + (e - s) for c, s, e in zip(cumulative_starts, starts, ends, strict=True)
        ]
        self.first_day, self.last_day = first_day, last_day
        self.working_days = working_days
        self.day_end_of_work = day_end_of_work

    def position(self, instant: float) -> float:
        index = bisect.bisect_right(self.starts, instant) - 1
        if index < 0:
            return 0.0
        if instant < self.ends[index]:
            return self.cumulative_starts[index] + (instant - self.starts[index])
        return self.cumulative_ends[index]

    def at(self, position: float) -> float:
        index = bisect.bisect_left(self.cumulative_ends, position)
        if index >= len(self.starts):
            raise ValueError("beyond the business-time axis: lengthen it")
        return self.starts[index] + (position - self.cumulative_starts[index])

    def add(self, instant: float, seconds: float) -> float:
        if seconds <= 0:
            return instant
        return self.at(self.position(instant) + seconds)

    def between(self, start: float, end: float) -> float:
        return self.position(end) - self.position(start)

    def business_days_later(self, instant: float, days: int) -> float:
        """The end of the `days`-th working day after the local day of `instant`."""
        local_day = datetime.fromtimestamp(instant, self.zone).date()
        index = bisect.bisect_right(self.working_days, local_day)
        return self.day_end_of_work[self.working_days[index + days - 1]]


def check_axis(axis: BusinessAxis, cal: Any, start: float, end: float, samples: int = 300) -> None:
    """The axis agrees with the engine's own business-time arithmetic (or we stop here)."""
    from slas.business_time import add_business_seconds, business_seconds_between
    from slas.clocks import business_days_later

    rng = random.Random(7)
    for _ in range(samples):
        a = rng.uniform(start, end)
        if rng.random() < 0.3:  # exact openings and closings are the edge cases
            a = rng.choice(axis.starts + axis.ends[: len(axis.ends) // 2])
            a = min(max(a, start), end)
        seconds = rng.choice([60.0, 1800.0, 3600.0, 4 * 3600.0, 28800.0, 144000.0]) * rng.choice(
            [0.5, 0.75, 1.0, 1.5]
        )
        moment = datetime.fromtimestamp(a, UTC)
        expected = add_business_seconds(cal, moment, seconds).timestamp()
        got = axis.add(a, seconds)
        if abs(expected - got) > 1e-3:
            raise AssertionError(f"axis add({moment}, {seconds}) = {got}, engine says {expected}")
        b = a + rng.uniform(0, 30 * 86400)
        expected_between = business_seconds_between(cal, moment, datetime.fromtimestamp(b, UTC))
        if abs(expected_between - axis.between(a, b)) > 1e-3:
            raise AssertionError(f"axis between disagrees at {moment}")
        expected_close = business_days_later(cal, moment, 3).timestamp()
        if abs(expected_close - axis.business_days_later(a, 3)) > 1e-3:
            raise AssertionError(f"axis business_days_later disagrees at {moment}")


# -- The company ----------------------------------------------------------------------------------

# (code, name, share of the tickets it receives as provider; 0 = not a provider)
CORE_DEPARTMENTS = (
    ("GM", "总经办", 0.0),
    ("HR", "人力资源部", 0.12),
    ("IT", "信息技术部", 0.30),
    ("FIN", "财务部", 0.10),
    ("ADM", "行政部", 0.12),
    ("MKT", "市场部", 0.03),
    ("SALES", "销售部", 0.02),
    ("LEGAL", "法务部", 0.04),
    ("PUR", "采购部", 0.05),
    ("PROD", "生产部", 0.0),
    ("QA", "质量部", 0.02),
    ("RD", "研发部", 0.02),
)
REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北", "海外")
FUNCTIONS = ("销售", "客服", "物流", "仓储", "工程", "培训", "审计", "安全", "设施", "数据")
CORE_SERVICES = {
    "IT": (
        ("笔记本电脑申请", "硬件"),
        ("账号与权限开通", "账号"),
        ("VPN 与网络故障", "网络"),
        ("软件安装", "软件"),
        ("打印机故障", "硬件"),
        ("邮箱问题", "账号"),
        ("会议室设备支持", "硬件"),
    ),
    "HR": (
        ("招聘需求", "招聘"),
        ("在职证明开具", "证明"),
        ("社保公积金咨询", "薪酬福利"),
        ("入职手续", "入离职"),
        ("培训报名", "培训"),
    ),
    "FIN": (
        ("费用报销咨询", "报销"),
        ("发票开具", "发票"),
        ("预算调整", "预算"),
        ("付款申请", "付款"),
    ),
    "ADM": (
        ("办公用品申领", "办公"),
        ("会议室预订问题", "会议"),
        ("工位调整", "办公"),
        ("快递收发", "后勤"),
        ("门禁卡办理", "安保"),
    ),
    "LEGAL": (("合同审核", "合同"), ("法律咨询", "咨询")),
    "PUR": (("采购申请", "采购"), ("供应商引入", "供应商")),
}
GENERIC_SERVICES = (
    ("业务咨询", "咨询"),
    ("资料申请", "资料"),
    ("问题反馈", "反馈"),
    ("协助处理", "协助"),
)
SUBJECTS = (
    "请尽快处理",
    "急需支持",
    "新员工入职需要",
    "项目上线前需要",
    "客户拜访前需要",
    "月底结账需要",
    "请协助确认",
    "再次申请",
    "部门季度计划",
    "临时需求",
)
DESCRIPTIONS = (
    "详见标题，谢谢！",
    "麻烦尽快安排，本周内需要，谢谢。",
    "已和主管沟通过，请协助办理。",
    "之前提过一次但没有结果，请帮忙跟进。",
    "有疑问可以直接电话联系我。\n\n附：具体需求见表单。",
)
PUBLIC_REPLIES = (
    "收到，正在处理中。",
    "请提供一下具体的型号和数量，谢谢。",
    "已经安排同事跟进，预计今天内完成。",
    "请问方便什么时候电话沟通一下？",
    "已处理完毕，请确认。如有问题可重新打开工单。",
    "补充说明：如有疑问可直接电话联系我。",
    "请问大概什么时候能处理？比较急。",
    "已确认，谢谢！",
    "**注意**：需要部门负责人审批后才能继续。",
    "好的，我下午把材料补上。",
)
INTERNAL_NOTES = (
    "需要找供应商确认库存。",
    "这个需求上周也有类似的，可以参考之前的处理。",
    "已与负责人电话沟通，等待审批。",
    "内部备注：优先级可能需要调整。",
    "转二线支持处理。",
)
FAMILY_NAMES = "张王李刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐韩冯邓曹彭曾萧田董潘袁"
GIVEN_NAMES = "伟芳敏丽磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红梅"
PRIORITIES = (("urgent", 0.05), ("high", 0.15), ("normal", 0.65), ("low", 0.15))
SOURCES = (("web", 0.80), ("api", 0.15), ("email", 0.05))
TARGETS = {  # business minutes
    "standard": {
        "urgent": {"response": 30, "resolution": 240},
        "high": {"response": 60, "resolution": 480},
        "normal": {"response": 120, "resolution": 1440},
        "low": {"response": 480, "resolution": 2400},
    },
    "fast": {
        "urgent": {"response": 15, "resolution": 120},
        "high": {"response": 30, "resolution": 240},
        "normal": {"response": 60, "resolution": 960},
        "low": {"response": 240, "resolution": 1920},
    },
}
LADDER = [
    {"at_percent": 100, "notify": "department_head"},
    {"at_percent": 150, "notify": "parent_department_head"},
]
WARNING_PERCENT = 75
OPEN_SHARE = 0.20
RATED_SHARE = 0.35
HISTORY_DAYS = 730
CHUNK = 20_000
AUTO_CLOSE_DAYS = 3


@dataclass
class DatasetOptions:
    tickets: int = 10_000
    departments: int = 50
    users: int = 5_000
    events_per_ticket: float = 3.0  # about; the timeline decides
    comments_per_ticket: float = 2.0
    seed: int = 2026
    now: datetime | None = None
    keep_indexes: bool = False  # else drop secondary indexes during the load, rebuild after
    chunk: int = CHUNK


@dataclass
class Dept:
    id: int
    code: str
    name: str
    parent_id: int | None
    share: float
    members: list[int] = field(default_factory=list)
    agents: list[int] = field(default_factory=list)
    head: int | None = None
    services: list[tuple[int, str]] = field(default_factory=list)  # (id, name)
    policy_id: int | None = None


@dataclass
class Step:
    key: str
    percent: int
    notify: str


STEPS = sorted(
    [Step("warning", WARNING_PERCENT, "assignee"), Step("breach", 100, "assignee")]
    + [
        Step(
            f"ladder:{level['at_percent']}:{level['notify']}", level["at_percent"], level["notify"]
        )
        for level in LADDER
    ],
    key=lambda s: (s.percent, s.key),
)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in pairs:
        total += weight
        if roll < total:
            return value
    return pairs[-1][0]


def _department_specs(count: int) -> list[tuple[str, str, float]]:
    specs = list(CORE_DEPARTMENTS[: min(count, len(CORE_DEPARTMENTS))])
    number = 0
    while len(specs) < count:
        region = REGIONS[(number // len(FUNCTIONS)) % len(REGIONS)]
        function = FUNCTIONS[number % len(FUNCTIONS)]
        cycle = number // (len(REGIONS) * len(FUNCTIONS))
        name = f"{region}{function}部" + (f"{cycle + 1}" if cycle else "")
        share = 0.01 if number % 3 == 0 else 0.0  # a third of the extra departments serve others
        specs.append((f"D{len(specs) + 1:03d}", name, share))
        number += 1
    if not any(share for _c, _n, share in specs):
        raise ValueError("at least three departments are needed (one provider, its consumers)")
    return specs


def build_company(options: DatasetOptions, rng: random.Random) -> tuple[list[Dept], dict]:
    """Departments, users, memberships, calendar, policies, services (ORM: a few thousand rows)."""
    from django.contrib.auth.hashers import make_password

    from departments.models import Department, Membership, User
    from slas.calendars import import_china_years
    from slas.models import Agreement, SlaPolicy
    from tickets.models import Service

    now = options.now or datetime.now(UTC)
    first_year = (now - timedelta(days=HISTORY_DAYS + 2)).year
    known_years = [y for y in range(first_year, now.year + 2) if _package_knows(y)]
    calendar, _imports = import_china_years(years=known_years)
    policies = {
        key: SlaPolicy.objects.create(
            name=f"基准 {label}",
            calendar=calendar,
            targets=TARGETS[key],
            warning_percent=WARNING_PERCENT,
            ladder=LADDER,
        )
        for key, label in (("standard", "标准服务"), ("fast", "快速响应"))
    }

    specs = _department_specs(options.departments)
    depts: list[Dept] = []
    objects = Department.objects.bulk_create(
        [Department(code=code, name=name) for code, name, _share in specs]
    )
    for obj, (code, name, share) in zip(objects, specs, strict=True):
        depts.append(Dept(obj.pk, code, name, None, share))
    root = depts[0]
    for index, dept in enumerate(depts[1:], start=1):
        # Core departments report to the general office; extra ones to a core department.
        dept.parent_id = root.id if index < len(CORE_DEPARTMENTS) else depts[1 + index % 11].id
        if dept.share:
            dept.policy_id = policies["fast" if dept.code == "IT" else "standard"].pk
    Department.objects.bulk_update(
        [
            Department(pk=d.id, parent_id=d.parent_id, default_sla_policy_id=d.policy_id)
            for d in depts
        ],
        ["parent_id", "default_sla_policy_id"],
    )
    total_share = sum(d.share for d in depts)
    for dept in depts:
        dept.share /= total_share

    # People: department sizes vary (a few big ones); every department has at least 3 people.
    sizes = [max(3.0, rng.paretovariate(1.6)) for _ in depts]
    scale = max(options.users - 3 * len(depts), 0) / sum(sizes)
    counts = [3 + int(s * scale) for s in sizes]
    counts[0] += options.users - sum(counts)
    if counts[0] < 3:
        raise ValueError("--users must be at least 3 per department")
    password = make_password(BENCH_PASSWORD)
    users: list[User] = []
    owners: list[Dept] = []
    for dept, count in zip(depts, counts, strict=True):
        for _ in range(count):
            number = len(users) + 1
            users.append(
                User(
                    username=f"u{number:06d}",
                    first_name=rng.choice(GIVEN_NAMES) + rng.choice(("", rng.choice(GIVEN_NAMES))),
                    last_name=rng.choice(FAMILY_NAMES),
                    email=f"u{number:06d}@bench.example.com",
                    password=password,
                    department_id=dept.id,
                    date_joined=now - timedelta(days=HISTORY_DAYS + 30),
                )
            )
            owners.append(dept)
    User.objects.bulk_create(users, batch_size=2000)
    admin = User.objects.create(
        username="bench-admin",
        email="bench-admin@bench.example.com",
        password=password,
        is_staff=True,
        is_superuser=True,
    )
    memberships: list[Membership] = []
    for user, dept in zip(users, owners, strict=True):
        dept.members.append(user.pk)
    for dept in depts:
        dept.head = dept.members[0]
        if dept.share:
            wanted = max(2, round(len(dept.members) * 0.2))
            dept.agents = dept.members[1 : 1 + wanted]
        for user_id in dept.members:
            role = (
                Membership.Role.HEAD
                if user_id == dept.head
                else Membership.Role.AGENT
                if user_id in dept.agents
                else Membership.Role.MEMBER
            )
            memberships.append(Membership(user_id=user_id, department_id=dept.id, role=role))
    Membership.objects.bulk_create(memberships, batch_size=5000)

    services: list[Service] = []
    owners_of_service: list[Dept] = []
    for dept in depts:
        if not dept.share:
            continue
        catalog = CORE_SERVICES.get(dept.code, GENERIC_SERVICES)
        for name, category in catalog:
            services.append(
                Service(
                    department_id=dept.id,
                    name=name,
                    category=category,
                    description=f"{dept.name}提供的服务：{name}。",
                    default_priority="normal",
                )
            )
            owners_of_service.append(dept)
    Service.objects.bulk_create(services)
    for service, dept in zip(services, owners_of_service, strict=True):
        dept.services.append((service.pk, service.name))
    # The general office gets IT's fast lane for everything (an OLA, the most specific rule).
    it = next((d for d in depts if d.code == "IT" and d.share), None)
    if it is not None:
        Agreement.objects.create(
            provider_department_id=it.id,
            consumer_department_id=root.id,
            policy=policies["fast"],
            relation_type=Agreement.RelationType.HIERARCHICAL,
        )
    context = {
        "calendar": calendar,
        "policies": {p.pk: p for p in policies.values()},
        "fast_policy_id": policies["fast"].pk,
        "it_id": it.id if it else None,
        "root_id": root.id,
        "admin_id": admin.pk,
        "usernames": {u.pk: u.username for u in users},
        "user_department": {u.pk: u.department_id for u in users},
        "all_user_ids": [u.pk for u in users],
    }
    return depts, context


def _package_knows(year: int) -> bool:
    import chinese_calendar

    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# -- Tickets --------------------------------------------------------------------------------------


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


TICKET_COLUMNS = (
    "id",
    "reference",
    "title",
    "description",
    "service_id",
    "provider_department_id",
    "requester_id",
    "requester_department_id",
    "assignee_id",
    "priority",
    "status",
    "form_data",
    "source",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "sla_policy_id",
    "response_due_at",
    "resolution_due_at",
    "response_breached",
    "resolution_breached",
    "next_sla_check_at",
    "resolution_paused_seconds",
    "clock_paused_at",
    "response_business_seconds",
    "resolution_business_seconds",
    "auto_close_at",
    "sla_warnings",
)
EVENT_COLUMNS = ("ticket_id", "kind", "actor_id", "from_value", "to_value", "internal", "at")
COMMENT_COLUMNS = ("ticket_id", "author_id", "body", "body_html", "internal", "created_at")
ESCALATION_COLUMNS = (
    "ticket_id",
    "clock",
    "step",
    "at_percent",
    "notify",
    "due_at",
    "fired_at",
    "notified_at",
    "attempts",
)
RATING_COLUMNS = (
    "ticket_id",
    "provider_department_id",
    "agent_id",
    "score",
    "best_moment",
    "worst_moment",
    "end_score",
    "comment",
    "created_at",
    "updated_at",
)
MOMENTS = ("first_response", "communication", "expertise", "speed", "resolution")


def _extra_columns(model: Any, columns: Sequence[str]) -> tuple[list[str], list[Any]]:
    """Columns the model gained since this generator was written, with their defaults (a model
    change that needs a real value fails here rather than loading wrong data)."""
    from django.db.models import JSONField

    names, values = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.column in columns or model_field.primary_key:
            continue
        if not model_field.has_default() and not model_field.null:
            raise ValueError(
                f"{model.__name__}.{model_field.name} needs a value: teach bench.dataset"
            )
        value = model_field.get_default() if model_field.has_default() else None
        if isinstance(model_field, JSONField):
            value = json.dumps(value)
        names.append(model_field.column)
        values.append(value)
    return names, values


class TicketFactory:
    """One ticket's row, timeline, comments, fired escalations and rating, all consistent."""

    def __init__(
        self,
        rng: random.Random,
        axis: BusinessAxis,
        depts: list[Dept],
        context: dict,
        now: float,
        comments_per_ticket: float,
    ) -> None:
        from tickets.rendering import render_markdown

        self.rng, self.axis, self.now = rng, axis, now
        self.providers = [d for d in depts if d.share]
        self.provider_weights = [d.share for d in self.providers]
        self.cumulative = []
        total = 0.0
        for weight in self.provider_weights:
            total += weight
            self.cumulative.append(total)
        self.context = context
        self.policies = context["policies"]
        self.users = context["all_user_ids"]
        self.user_department = context["user_department"]
        self.usernames = context["usernames"]
        self.sequences: Counter[tuple[int, int]] = Counter()
        self.comments_per_ticket = comments_per_ticket
        self.public_html = {body: render_markdown(body) for body in PUBLIC_REPLIES}
        self.internal_html = {body: render_markdown(body) for body in INTERNAL_NOTES}
        self.zone = axis.zone
        self.year_cache: dict[int, int] = {}
        calendar = context["calendar"]
        self.covered_years = set(calendar.years or [])
        self.warning_cache: dict[int, list] = {}

    def _year(self, instant: float) -> int:
        """The local year of `instant`, kept per quarter hour: every zone's offset is a whole
        number of them, so no quarter hour spans a new year (a UTC day did: at 16:00 UTC on
        31 December, Shanghai's new year began within it)."""
        quarter = int(instant // 900)
        year = self.year_cache.get(quarter)
        if year is None:
            year = datetime.fromtimestamp(instant, self.zone).year
            self.year_cache[quarter] = year
        return year

    def _provider(self) -> Dept:
        index = bisect.bisect_left(self.cumulative, self.rng.random() * self.cumulative[-1])
        return self.providers[min(index, len(self.providers) - 1)]

    def _requester(self, provider: Dept) -> int:
        while True:
            user = self.rng.choice(self.users)
            if self.user_department[user] != provider.id:
                return user

    def _warnings(self, *dues: float | None) -> str:
        years = sorted({self._year(d) for d in dues if d is not None} - self.covered_years)
        if not years:
            return "[]"
        return json.dumps(
            [
                {
                    "code": "calendar_year_unknown",
                    "detail": f"The business calendar has no holidays for {year}; due times in "
                    "that year count the weekly hours only.",
                }
                for year in years
            ],
            ensure_ascii=False,
        )

    def make(self, ticket_id: int, created: float, open_: bool) -> dict[str, Any]:
        rng, axis, now = self.rng, self.axis, self.now
        provider = self._provider()
        service_id, service_name = rng.choice(provider.services)
        requester = self._requester(provider)
        consumer = self.user_department[requester]
        policy_id = (
            self.context["fast_policy_id"]
            if provider.id == self.context["it_id"] and consumer == self.context["root_id"]
            else provider.policy_id
        )
        policy = self.policies[policy_id]
        priority = _weighted(rng, PRIORITIES)
        target = policy.targets[priority]
        response_target = target["response"] * 60.0
        resolution_target = target["resolution"] * 60.0
        year = self._year(created)
        self.sequences[(provider.id, year)] += 1
        reference = f"{provider.code}-{year}-{self.sequences[(provider.id, year)]:06d}"
        start = axis.position(created)
        response_due = axis.at(start + response_target)

        # How it went: business seconds to first response and to resolution (log-normal around
        # half the target: most tickets meet it, about one in six does not).
        response_taken = response_target * rng.lognormvariate(math.log(0.45), 0.8)
        resolution_taken = max(
            response_taken * 1.2, resolution_target * rng.lognormvariate(math.log(0.45), 0.75)
        )
        paused = 0.0
        if rng.random() < 0.15:  # waited on the requester at some point
            # Whole seconds: due times stay exact to the microsecond in float epoch arithmetic.
            paused = float(round(min(resolution_taken, 3600 * 4) * rng.lognormvariate(0, 0.8)))
        assignee = rng.choice(provider.agents)
        first_response: float | None = axis.at(start + response_taken)
        resolved = closed = auto_close = clock_paused = None
        status = "closed"
        resolution_seconds: float | None = resolution_taken
        cancelled = False
        if open_:
            resolution_seconds = None
            if first_response > now or rng.random() < 0.12:
                first_response = None
                status = "new" if rng.random() < 0.45 else "assigned"
            else:
                status = "waiting" if rng.random() < 0.2 else "in_progress"
            if status == "new":
                assignee = None
            if status == "waiting":
                clock_paused = min(now, first_response + rng.uniform(60, 86400 * 2))
                paused = 0.0  # the pause under way is not counted yet
        elif rng.random() < 0.06:
            cancelled, status = True, "cancelled"
            resolution_seconds = None
            if rng.random() < 0.5:
                first_response = None
        else:
            resolved = axis.at(start + resolution_taken + paused)
            if resolved > now:  # a recent ticket: it was resolved faster than usual
                resolved = rng.uniform(max(first_response, created), now)
                first_response = min(first_response, resolved)
                resolution_seconds = axis.between(created, resolved) - paused
                if resolution_seconds <= 0:
                    paused, resolution_seconds = 0.0, axis.between(created, resolved)
            auto_close = axis.business_days_later(resolved, AUTO_CLOSE_DAYS)
            if auto_close <= now:
                closed = (
                    auto_close
                    if rng.random() < 0.7
                    else rng.uniform(resolved, min(auto_close, now))
                )
                auto_close = None
            else:
                status, clock_paused = "resolved", resolved
        resolution_due = axis.at(start + resolution_target + paused)
        ended = None
        if cancelled:  # withdrawn within days by the requester (or the provider's head)
            ended = min(now, created + 3600 * rng.lognormvariate(math.log(20), 1.0))
            if first_response is not None and first_response > ended:
                first_response = None
        response_seconds = None
        if first_response is not None:
            response_seconds = axis.between(created, first_response)
        # Breaches: a moment of truth after its due time, or a running clock past it.
        response_breached = (
            first_response > response_due
            if first_response is not None
            else response_due <= (ended or now)
        )
        resolution_breached = (
            resolved > resolution_due
            if resolved is not None
            else resolution_due <= (clock_paused or ended or now)
        )

        escalations: list[tuple] = []
        next_check = None
        if open_:
            running = []
            if first_response is None:
                running.append(("response", 0.0, response_target))
            if status in ("new", "assigned", "in_progress"):
                running.append(("resolution", paused, resolution_target))
            pending = []
            for clock, pause, clock_target in running:
                for step in STEPS:
                    instant = axis.at(start + clock_target * step.percent / 100 + pause)
                    if instant <= now:
                        fired = instant + rng.uniform(5, 55)
                        escalations.append(
                            (
                                ticket_id,
                                clock,
                                step.key,
                                step.percent,
                                step.notify,
                                _ts(instant),
                                _ts(fired),
                                _ts(fired + 2),
                                1,
                            )
                        )
                    else:
                        pending.append(instant)
            next_check = min(pending) if pending else None

        updated = max(
            x for x in (created, first_response, resolved, closed, clock_paused) if x is not None
        )
        if cancelled:
            updated = ended
        actor_provider = assignee or provider.head
        events: list[tuple] = [(ticket_id, "created", requester, "", "new", False, _ts(created))]
        if assignee is not None and first_response is None and not cancelled:
            # Assigned, no response yet (afterwards the first response names who took it).
            at = min(now, created + rng.uniform(60, 7200))
            events.append(
                (ticket_id, "assigned", provider.head, "", self.usernames[assignee], False, _ts(at))
            )
        if first_response is not None:
            events.append(
                (ticket_id, "first_response", actor_provider, "", "", False, _ts(first_response))
            )
        if response_breached:
            events.append(
                (ticket_id, "sla_breached", None, "response", "100%", True, _ts(response_due))
            )
        if resolution_breached:
            events.append(
                (ticket_id, "sla_breached", None, "resolution", "100%", True, _ts(resolution_due))
            )
        if resolved is not None:
            events.append((ticket_id, "resolved", actor_provider, "", "", False, _ts(resolved)))
        if closed is not None:
            events.append(
                (ticket_id, "status_changed", None, "resolved", "closed", False, _ts(closed))
            )
        if cancelled:
            events.append(
                (ticket_id, "status_changed", requester, "new", "cancelled", False, _ts(ended))
            )

        comments: list[tuple] = []
        count = min(6, int(rng.expovariate(1 / self.comments_per_ticket) + 0.5))
        last = updated if updated > created else created + 60
        for _ in range(count):
            at = rng.uniform(created, last)
            if rng.random() < 0.25:
                body = rng.choice(INTERNAL_NOTES)
                author = actor_provider
                comments.append((ticket_id, author, body, self.internal_html[body], True, _ts(at)))
                continue
            body = rng.choice(PUBLIC_REPLIES)
            # A public provider reply is a first response: never before the recorded one.
            if first_response is not None and at >= first_response and rng.random() < 0.5:
                author = actor_provider
            else:
                author = requester
            comments.append((ticket_id, author, body, self.public_html[body], False, _ts(at)))

        rating = None
        if (resolved is not None) and rng.random() < RATED_SHARE:
            breached = response_breached or resolution_breached
            score = _weighted(
                rng,
                (("5", 0.25), ("4", 0.3), ("3", 0.2), ("2", 0.15), ("1", 0.1))
                if breached
                else (("5", 0.5), ("4", 0.32), ("3", 0.12), ("2", 0.04), ("1", 0.02)),
            )
            rated = min(now, resolved + rng.uniform(600, 86400))
            end_score = min(5, max(1, int(score) + rng.choice((-1, 0, 0, 0, 1))))
            best, worst = rng.sample(MOMENTS, 2)
            rating = (
                ticket_id,
                provider.id,
                assignee,
                int(score),
                best,
                worst if int(score) <= 3 else "",
                end_score,
                ""
                if rng.random() < 0.7
                else rng.choice(("很满意，谢谢！", "处理及时。", "希望更快一些。")),
                _ts(rated),
                _ts(rated),
            )

        title = f"{service_name}：{rng.choice(SUBJECTS)}"
        row = (
            ticket_id,
            reference,
            title,
            rng.choice(DESCRIPTIONS),
            service_id,
            provider.id,
            requester,
            consumer,
            assignee,
            priority,
            status,
            "{}",
            _weighted(rng, SOURCES),
            _ts(created),
            _ts(updated),
            _ts(first_response),
            _ts(resolved),
            _ts(closed),
            policy_id,
            _ts(response_due),
            _ts(resolution_due),
            response_breached,
            resolution_breached,
            _ts(next_check),
            paused,
            _ts(clock_paused),
            response_seconds,
            resolution_seconds,
            _ts(auto_close),
            self._warnings(response_due, resolution_due),
        )
        return {
            "row": row,
            "events": events,
            "comments": comments,
            "escalations": escalations,
            "rating": rating,
        }


def creation_instants(
    rng: random.Random, axis: BusinessAxis, count: int, start: float, end: float
) -> list[float]:
    """`count` filing instants over [start, end), sorted, more recent = more (the density grows
    linearly to 2.5 times its start); 85 % in working hours, the rest whenever."""
    growth = 1.5
    begin, finish = axis.position(start), axis.position(end)
    instants = []
    for _ in range(count):
        u = rng.random()
        x = (-1 + math.sqrt(1 + 2 * growth * u * (1 + growth / 2))) / growth
        if rng.random() < 0.85:
            instant = axis.at(begin + x * (finish - begin))
        else:
            instant = start + x * (end - start)
        instants.append(float(int(min(instant, end - 1))))
    instants.sort()
    return instants


def open_flags(rng: random.Random, instants: list[float], now: float) -> list[bool]:
    """Which tickets are still open: most of the last weeks' and a steady stale backlog, OPEN_SHARE
    in all (the backlog floor is solved for it)."""
    recent = [0.95 * math.exp(-(now - t) / (86400 * 60)) for t in instants]
    low, high = 0.0, 1.0
    for _ in range(40):
        floor = (low + high) / 2
        share = sum(min(1.0, r + floor) for r in recent) / max(len(recent), 1)
        low, high = (floor, high) if share < OPEN_SHARE else (low, floor)
    return [rng.random() < min(1.0, r + low) for r in recent]


# -- Loading --------------------------------------------------------------------------------------

LOADED_TABLES = (
    "tickets_ticket",
    "tickets_ticketevent",
    "tickets_comment",
    "slas_escalation",
    "feedback_ticketrating",
)


def secondary_indexes(cursor: Any, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes on `tables` that back no constraint."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        ORDER BY i.tablename, i.indexname
        """,
        [list(tables)],
    )
    return list(cursor.fetchall())


def check_target(database_name: str, *, force: bool) -> None:
    if not force and not is_bench_database(database_name):
        raise ValueError(
            f"refusing to load a data set into {database_name!r}: its name lacks 'bench' "
            "(use --force to load anyway)"
        )


def reset(cursor: Any) -> None:
    """Empty everything the generator writes (a benchmark database only)."""
    cursor.execute(
        "TRUNCATE tickets_ticket, tickets_ticketsequence, tickets_service, departments_membership,"
        " departments_department, departments_user, slas_agreement, slas_slapolicy,"
        " slas_calendarday, slas_businesscalendar, slas_periodfigures, slas_figureledgerentry,"
        " slas_figuresbuild RESTART IDENTITY CASCADE"
    )
    cursor.execute(f"DROP TABLE IF EXISTS {INFO_TABLE}")


def dataset_info(cursor: Any) -> dict[str, Any] | None:
    """What the generator loaded into this database, or None."""
    cursor.execute("SELECT to_regclass(%s)", [INFO_TABLE])
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(f"SELECT info FROM {INFO_TABLE} ORDER BY id DESC LIMIT 1")  # noqa: S608
    row = cursor.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def generate(options: DatasetOptions, *, say: Callable[[str], None] = log) -> dict[str, Any]:
    """Fill the (empty) database Django points at; returns what was loaded, with timings."""
    from django.db import connection, transaction

    from departments.models import Department
    from feedback.models import TicketRating
    from slas.clocks import work_calendar
    from slas.figures import rebuild as rebuild_figures
    from slas.models import Escalation
    from tickets.models import Comment, Ticket, TicketEvent

    started = time.perf_counter()
    timings: dict[str, float] = {}
    rng = random.Random(options.seed)
    now_dt = (options.now or datetime.now(UTC)).replace(microsecond=0)
    now = now_dt.timestamp()
    options.now = now_dt
    if Ticket.objects.exists() or Department.objects.exists():
        raise ValueError("the database already holds departments or tickets: use --reset")

    with transaction.atomic():
        depts, context = build_company(options, rng)
    timings["company_s"] = time.perf_counter() - started
    say(
        f"company: {len(depts)} departments, {len(context['all_user_ids']):,} people, "
        f"{sum(len(d.services) for d in depts)} services ({timings['company_s']:.1f}s)"
    )

    cal = work_calendar(context["calendar"])
    history_start = now - HISTORY_DAYS * 86400
    first_day = datetime.fromtimestamp(history_start, ZoneInfo(cal.timezone)).date()
    axis = BusinessAxis(
        cal, first_day - timedelta(days=2), first_day + timedelta(days=HISTORY_DAYS + 400)
    )
    check_axis(axis, cal, history_start, now)

    instants = creation_instants(rng, axis, options.tickets, history_start, now)
    flags = open_flags(rng, instants, now)
    factory = TicketFactory(rng, axis, depts, context, now, options.comments_per_ticket)

    extra_ticket, extra_ticket_values = _extra_columns(Ticket, TICKET_COLUMNS)
    ticket_columns = [*TICKET_COLUMNS, *extra_ticket]
    event_extra, event_extra_values = _extra_columns(TicketEvent, EVENT_COLUMNS)
    comment_extra, comment_extra_values = _extra_columns(Comment, COMMENT_COLUMNS)
    escalation_extra, escalation_extra_values = _extra_columns(Escalation, ESCALATION_COLUMNS)
    rating_extra, rating_extra_values = _extra_columns(TicketRating, RATING_COLUMNS)

    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    raw = connection.connection  # the psycopg 3 connection under Django's
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        dropped: list[tuple[str, str]] = []
        if not options.keep_indexes:
            dropped = secondary_indexes(cursor, LOADED_TABLES)
            for name, _definition in dropped:
                cursor.execute(f'DROP INDEX "{name}"')
            say(f"dropped {len(dropped)} secondary indexes for the load")
        # Foreign keys are checked by triggers, row by row: the rows are consistent by
        # construction, so the load skips them (the session only; the constraints stay).
        cursor.execute("SET session_replication_role = replica")

        load_started = time.perf_counter()
        progress = Progress("tickets", options.tickets)
        for chunk_start in range(0, options.tickets, options.chunk):
            chunk = range(chunk_start, min(chunk_start + options.chunk, options.tickets))
            tickets, events, comments, escalations, ratings = [], [], [], [], []
            for index in chunk:
                made = factory.make(index + 1, instants[index], flags[index])
                tickets.append((*made["row"], *extra_ticket_values))
                statuses[made["row"][10]] += 1
                events.extend((*e, *event_extra_values) for e in made["events"])
                comments.extend((*c, *comment_extra_values) for c in made["comments"])
                escalations.extend((*e, *escalation_extra_values) for e in made["escalations"])
                if made["rating"] is not None:
                    ratings.append((*made["rating"], *rating_extra_values))
            with raw.cursor() as copy_cursor:
                counts["tickets"] += copy_rows(
                    copy_cursor, "tickets_ticket", ticket_columns, tickets
                )
                counts["events"] += copy_rows(
                    copy_cursor, "tickets_ticketevent", [*EVENT_COLUMNS, *event_extra], events
                )
                counts["comments"] += copy_rows(
                    copy_cursor, "tickets_comment", [*COMMENT_COLUMNS, *comment_extra], comments
                )
                counts["escalations"] += copy_rows(
                    copy_cursor,
                    "slas_escalation",
                    [*ESCALATION_COLUMNS, *escalation_extra],
                    escalations,
                )
                counts["ratings"] += copy_rows(
                    copy_cursor,
                    "feedback_ticketrating",
                    [*RATING_COLUMNS, *rating_extra],
                    ratings,
                )
            done = chunk.stop
            rows = sum(counts.values())
            elapsed = time.perf_counter() - load_started
            progress.update(
                done,
                f" ({rows / elapsed:,.0f} rows/s all tables)",
                force=done == options.tickets,
            )
        cursor.execute("SET session_replication_role = DEFAULT")
        timings["copy_s"] = time.perf_counter() - load_started

        # Filing more tickets afterwards continues every sequence.
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s)",
            [max(options.tickets, 1)],
        )
        sequence_rows = [
            (department_id, year, last) for (department_id, year), last in factory.sequences.items()
        ]
        with raw.cursor() as copy_cursor:
            copy_rows(
                copy_cursor,
                "tickets_ticketsequence",
                ["department_id", "year", "last_value"],
                sequence_rows,
            )

        index_started = time.perf_counter()
        for name, definition in dropped:
            step = time.perf_counter()
            cursor.execute(definition)
            say(f"  rebuilt {name} in {time.perf_counter() - step:.1f}s")
        timings["indexes_s"] = time.perf_counter() - index_started
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {INFO_TABLE} (id serial PRIMARY KEY, info jsonb NOT NULL)"
        )
    vacuum_started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in (*LOADED_TABLES, "departments_user", "departments_membership"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum_s"] = time.perf_counter() - vacuum_started
    # The daily SLA figures and open-ticket counts the dashboards read (COPY bypassed services).
    figures_started = time.perf_counter()
    rebuild_figures(say=say)
    timings["figures_s"] = time.perf_counter() - figures_started
    timings["total_s"] = time.perf_counter() - started

    info = {
        "generated_at": now_dt.isoformat(),
        "options": {
            "tickets": options.tickets,
            "departments": options.departments,
            "users": options.users,
            "seed": options.seed,
            "keep_indexes": options.keep_indexes,
        },
        "counts": dict(counts),
        "statuses": dict(statuses),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "password": BENCH_PASSWORD,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {INFO_TABLE} (info) VALUES (%s)", [json.dumps(info)])  # noqa: S608
    rows = sum(counts.values())
    say(
        f"loaded {rows:,} rows ({', '.join(f'{k} {v:,}' for k, v in counts.items())}) in "
        f"{timings['total_s']:.1f}s: company {timings['company_s']:.1f}s, COPY "
        f"{timings['copy_s']:.1f}s ({rows / max(timings['copy_s'], 1e-9):,.0f} rows/s), indexes "
        f"{timings['indexes_s']:.1f}s, VACUUM ANALYZE {timings['vacuum_s']:.1f}s, SLA figures "
        f"{timings['figures_s']:.1f}s"
    )
    return info
