"""SLA figures whose reading cost does not grow with the ticket table (issue #6).

Two kinds of derived data, both exact in their counts:

- `PeriodFigures`: per (department, side = provider | consumer, local day of `created_at` in
  settings.TIME_ZONE) the counts `slas.metrics` reports (tickets, reopened, resolved at least
  once; per clock measured, met, breached, timed) and a histogram of business seconds per clock;
  and per month the sum of its days. A period reads at most one row per day (or month) and side,
  whatever the number of tickets.
- Open tickets per (department, side, status, priority, assignee): the SUM of the key's
  `FigureLedgerEntry` rows.

Freshness. Every write that changes a ticket's figures appends ledger entries in its own
transaction (`ticket_changed`, `tickets_touched`): one per side, carrying the ticket's
`created_at`. A day with entries is stale: readers compute it from its tickets (one day is
small), so a ticket resolved a second ago counts at once. Every minute `fold_changes` (beat)
deletes the entries it read, recomputes their days (and months) and adds their counts into one
balance entry per key, in one transaction; so in any snapshot a day without entries has an exact
row. Folds are serialised by a lock, so a fold reading an older snapshot never overwrites a newer
row.

Reads. A department's sides are read together (`department_tallies`): one query for the ledger
(stale days, open tickets now), one for the rows, one for the fine counts the percentiles need,
one for the stale days' tickets. Tallies are kept per process until the ledger shows a change
of their side or day, or a fold (`_kept`).

Writes that change figures: filing, transitions and edits (`tickets.services`), the first
response, the sweep's breach flags, `clocks.replay`, deleting in the admin. A policy edit moves
only the due times of running clocks of open tickets, which changes no figure: a running clock is
measured only once flagged breached, and flagging is the sweep's.

`rebuild` computes everything from the tickets (upgrades, bulk loads, another TIME_ZONE or
bucket layout). Until a build matching the running settings exists (`FiguresBuild`), callers
compute from the tickets instead (`ready`).

Buckets. 0 exactly (a clock stopped outside business hours), 1-second buckets up to 100 s, then
buckets growing by at most 1 % with edges at 1 h, 4 h, 1, 2 and 5 business days (the dashboard's
time-to-resolve bars) up to 10^9 s, then one last bucket. A percentile is interpolated within
its bucket, like percentile_cont between ranks: it is off by less than the bucket's width, i.e.
< 1 s below 100 s and < 1 % above. Fine buckets are grouped 16 to a coarse bucket; a period
sums the coarse counts of its days, then reads the fine counts of only the coarse buckets its
percentiles fall in.
"""

import bisect
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    JSONField,
    Max,
    Min,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from servicedesk.statements import fetch
from tickets.models import OPEN_STATUSES, Ticket

from . import metrics
from .models import FigureLedgerEntry, FiguresBuild, FigureSide, FigureSpan, PeriodFigures

PROVIDER = FigureSide.PROVIDER.value
CONSUMER = FigureSide.CONSUMER.value
DAY = FigureSpan.DAY.value
MONTH = FigureSpan.MONTH.value
CLOCK_NAMES = ("response", "resolution")
DayKey = tuple[int, str, date]  # (department id, side, local day)
OpenKey = tuple[str, str, int | None]  # (status, priority, assignee id) of an open ticket

# --- the bucket layout -----------------------------------------------------------------------

HOUR = 3600.0
BUSINESS_DAY = 8 * HOUR  # as the dashboard counts it
LINEAR_UNTIL = 100  # seconds: 1-second buckets below
GROWTH = 1.01
LAST_EDGE = 1e9
# Every one of these is a bucket edge (and a coarse one): the dashboard's bars end on them.
ANCHORS = (
    float(LINEAR_UNTIL),
    HOUR,
    4 * HOUR,
    BUSINESS_DAY,
    2 * BUSINESS_DAY,
    5 * BUSINESS_DAY,
    LAST_EDGE,
)
FINE_PER_COARSE = 16


def _layout() -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Lower edges of the fine buckets and the coarse bucket of each."""
    edges = [0.0, 1e-6, *(float(second) for second in range(1, LINEAR_UNTIL))]
    coarse = [index // FINE_PER_COARSE for index in range(len(edges))]
    for low, high in zip(ANCHORS, ANCHORS[1:], strict=False):
        first = coarse[-1] + 1
        steps = math.ceil(math.log(high / low) / math.log(GROWTH))
        ratio = (high / low) ** (1 / steps)
        for step in range(steps):
            edges.append(low * ratio**step)
            coarse.append(first + step // FINE_PER_COARSE)
    edges.append(LAST_EDGE)  # the last bucket: 10^9 s and more
    coarse.append(coarse[-1] + 1)
    return tuple(edges), tuple(coarse)


FINE_EDGES, COARSE_OF = _layout()
COARSE_LOW = {c: FINE_EDGES[COARSE_OF.index(c)] for c in sorted(set(COARSE_OF))}
# Keys of the stored fine histograms: not bare numbers, which Django's JSON key lookups would
# read as array indexes.
FINE_KEY = "c{}"
# Stored with each build: rows laid out otherwise are not read.
LAYOUT = zlib.crc32(repr((FINE_EDGES, COARSE_OF, FINE_KEY)).encode())


def fine_bucket(seconds: float) -> int:
    return max(bisect.bisect_right(FINE_EDGES, seconds) - 1, 0)


def _bucket_bounds(bucket: int) -> tuple[float, float]:
    low = FINE_EDGES[bucket]
    return low, FINE_EDGES[bucket + 1] if bucket + 1 < len(FINE_EDGES) else low


# --- tallies: additive figures of a set of tickets ---------------------------------------------


@dataclass
class ClockTally:
    measured: int = 0
    met: int = 0
    breached: int = 0
    timed: int = 0
    coarse: Counter[int] = field(default_factory=Counter)
    # coarse bucket -> fine counts; complete for live tallies, loaded on demand for stored ones
    fine: defaultdict[int, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, other: "ClockTally", *, histograms: bool = True) -> None:
        self.measured += other.measured
        self.met += other.met
        self.breached += other.breached
        self.timed += other.timed
        if histograms:
            self.coarse.update(other.coarse)
            for coarse, counts in other.fine.items():
                self.fine[coarse].update(counts)

    def ranks_needed(self) -> set[int]:
        """The coarse buckets holding the ranks the percentiles interpolate between."""
        needed: set[int] = set()
        for fraction in metrics.PERCENTILES.values():
            rank = fraction * (self.timed - 1)
            for k in {math.floor(rank), math.ceil(rank)}:
                needed.add(self._coarse_of_rank(k))
        return needed

    def _coarse_of_rank(self, k: int) -> int:
        seen = 0
        for coarse in sorted(self.coarse):
            seen += self.coarse[coarse]
            if k < seen:
                return coarse
        return max(self.coarse)

    def _value_at(self, k: int) -> float:
        """The k-th smallest value (0-based), spread evenly within its fine bucket."""
        seen = 0
        for coarse in sorted(self.coarse):
            if k < seen + self.coarse[coarse]:
                fine = self.fine.get(coarse)
                if not fine:  # not loaded: the coarse bucket's lower edge
                    return COARSE_LOW[coarse]
                for bucket in sorted(fine):
                    if k < seen + fine[bucket]:
                        low, high = _bucket_bounds(bucket)
                        return low + (high - low) * (k - seen + 0.5) / fine[bucket]
                    seen += fine[bucket]
                return COARSE_LOW[coarse]
            seen += self.coarse[coarse]
        return COARSE_LOW[max(self.coarse)]

    def percentiles(self) -> dict[str, float | None]:
        """Seconds at each of metrics.PERCENTILES (interpolated between ranks as
        percentile_cont does, each rank estimated within its fine bucket)."""
        if not self.timed:
            return dict.fromkeys(metrics.PERCENTILES)
        out: dict[str, float | None] = {}
        for label, fraction in metrics.PERCENTILES.items():
            rank = fraction * (self.timed - 1)
            lower = self._value_at(math.floor(rank))
            upper = self._value_at(math.ceil(rank))
            out[label] = lower + (upper - lower) * (rank - math.floor(rank))
        return out

    def count_between(self, low: float | None, high: float | None) -> int:
        """Values in [low, high): both must be coarse edges (or None: unbounded)."""
        for edge in (low, high):
            if edge is not None and edge not in COARSE_LOW.values():
                raise ValueError(f"{edge} s is not a coarse bucket edge of slas.figures")
        return sum(
            count
            for coarse, count in self.coarse.items()
            if (low is None or COARSE_LOW[coarse] >= low)
            and (high is None or COARSE_LOW[coarse] < high)
        )


@dataclass
class Tally:
    tickets: int = 0
    reopened: int = 0
    resolved_once: int = 0
    clocks: dict[str, ClockTally] = field(
        default_factory=lambda: {name: ClockTally() for name in CLOCK_NAMES}
    )

    def add(self, other: "Tally", *, histograms: bool = True) -> None:
        """Add the other's figures; `histograms=False`: its counts only (no percentiles or bars
        are read of this one)."""
        self.tickets += other.tickets
        self.reopened += other.reopened
        self.resolved_once += other.resolved_once
        for name in CLOCK_NAMES:
            self.clocks[name].add(other.clocks[name], histograms=histograms)

    def row(self, key: DayKey, computed_at: datetime, *, span: str = DAY) -> PeriodFigures:
        department_id, side, day = key
        values: dict[str, Any] = {}
        for name, clock in self.clocks.items():
            values |= {
                f"{name}_measured": clock.measured,
                f"{name}_met": clock.met,
                f"{name}_breached": clock.breached,
                f"{name}_timed": clock.timed,
                f"{name}_coarse": {str(c): n for c, n in sorted(clock.coarse.items())},
                f"{name}_fine": {
                    FINE_KEY.format(c): {str(b): n for b, n in sorted(counts.items())}
                    for c, counts in sorted(clock.fine.items())
                },
            }
        return PeriodFigures(
            department_id=department_id,
            side=side,
            span=span,
            day=day,
            tickets=self.tickets,
            reopened=self.reopened,
            resolved_once=self.resolved_once,
            computed_at=computed_at,
            **values,
        )


FIGURE_FIELDS = [
    "tickets",
    "reopened",
    "resolved_once",
    *(
        f"{name}_{part}"
        for name in CLOCK_NAMES
        for part in ("measured", "met", "breached", "timed")
    ),
]
STORED_FIELDS = [
    *FIGURE_FIELDS,
    *(f"{name}_{part}" for name in CLOCK_NAMES for part in ("coarse", "fine")),
    "computed_at",
]


# --- computing figures from the tickets --------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


def _day_spans(days: Iterable[date]) -> list[tuple[datetime, datetime]]:
    """[start, end) instants covering the days, consecutive days merged."""
    spans: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if spans and spans[-1][1] == day:
            spans[-1] = (spans[-1][0], day + timedelta(days=1))
        else:
            spans.append((day, day + timedelta(days=1)))
    return [(day_start(first), day_start(end)) for first, end in spans]


def _created_within(spans: Sequence[tuple[datetime, datetime]]) -> Q:
    """created_at in any of the (non-empty list of) spans."""
    return reduce(or_, (Q(created_at__gte=start, created_at__lt=end) for start, end in spans))


def compute_tallies(
    tickets: QuerySet[Ticket],
    *,
    sides: Sequence[str] = (PROVIDER, CONSUMER),
    stream: bool = False,
) -> dict[DayKey, Tally]:
    """The figures of `tickets` per (department, side, local day), in one query: one row per
    ticket with the flags of `slas.metrics`' definitions, added up here. `stream` reads through
    a server-side cursor (whole-table rebuilds)."""
    flags: dict[str, Any] = {
        "figures_day": TruncDate("created_at", tzinfo=_zone()),
        "figures_reopened": metrics.reopened_ever(),
        "figures_resolved_once": ExpressionWrapper(metrics.resolved_once(), BooleanField()),
    }
    for clock in metrics.CLOCKS:
        for part, condition in (
            ("measured", clock.measured),
            ("met", clock.met),
            ("breached", clock.breach),
        ):
            flags[f"figures_{clock.name}_{part}"] = ExpressionWrapper(condition, BooleanField())
    columns = [
        "provider_department_id",
        "requester_department_id",
        *flags,
        *(clock.seconds for clock in metrics.CLOCKS),
    ]
    rows = tickets.annotate(**flags).order_by().values_list(*columns)
    provider, consumer = PROVIDER in sides, CONSUMER in sides
    tallies: defaultdict[DayKey, Tally] = defaultdict(Tally)
    for row in rows.iterator(chunk_size=5000) if stream else rows:
        provider_id, consumer_id, day, reopened, resolved_once = row[:5]
        response = row[5:8]
        resolution = row[8:11]
        seconds = row[11:13]
        keys = []
        if provider:
            keys.append((provider_id, PROVIDER, day))
        if consumer and consumer_id is not None:
            keys.append((consumer_id, CONSUMER, day))
        buckets = [None if s is None else fine_bucket(s) for s in seconds]
        for key in keys:
            tally = tallies[key]
            tally.tickets += 1
            tally.reopened += bool(reopened)
            tally.resolved_once += bool(resolved_once)
            for name, (measured, met, breached), bucket in zip(
                CLOCK_NAMES, (response, resolution), buckets, strict=True
            ):
                clock = tally.clocks[name]
                clock.measured += bool(measured)
                clock.met += bool(met)
                clock.breached += bool(breached)
                if bucket is not None:
                    clock.timed += 1
                    clock.coarse[COARSE_OF[bucket]] += 1
                    clock.fine[COARSE_OF[bucket]][bucket] += 1
    return dict(tallies)


def _month_spans(months: Sequence[date]) -> list[tuple[date, date]]:
    """[first day, end) of the (sorted) months, consecutive months merged."""
    spans: list[tuple[date, date]] = []
    for month in months:
        if spans and spans[-1][1] == month:
            spans[-1] = (spans[-1][0], next_month(month))
        else:
            spans.append((month, next_month(month)))
    return spans


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _tally_of_row(values: dict[str, Any]) -> Tally:
    """A stored row back as a tally, fine counts included."""
    tally = Tally(values["tickets"], values["reopened"], values["resolved_once"])
    for name, clock in tally.clocks.items():
        clock.measured = values[f"{name}_measured"]
        clock.met = values[f"{name}_met"]
        clock.breached = values[f"{name}_breached"]
        clock.timed = values[f"{name}_timed"]
        clock.coarse.update({int(c): n for c, n in values[f"{name}_coarse"].items()})
        for key, counts in values[f"{name}_fine"].items():
            coarse = int(key.removeprefix(FINE_KEY.format("")))
            clock.fine[coarse].update({int(b): n for b, n in counts.items()})
    return tally


def _store(tallies: dict[DayKey, Tally], keys: Iterable[DayKey], *, span: str = DAY) -> None:
    """Write the rows of `keys` (none for a key without tickets)."""
    now = timezone.now()
    keys = set(keys)
    rows = [tally.row(key, now, span=span) for key, tally in tallies.items() if key in keys]
    PeriodFigures.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["department", "side", "span", "day"],
        update_fields=STORED_FIELDS,
        batch_size=500,
    )
    gone: defaultdict[tuple[int, str], list[date]] = defaultdict(list)
    for department_id, side, day in keys - tallies.keys():
        gone[(department_id, side)].append(day)
    for (department_id, side), days in gone.items():
        PeriodFigures.objects.filter(
            department_id=department_id, side=side, span=span, day__in=days
        ).delete()


def _refresh_months(keys: set[DayKey]) -> None:
    """Month rows of (department, side, first day of the month) as the sums of their day rows
    (written before, in the same transaction)."""
    if not keys:
        return
    within = reduce(
        or_,
        (
            Q(department_id=d, side=side, day__gte=first, day__lt=next_month(first))
            for d, side, first in keys
        ),
    )
    columns = ["department_id", "side", "day", *FIGURE_FIELDS]
    columns += [f"{name}_{part}" for name in CLOCK_NAMES for part in ("coarse", "fine")]
    months: defaultdict[DayKey, Tally] = defaultdict(Tally)
    for values in PeriodFigures.objects.filter(within, span=DAY).values(*columns):
        key = (values["department_id"], values["side"], month_start(values["day"]))
        months[key].add(_tally_of_row(values))
    _store(months, keys, span=MONTH)


def _recompute_days(keys: set[DayKey]) -> None:
    """Day rows of `keys` from their tickets, then their months' rows."""
    if not keys:
        return
    providers = {d for d, side, _day in keys if side == PROVIDER}
    consumers = {d for d, side, _day in keys if side == CONSUMER}
    tickets = Ticket.objects.filter(_created_within(_day_spans(day for *_k, day in keys))).filter(
        Q(provider_department_id__in=providers) | Q(requester_department_id__in=consumers)
    )
    _store(compute_tallies(tickets), keys)
    _refresh_months({(d, side, month_start(day)) for d, side, day in keys})


# --- writes: the ledger ------------------------------------------------------------------------


def open_key(ticket: Ticket) -> OpenKey | None:
    """How the ticket counts among open tickets (status, priority, assignee), None if closed.
    Services take it right after locking the ticket and hand it to `ticket_changed`."""
    if ticket.status not in OPEN_STATUSES:
        return None
    return (str(ticket.status), str(ticket.priority), ticket.assignee_id)


LEDGER_COLUMNS = (
    "department_id",
    "side",
    "ticket_created_at",
    "status",
    "priority",
    "assignee_id",
    "count",
)
LedgerRow = tuple[int, str, datetime, str, str, int | None, int]


def _entries(ticket: Ticket, moves: Counter[OpenKey]) -> list[LedgerRow]:
    """One entry per side and open-ticket key moved (a 0 entry when none moved)."""
    entries: list[LedgerRow] = []
    sides = [(ticket.provider_department_id, PROVIDER, True)]
    if ticket.requester_department_id is not None:
        sides.append((ticket.requester_department_id, CONSUMER, False))
    for department_id, side, with_assignee in sides:
        counts: Counter[OpenKey] = Counter()
        for (status, priority, assignee_id), count in moves.items():
            counts[(status, priority, assignee_id if with_assignee else None)] += count
        moved = [(key, count) for key, count in counts.items() if count]
        for (status, priority, assignee_id), count in moved or [(("", "", None), 0)]:
            entries.append(
                (department_id, side, ticket.created_at, status, priority, assignee_id, count)
            )
    return entries


def ledger_insert(entries: list[LedgerRow]) -> tuple[str, list[Any]]:
    """The INSERT of these entries (a few hundred at most) and its parameters: `_append` runs
    it; the filing statement (tickets.filing) writes a new ticket's entries with it."""
    table = FigureLedgerEntry._meta.db_table
    row = "(" + ", ".join(["%s"] * len(LEDGER_COLUMNS)) + ")"
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f"INSERT INTO {table} ({', '.join(LEDGER_COLUMNS)}) "  # noqa: S608 - our names
        f"VALUES {', '.join([row] * len(entries))}"
    )
    params = [
        adapt(value) if index == 2 else value
        for entry in entries
        for index, value in enumerate(entry)
    ]
    return sql, params


def _append(entries: list[LedgerRow]) -> None:
    """INSERT the entries, a few hundred per statement: on every ticket write, where the ORM's
    bulk_create cost twice the time of the statement itself."""
    with connection.cursor() as cursor:
        for start in range(0, len(entries), 500):
            cursor.execute(*ledger_insert(entries[start : start + 500]))


def changed_entries(ticket: Ticket, *, counted_before: OpenKey | None) -> list[LedgerRow]:
    """The entries `ticket_changed` appends, for a caller writing them in a statement of its
    own."""
    moves: Counter[OpenKey] = Counter()
    if counted_before is not None:
        moves[counted_before] -= 1
    counted_now = open_key(ticket)
    if counted_now is not None:
        moves[counted_now] += 1
    return _entries(ticket, moves)


def ticket_changed(ticket: Ticket, *, counted_before: OpenKey | None) -> None:
    """Record, in the caller's transaction, that the saved `ticket` changed: its day's figures
    are stale and it moved from `counted_before` (`open_key` when it was locked; None for a new
    ticket) to `open_key(ticket)` among open tickets. One INSERT, no row shared with other
    writers (no lock waits between concurrent filings)."""
    _append(changed_entries(ticket, counted_before=counted_before))


def tickets_touched(tickets: Iterable[Ticket]) -> None:
    """Record that these tickets' figures changed (due times, breach flags, first response)
    while their open-ticket key stayed the same."""
    entries = [entry for ticket in tickets for entry in _entries(ticket, Counter())]
    if entries:
        _append(entries)


def tickets_removed(tickets: Iterable[Ticket]) -> None:
    """Record that these tickets are about to be deleted (call in the deleting transaction)."""
    entries = []
    for ticket in tickets:
        counted = open_key(ticket)
        entries += _entries(ticket, Counter({counted: -1}) if counted else Counter())
    if entries:
        _append(entries)


# --- folding the ledger, rebuilding --------------------------------------------------------------

# pg_advisory_lock key serialising folds and rebuilds ("slas.figures").
LOCK_KEY = zlib.crc32(b"slas.figures")


@contextmanager
def _exclusive(*, wait: bool = True) -> Iterator[bool]:
    """Hold the figures lock (PostgreSQL; elsewhere writers are serialised anyway). Yields
    whether it is held: with wait=False, False when another fold or rebuild holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def _add_to_balances(moves: Counter[tuple[int, str, str, str, int | None]]) -> None:
    """Add counts into the balance entries (one per key, kept by the lock holder only)."""
    moves = Counter({key: count for key, count in moves.items() if count})
    if not moves:
        return
    scopes = Q(pk__in=[])
    for department_id, side in {key[:2] for key in moves}:
        scopes |= Q(department_id=department_id, side=side)
    balances: defaultdict[tuple[int, str, str, str, int | None], list[FigureLedgerEntry]]
    balances = defaultdict(list)
    for entry in FigureLedgerEntry.objects.filter(scopes, ticket_created_at__isnull=True):
        key = (entry.department_id, entry.side, entry.status, entry.priority, entry.assignee_id)
        balances[key].append(entry)
    changed, created, dropped = [], [], []
    for key, count in moves.items():
        kept, *duplicates = balances.get(key) or [None]
        total = count + sum(entry.count for entry in balances.get(key, []))
        dropped += [entry.pk for entry in duplicates]
        if kept is None:
            department_id, side, status, priority, assignee_id = key
            created.append(
                FigureLedgerEntry(
                    department_id=department_id,
                    side=side,
                    status=status,
                    priority=priority,
                    assignee_id=assignee_id,
                    count=total,
                )
            )
        elif total:
            kept.count = total
            changed.append(kept)
        else:
            dropped.append(kept.pk)
    FigureLedgerEntry.objects.bulk_update(changed, ["count"])
    FigureLedgerEntry.objects.bulk_create(created)
    if dropped:
        FigureLedgerEntry.objects.filter(pk__in=dropped).delete()


def _fold_batch(batch_size: int) -> int:
    entries = list(
        FigureLedgerEntry.objects.filter(ticket_created_at__isnull=False)
        .annotate(day=TruncDate("ticket_created_at", tzinfo=_zone()))
        .order_by("pk")
        .values_list(
            "pk", "department_id", "side", "day", "status", "priority", "assignee_id", "count"
        )[:batch_size]
    )
    if not entries:
        return 0
    FigureLedgerEntry.objects.filter(pk__in=[entry[0] for entry in entries]).delete()
    FiguresBuild.objects.update(folds=F("folds") + 1)  # readers' kept tallies: see `_kept`
    moves: Counter[tuple[int, str, str, str, int | None]] = Counter()
    for _pk, department_id, side, _day, status, priority, assignee_id, count in entries:
        if status:
            moves[(department_id, side, status, priority, assignee_id)] += count
    _add_to_balances(moves)
    # Recomputed after the delete: the rows include at least every change whose entry went.
    _recompute_days({(department_id, side, day) for _pk, department_id, side, day, *_r in entries})
    return len(entries)


def fold_changes(*, batch_size: int = 10000) -> int:
    """Every minute (beat): fold the ledger's new entries (recompute their days' rows, add their
    counts to the balances). Safe to run twice or at once: a run finding the lock taken leaves
    the work to the holder. Returns the number of entries folded."""
    folded = 0
    while True:
        with _exclusive(wait=False) as held:
            if not held:
                return folded
            with transaction.atomic():
                count = _fold_batch(batch_size)
        folded += count
        if count < batch_size:
            return folded


def ready() -> bool:
    """Whether the figures were built for the running time zone and bucket layout (one query,
    compiled once per process)."""
    zone = settings.TIME_ZONE

    def build() -> QuerySet:
        return FiguresBuild.objects.filter(time_zone=zone, layout=LAYOUT).values("pk")[:1]

    return bool(fetch(("slas.figures.ready", zone, LAYOUT), build))


def _open_balances_from_tickets() -> list[FigureLedgerEntry]:
    open_tickets = Ticket.objects.filter(status__in=OPEN_STATUSES).order_by()
    entries = [
        FigureLedgerEntry(
            department_id=row["provider_department_id"],
            side=PROVIDER,
            status=row["status"],
            priority=row["priority"],
            assignee_id=row["assignee_id"],
            count=row["n"],
        )
        for row in open_tickets.values(
            "provider_department_id", "status", "priority", "assignee_id"
        ).annotate(n=Count("pk"))
    ]
    entries += [
        FigureLedgerEntry(
            department_id=row["requester_department_id"],
            side=CONSUMER,
            status=row["status"],
            priority=row["priority"],
            count=row["n"],
        )
        for row in open_tickets.filter(requester_department__isnull=False)
        .values("requester_department_id", "status", "priority")
        .annotate(n=Count("pk"))
    ]
    return entries


def rebuild(*, say: Callable[[str], None] = lambda line: None) -> int:
    """Compute every row and balance from the tickets; returns the number of day rows.

    Months are recomputed one per transaction (readers keep the previous rows meanwhile), then
    the ledger is reset from one snapshot (REPEATABLE READ): entries written after it stay and
    are folded later. Safe while tickets are being written.
    """
    FiguresBuild.objects.exclude(time_zone=settings.TIME_ZONE, layout=LAYOUT).delete()
    bounds = Ticket.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    zone = _zone()
    rows = 0
    if bounds["first"] is None:
        PeriodFigures.objects.all().delete()
    else:
        first = month_start(bounds["first"].astimezone(zone).date())
        last = bounds["last"].astimezone(zone).date()
        PeriodFigures.objects.filter(Q(day__lt=first) | Q(day__gt=last)).delete()
        month = first
        while month <= last:
            end = next_month(month)
            with _exclusive(), transaction.atomic():
                tickets = Ticket.objects.filter(
                    created_at__gte=day_start(month), created_at__lt=day_start(end)
                )
                days = compute_tallies(tickets, stream=True)
                months: defaultdict[DayKey, Tally] = defaultdict(Tally)
                for (department_id, side, _day), tally in days.items():
                    months[(department_id, side, month)].add(tally)
                PeriodFigures.objects.filter(day__gte=month, day__lt=end).delete()
                _store(days, days.keys())
                _store(months, months.keys(), span=MONTH)
            rows += len(days)
            say(f"SLA figures: {month:%Y-%m} done ({rows:,} day rows)")
            month = end
    outermost = not connection.in_atomic_block
    with _exclusive(), transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        stale = set(
            FigureLedgerEntry.objects.filter(ticket_created_at__isnull=False)
            .annotate(day=TruncDate("ticket_created_at", tzinfo=zone))
            .values_list("department_id", "side", "day")
            .distinct()
        )
        FigureLedgerEntry.objects.all().delete()
        _recompute_days(stale)
        balances = _open_balances_from_tickets()
        FigureLedgerEntry.objects.bulk_create(balances, batch_size=1000)
        FiguresBuild.objects.filter(time_zone=settings.TIME_ZONE, layout=LAYOUT).delete()
        FiguresBuild.objects.create(
            time_zone=settings.TIME_ZONE, layout=LAYOUT, finished_at=timezone.now()
        )
    say(f"SLA figures: open-ticket counts of {len(balances):,} keys; built")
    return rows


# --- reads -------------------------------------------------------------------------------------


ASSIGNEE_COLUMNS = (
    "assignee_id",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)
# The ticket column naming the department of each side.
SIDE_COLUMNS = {PROVIDER: "provider_department_id", CONSUMER: "requester_department_id"}


@dataclass
class LedgerRead:
    stale: set[date]  # days of the span asked with unfolded changes
    open_counts: dict[tuple[str, str], int]  # open tickets now per (status, priority)
    # open tickets now per assignee, most first, as `open_by_assignee` (when asked)
    open_by_assignee: list[dict[str, Any]] | None = None
    # Unfolded entries per stale day, and (build id, folds) as the same read saw them (None
    # before a build): what tallies are kept under (`_kept_key`).
    entries: dict[date, int] = field(default_factory=dict)
    generation: tuple[int, int] | None = None
    all_entries: int = 0  # of the side, balances included (with `generation`: a period's key)


def _ledger_rows(
    department_id: int, sides: tuple[str, ...], by_assignee: bool
) -> list[dict[str, Any]]:
    """The department's entries on `sides` summed per side, key and local day, with the build
    and its folds from the same statement (one snapshot); compiled once per process."""
    zone = settings.TIME_ZONE

    def build(department_id: int) -> QuerySet:
        built = FiguresBuild.objects.filter(time_zone=zone, layout=LAYOUT).order_by("pk")
        columns = ["side", "status", "priority", *(ASSIGNEE_COLUMNS if by_assignee else ())]
        return (
            FigureLedgerEntry.objects.filter(department_id=department_id, side__in=sides)
            .values(
                *columns,
                entry_day=TruncDate("ticket_created_at", tzinfo=ZoneInfo(zone)),
                build_id=Subquery(built.values("pk")[:1]),
                build_folds=Subquery(built.values("folds")[:1]),
            )
            .annotate(n=Sum("count"), entries=Count("pk"))
            # By username: ties in the workload keep this order (the sort below is stable).
            .order_by(*(["assignee__username"] if by_assignee else []))
        )

    key = ("slas.figures.ledger", sides, by_assignee, zone, LAYOUT)
    return fetch(key, build, department_id=department_id)


def read_ledgers(
    *,
    department_id: int,
    sides: Iterable[str],
    stale_from: date | None = None,
    stale_to: date | None = None,
    by_assignee: Collection[str] = (),
) -> dict[str, LedgerRead]:
    """What the ledger says of the department on each of `sides`, in one query: its open
    tickets now (per status and priority; per assignee on the sides in `by_assignee`) and which
    days in [stale_from, stale_to) have unfolded changes. Both are sums over the same entries:
    the department's balances (no day) and its unfolded entries (few between folds), grouped by
    key and local day."""
    sides = tuple(sides)
    reads = {side: LedgerRead(stale=set(), open_counts={}) for side in sides}
    counts: dict[str, defaultdict[tuple[str, str], int]] = {
        side: defaultdict(int) for side in sides
    }
    assignees: dict[str, dict[int | None, dict[str, Any]]] = {side: {} for side in sides}
    span = (stale_from, stale_to) if stale_from is not None and stale_to is not None else None
    generation = None
    for row in _ledger_rows(department_id, sides, bool(by_assignee)):
        side, read = row["side"], reads[row["side"]]
        if row["build_id"] is not None:
            generation = (row["build_id"], row["build_folds"])
        read.all_entries += row["entries"]
        day = row["entry_day"]  # None for a balance
        if span is not None and day is not None and span[0] <= day < span[1]:
            read.stale.add(day)
            read.entries[day] = read.entries.get(day, 0) + row["entries"]
        if not row["status"]:
            continue
        counts[side][(row["status"], row["priority"])] += row["n"]
        if side in by_assignee:
            assignee = assignees[side].setdefault(
                row["assignee_id"],
                {**{column: row[column] for column in ASSIGNEE_COLUMNS}, "open_tickets": 0},
            )
            assignee["open_tickets"] += row["n"]
    for side, read in reads.items():
        read.generation = generation
        read.open_counts = dict(counts[side])
        if side in by_assignee:
            read.open_by_assignee = sorted(
                (assignee for assignee in assignees[side].values() if assignee["open_tickets"] > 0),
                key=lambda assignee: -assignee["open_tickets"],
            )
    return reads


def read_ledger(
    *,
    department_id: int,
    side: str,
    stale_from: date | None = None,
    stale_to: date | None = None,
    by_assignee: bool = False,
) -> LedgerRead:
    """`read_ledgers` of one side."""
    return read_ledgers(
        department_id=department_id,
        sides=(side,),
        stale_from=stale_from,
        stale_to=stale_to,
        by_assignee=(side,) if by_assignee else (),
    )[side]


def open_counts(*, department_id: int, side: str) -> dict[tuple[str, str], int]:
    """Open tickets now per (status, priority) of the department as provider or consumer."""
    return read_ledger(department_id=department_id, side=side).open_counts


def open_by_assignee(department_id: int) -> list[dict[str, Any]]:
    """Open tickets now per assignee of the provider department, most first (one query)."""
    workload = read_ledger(department_id=department_id, side=PROVIDER, by_assignee=True)
    return workload.open_by_assignee or []


# Tallies kept per process, of a side's whole period and of its stale days (from their
# tickets): the dashboard reads the same on every view until something changes. Within one
# build, the ledger of a department's side only grows between folds (the only remover of its
# entries, counted in `FiguresBuild.folds`), and every change of the side's figures adds an
# entry, of the day of the ticket changed. So a tally is kept under the build and its folds, and
# the number of entries of the side (a period) or of the day (a stale day): any change since
# makes another key. The key comes from the ledger's statement, before anything else is read: a
# tally is never older than the key it is kept under.
_kept: dict[tuple[Any, ...], Any] = {}
KEPT = 256
_NOT_KEPT = object()  # read with one `get`: another thread may empty `_kept` in between


def _kept_key(department_id: int, side: str, ledger: "LedgerRead", *what: Any) -> tuple | None:
    if ledger.generation is None:
        return None
    return (department_id, side, ledger.generation, *what)


def _keep(key: tuple | None, value: Any) -> None:
    if key is None:
        return
    if len(_kept) >= KEPT:
        _kept.clear()
    _kept[key] = value


@dataclass
class PeriodTallies:
    total: Tally
    groups: dict[date, Tally]  # by the group's first day (week's Monday, month's first)
    open_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # as `read_ledger`'s
    open_by_assignee: list[dict[str, Any]] | None = None  # when asked (`by_assignee`)


GROUP_STARTS: dict[str | None, Callable[[date], date] | None] = {
    None: None,
    "week": lambda day: day - timedelta(days=day.weekday()),
    "month": month_start,
}


@dataclass(frozen=True)
class _Plan:
    """The stored rows serving one side's whole days [first_day, end_day)."""

    first_day: date
    end_day: date
    stale: tuple[date, ...]  # computed from the tickets instead
    months: tuple[date, ...]  # whole months: their month rows
    # The month a future end falls in, whose row holds the histograms of the period's days of it
    # (week groups without percentiles): nothing was created after them, unless the day counts
    # disagree (then those days' rows after all).
    tail_month: date | None

    def day_rows(self) -> Q:
        rows = Q(span=DAY, day__gte=self.first_day, day__lt=self.end_day)
        return rows & ~Q(day__in=self.stale) if self.stale else rows

    def histogram_months(self) -> list[date]:
        return [*self.months, *([self.tail_month] if self.tail_month else [])]

    def subtracted(self) -> list[date]:
        """Stale days within the month rows read: their stored rows are taken off (a month row
        is the sum of its day rows, written together), their tickets' tallies added."""
        months = self.histogram_months()
        return [day for day in self.stale if month_start(day) in months]

    def histogram_rows(self) -> Q:
        """Rows whose histograms add up to the period's stored days: month rows (less their
        stale days' rows), other days."""
        months = self.histogram_months()
        if not months:
            return self.day_rows()
        # Consecutive months as one span of days (usually all of them): a shorter query.
        in_months = reduce(
            or_, (Q(day__gte=first, day__lt=end) for first, end in _month_spans(months))
        )
        rows = Q(span=MONTH, day__in=months) | (self.day_rows() & ~in_months)
        subtracted = self.subtracted()
        return rows | Q(span=DAY, day__in=subtracted) if subtracted else rows

    def sign(self, row: dict[str, Any]) -> int:
        """-1 for a stale day's row (in `histogram_rows` only to be taken off its month)."""
        return -1 if row["span"] == DAY and row["day"] in self.stale else 1


def _plan(
    stale: set[date],
    first_day: date,
    end_day: date,
    *,
    group_by: str | None,
    group_percentiles: bool,
    future_end: bool,
) -> _Plan:
    # Whole months serve the totals and month groups, not week groups' histograms.
    months = []
    if group_by != "week" or not group_percentiles:
        month = month_start(first_day)
        month = month if month == first_day else next_month(month)
        while next_month(month) <= end_day:
            months.append(month)
            month = next_month(month)
    tail_month: date | None = month_start(end_day - timedelta(days=1))
    if not (
        group_by == "week"
        and not group_percentiles
        and first_day <= tail_month < end_day < next_month(tail_month)
        and future_end
    ):
        tail_month = None
    return _Plan(first_day, end_day, tuple(sorted(stale)), tuple(months), tail_month)


COARSE_COLUMNS = {name: f"coarse_{name}" for name in CLOCK_NAMES}


def _rows_of(department_id: int, plans: dict[str, _Plan]) -> QuerySet[PeriodFigures]:
    """The department's rows on the plans' sides within their days (month rows start on a day
    of the period): one range of the unique index per side, which the plans' conditions then
    narrow (alone, PostgreSQL read every row of the side to test them)."""
    first_day = min(plan.first_day for plan in plans.values())
    end_day = max(plan.end_day for plan in plans.values())
    return PeriodFigures.objects.filter(
        department_id=department_id,
        side__in=list(plans),
        span__in=[DAY, MONTH],
        day__gte=first_day,
        day__lt=end_day,
    )


def _stored_rows(
    department_id: int, plans: dict[str, _Plan], histograms_only: bool
) -> list[dict[str, Any]]:
    """The rows of every side in one query, compiled once per plan (a day's shape): side,
    span, day, the counts and each clock's coarse histogram (`coarse_<clock>`). With
    `histograms_only` (week groups without percentiles) every day row of the period for its
    counts, but its histograms only where no month row holds them (else null)."""

    def build(department_id: int) -> QuerySet:
        selected = []
        holding = []  # the rows whose histograms are read
        for side, plan in plans.items():
            rows = plan.histogram_rows()
            if histograms_only:
                holding.append(Q(side=side) & rows)
                rows |= plan.day_rows()  # every day row, for its counts
            selected.append(Q(side=side) & rows)
        coarse: dict[str, Any] = {}
        for name, alias in COARSE_COLUMNS.items():
            if histograms_only:
                coarse[alias] = Case(
                    When(reduce(or_, holding), then=F(f"{name}_coarse")),
                    default=Value(None),
                    output_field=JSONField(),
                )
            else:
                coarse[alias] = F(f"{name}_coarse")
        return (
            _rows_of(department_id, plans)
            .filter(reduce(or_, selected))
            .values("side", "span", "day", *FIGURE_FIELDS, **coarse)
        )

    key = ("slas.figures.rows", histograms_only, tuple(plans.items()))
    return fetch(key, build, department_id=department_id)


def _fine_rows(
    department_id: int, plans: dict[str, _Plan], aliases: dict[str, tuple[str, int]]
) -> list[dict[str, Any]]:
    """The fine counts of the coarse buckets `aliases` names, read from the histogram rows of
    each side's plan: a few keys of each row's fine histogram."""

    def build(department_id: int) -> QuerySet:
        rows = reduce(or_, (Q(side=side) & plan.histogram_rows() for side, plan in plans.items()))
        return (
            _rows_of(department_id, plans)
            .filter(rows)
            .annotate(
                **{
                    alias: KeyTransform(FINE_KEY.format(coarse), f"{name}_fine")
                    for alias, (name, coarse) in aliases.items()
                }
            )
            .values("side", "span", "day", *aliases)
        )

    key = ("slas.figures.fine", tuple(plans.items()), tuple(aliases.items()))
    return fetch(key, build, department_id=department_id)


def department_tallies(
    *,
    department_id: int,
    sides: Sequence[str],
    period_from: datetime,
    period_to: datetime,
    group_by: str | None = None,
    group_percentiles: bool = True,
    by_assignee: Collection[str] = (),
) -> dict[str, PeriodTallies]:
    """The figures of the department's tickets, as each of `sides`, created in
    [period_from, period_to), grouped by local week or month if asked; and its open tickets
    now (`read_ledgers`, per assignee on the sides in `by_assignee`).

    Whole months come from their month rows (less the rows of their stale days; where the
    grouping allows; for week groups without percentiles, the histograms of the month a future
    end falls in too), other whole days from their day rows unless stale; stale days and the
    partial days at either end are computed from the tickets. Tallies are kept until the side
    (a period) or the day (a stale day) changes (`_kept`). Queries, all sides at once: the
    ledger; unless kept, the rows, at most one over tickets, at most one for the fine counts the
    percentiles fall in (and one for a future month's days, when its row does not hold them
    after all).
    """
    zone = _zone()
    first_day = period_from.astimezone(zone).date()
    if day_start(first_day) < period_from:
        first_day += timedelta(days=1)
    end_day = period_to.astimezone(zone).date()
    partial_spans: list[tuple[datetime, datetime]] = []
    if first_day >= end_day:  # no whole day inside
        first_day = end_day = max(first_day, end_day)
        partial_spans.append((period_from, period_to))
    else:
        if period_from < day_start(first_day):
            partial_spans.append((period_from, day_start(first_day)))
        if day_start(end_day) < period_to:
            partial_spans.append((day_start(end_day), period_to))

    ledgers = read_ledgers(
        department_id=department_id,
        sides=sides,
        stale_from=first_day,
        stale_to=end_day,
        by_assignee=by_assignee,
    )
    period = (period_from, period_to, group_by, group_percentiles)
    keys = {
        side: _kept_key(department_id, side, ledger, "period", *period, ledger.all_entries)
        for side, ledger in ledgers.items()
    }
    counted = {side: _kept.get(key, _NOT_KEPT) for side, key in keys.items()}
    missing = {side: ledger for side, ledger in ledgers.items() if counted[side] is _NOT_KEPT}
    if missing:
        for side, tallies in _count_period(
            department_id,
            missing,
            first_day=first_day,
            end_day=end_day,
            partial_spans=partial_spans,
            future_end=period_to > timezone.now(),
            group_by=group_by,
            group_percentiles=group_percentiles,
        ).items():
            _keep(keys[side], tallies)
            counted[side] = tallies
    return {
        side: PeriodTallies(
            total=counted[side][0],
            groups=counted[side][1],
            open_counts=ledger.open_counts,
            open_by_assignee=ledger.open_by_assignee,
        )
        for side, ledger in ledgers.items()
    }


def _count_period(
    department_id: int,
    ledgers: dict[str, LedgerRead],
    *,
    first_day: date,
    end_day: date,
    partial_spans: list[tuple[datetime, datetime]],
    future_end: bool,
    group_by: str | None,
    group_percentiles: bool,
) -> dict[str, tuple[Tally, dict[date, Tally]]]:
    """`department_tallies`' total and groups of the sides of `ledgers`, counted."""
    group_start = GROUP_STARTS[group_by]
    sides = tuple(ledgers)
    histograms_only = group_by == "week" and not group_percentiles
    group_histograms = group_start is not None and group_percentiles
    plans = {
        side: _plan(
            ledgers[side].stale,
            first_day,
            end_day,
            group_by=group_by,
            group_percentiles=group_percentiles,
            future_end=future_end,
        )
        for side in sides
    }
    totals = {side: Tally() for side in sides}
    groups: dict[str, defaultdict[date, Tally]] = {side: defaultdict(Tally) for side in sides}

    def add_counts(target: Tally, row: dict[str, Any], sign: int) -> None:
        target.tickets += sign * row["tickets"]
        target.reopened += sign * row["reopened"]
        target.resolved_once += sign * row["resolved_once"]
        for name in CLOCK_NAMES:
            clock = target.clocks[name]
            clock.measured += sign * row[f"{name}_measured"]
            clock.met += sign * row[f"{name}_met"]
            clock.breached += sign * row[f"{name}_breached"]
            clock.timed += sign * row[f"{name}_timed"]

    # Histogram rows per side, (group day, sign, row); the tail month's tickets by its day rows
    # and by its month row (less its stale days' rows).
    holding: dict[str, list[tuple[date, int, dict[str, Any]]]] = {side: [] for side in sides}
    tail_tickets = dict.fromkeys(sides, 0)
    tail_row_tickets = dict.fromkeys(sides, 0)
    for row in _stored_rows(department_id, plans, histograms_only):
        side, day = row["side"], row["day"]
        plan = plans[side]
        sign = plan.sign(row)
        in_tail = plan.tail_month is not None and day >= plan.tail_month
        if not histograms_only:
            add_counts(totals[side], row, sign)
            if group_start is not None:
                add_counts(groups[side][group_start(day)], row, sign)
        elif row["span"] == DAY and sign > 0:  # here the counts come from the day rows
            add_counts(totals[side], row, 1)
            assert group_start is not None
            add_counts(groups[side][group_start(day)], row, 1)
            tail_tickets[side] += row["tickets"] if in_tail else 0
        if not histograms_only or row[COARSE_COLUMNS[CLOCK_NAMES[0]]] is not None:
            holding[side].append((day, sign, row))
            if in_tail and (row["span"] == MONTH or sign < 0):
                tail_row_tickets[side] += sign * row["tickets"]
    # A tail month whose row holds more than the period's days: those days' rows after all.
    wrong_tails = {
        side: plan.tail_month
        for side, plan in plans.items()
        if plan.tail_month is not None and tail_tickets[side] != tail_row_tickets[side]
    }
    if wrong_tails:
        within = []
        for side, tail_month in wrong_tails.items():
            holding[side] = [held for held in holding[side] if held[0] < tail_month]
            plans[side] = replace(plans[side], tail_month=None)
            within.append(Q(side=side) & plans[side].day_rows() & Q(day__gte=tail_month))
        tail_rows = PeriodFigures.objects.filter(reduce(or_, within), department_id=department_id)
        for row in tail_rows.values(
            "side", "day", **{a: F(f"{n}_coarse") for n, a in COARSE_COLUMNS.items()}
        ):
            holding[row["side"]].append((row["day"], 1, row))

    # Coarse counts added up under their JSON keys, converted once per target.
    stored_coarse = dict.fromkeys(sides, False)
    for side in sides:
        sums: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
        targets: dict[int, Tally] = {id(totals[side]): totals[side]}
        for day, sign, row in holding[side]:
            into = [totals[side]]
            if group_histograms:
                assert group_start is not None
                into.append(groups[side][group_start(day)])
            for target in into:
                targets[id(target)] = target
                for name, alias in COARSE_COLUMNS.items():
                    counts = sums[(id(target), name)]
                    for bucket, count in row[alias].items():
                        counts[bucket] = counts.get(bucket, 0) + sign * count
        for (target_id, name), counts in sums.items():
            nonzero = {int(bucket): n for bucket, n in counts.items() if n}
            if nonzero:
                stored_coarse[side] = True
                targets[target_id].clocks[name].coarse.update(nonzero)

    # Stale days and partial days from the tickets; stale days' tallies kept (`_kept`).
    live: dict[str, list[tuple[date, Tally]]] = {side: [] for side in sides}
    missing: dict[str, list[date]] = {side: [] for side in sides}
    day_keys: dict[tuple[str, date], tuple | None] = {}
    for side, ledger in ledgers.items():
        for day in sorted(ledger.stale):
            key = _kept_key(department_id, side, ledger, "day", day, ledger.entries[day])
            day_keys[(side, day)] = key
            kept = _kept.get(key, _NOT_KEPT)
            if kept is _NOT_KEPT:
                missing[side].append(day)
            elif kept is not None:  # None: no tickets that day
                live[side].append((day, kept))
    spans = {
        side: partial_spans + _day_spans(missing[side])
        for side in sides
        if partial_spans or missing[side]
    }
    if spans:
        tickets = Ticket.objects.filter(
            reduce(
                or_,
                (
                    Q(**{SIDE_COLUMNS[side]: department_id}) & _created_within(side_spans)
                    for side, side_spans in spans.items()
                ),
            )
        )
        computed = compute_tallies(tickets, sides=tuple(spans))
        for side in spans:
            for day in missing[side]:
                tally = computed.get((department_id, side, day))
                _keep(day_keys[(side, day)], tally)
                if tally is not None:
                    live[side].append((day, tally))
        for (key_department, side, day), tally in computed.items():
            # The partial days at either end (never whole days of the period).
            partial = not first_day <= day < end_day
            if key_department == department_id and side in spans and partial:
                live[side].append((day, tally))
    for side, tallies in live.items():
        for day, tally in tallies:
            totals[side].add(tally)
            if group_start is not None:
                groups[side][group_start(day)].add(tally, histograms=group_histograms)

    # Fine counts of the coarse buckets the percentiles fall in, for the stored rows only (live
    # tallies carry theirs): one query reading a few keys of each row's fine histogram.
    wanted: dict[str, dict[str, set[int]]] = {}
    for side in sides:
        if not stored_coarse[side]:
            continue
        for name in CLOCK_NAMES:
            clock = totals[side].clocks[name]
            needs = clock.ranks_needed() if clock.timed else set()
            if group_histograms:
                for tally in groups[side].values():
                    if tally.clocks[name].timed:
                        needs |= tally.clocks[name].ranks_needed()
            wanted.setdefault(side, {})[name] = needs
    aliases = {
        f"fine_{name}_{coarse}": (name, coarse)
        for needs in wanted.values()
        for name, coarses in needs.items()
        for coarse in sorted(coarses)
    }
    fine_plans = {side: plans[side] for side, needs in wanted.items() if any(needs.values())}
    if fine_plans:
        for values in _fine_rows(department_id, fine_plans, dict(sorted(aliases.items()))):
            side = values["side"]
            sign = plans[side].sign(values)
            targets = [totals[side]]
            if group_histograms:
                assert group_start is not None
                targets.append(groups[side][group_start(values["day"])])
            for alias, (name, coarse) in aliases.items():
                counts = values[alias]
                if not counts or coarse not in wanted[side][name]:
                    continue
                parsed = {int(bucket): sign * n for bucket, n in counts.items()}
                for tally in targets:
                    tally.clocks[name].fine[coarse].update(parsed)
    return {side: (totals[side], dict(groups[side])) for side in sides}
