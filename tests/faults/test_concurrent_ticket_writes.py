"""Fifty transitions and comments hit one ticket at once over HTTP (the live server, one thread
and one PostgreSQL connection per request). Nothing is lost and the ticket stays consistent:
every accepted comment is stored once, the status_changed events chain from one status to the
next and end at the ticket's status, and no lock conflict leaks out as a 500
(DESIGN §2 tickets: events are the timeline and audit log; §3 errors are JSON with a code).
"""

import random
import threading
from collections import Counter

import pytest
import requests

from tickets.models import Comment, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10
OPS_PER_THREAD = 5
# A requester's reply to a ticket waiting on them moves it back to work (by the system, in the
# requester's name); the requester may not make this move by hand.
AUTOMATIC = (Status.WAITING, Status.IN_PROGRESS)


def test_fifty_concurrent_transitions_and_comments_lose_nothing(company, live_server, token_for):
    ticket = Ticket.objects.get(
        pk=requests.post(
            f"{live_server.url}/api/v1/tickets/",
            json={"service": company.service.pk, "title": "会议室投影仪坏了",
                  "form_data": {"model": "14寸"}},
            headers=token_for(company.requester),
            timeout=30,
        ).json()["id"]
    )  # fmt: skip
    provider = [company.agent, company.agent2, company.it_head]
    # 20 comments (provider replies and requester replies) and 30 status moves, shuffled.
    ops: list[tuple[str, object, str]] = []
    for n in range(20):
        author = company.requester if n % 3 == 0 else provider[n % 3]
        ops.append(("comment", author, f"并发评论 COMMENT-{n:02d}"))
    for n in range(30):
        target = ("in_progress", "waiting", "resolved")[n % 3]
        ops.append(("transition", provider[n % 3], target))
    for n in range(4):  # the requester reopens a resolved ticket
        ops[20 + n * 7] = ("transition", company.requester, "in_progress")
    random.Random(6).shuffle(ops)
    assert len(ops) == THREADS * OPS_PER_THREAD

    url = f"{live_server.url}/api/v1/tickets/{ticket.pk}"
    headers = {user.pk: token_for(user) for user in [company.requester, *provider]}
    outcomes: list[tuple[str, object, str, int, dict]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS, timeout=30)

    def run(batch: list[tuple[str, object, str]]) -> None:
        with requests.Session() as session:
            barrier.wait()
            for kind, user, value in batch:
                if kind == "comment":
                    response = session.post(
                        f"{url}/comments/", json={"body": value}, headers=headers[user.pk],
                        timeout=60,
                    )  # fmt: skip
                else:
                    response = session.post(
                        f"{url}/transitions/", json={"status": value}, headers=headers[user.pk],
                        timeout=60,
                    )  # fmt: skip
                try:
                    body = response.json()
                except ValueError:
                    body = {"raw": response.text[:500]}
                with lock:
                    outcomes.append((kind, user, value, response.status_code, body))

    threads = [threading.Thread(target=run, args=(ops[n::THREADS],)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes) == len(ops)

    # Every answer is a success or a clean refusal of a move the current status does not allow.
    codes = Counter((kind, status) for kind, _u, _v, status, _b in outcomes)
    unexpected = [o for o in outcomes if (o[0], o[3]) not in {("comment", 201),
                  ("transition", 200), ("transition", 409)}]  # fmt: skip
    assert unexpected == [], unexpected
    assert all(b["code"] == "invalid_transition" for _k, _u, _v, s, b in outcomes if s == 409)

    # Every accepted comment is stored exactly once.
    ticket.refresh_from_db()
    accepted = sorted(v for k, _u, v, s, _b in outcomes if k == "comment" and s == 201)
    assert len(accepted) == 20  # never finished (closed/cancelled): every comment is allowed
    assert sorted(Comment.objects.filter(ticket=ticket).values_list("body", flat=True)) == (
        accepted
    )
    assert TicketEvent.objects.filter(ticket=ticket, kind="commented").count() == len(accepted)

    # The status changes chain: each starts where the previous ended, the first from "new",
    # the last at the ticket's status; one per accepted move (plus the automatic move a
    # requester's reply makes while the ticket waits on them).
    changes = list(
        TicketEvent.objects.filter(ticket=ticket, kind="status_changed")
        .order_by("at", "id")
        .values_list("from_value", "to_value", "actor")
    )
    assert changes, "no move was accepted"
    assert changes[0][0] == Status.NEW
    for previous, current in zip(changes, changes[1:], strict=False):
        assert current[0] == previous[1], changes
    assert changes[-1][1] == ticket.status
    automatic = sum(
        1
        for before, after, actor in changes
        if actor == company.requester.pk and (before, after) == AUTOMATIC
    )
    assert len(changes) == codes[("transition", 200)] + automatic
    # Each accepted move is in the timeline as made, by whom it was made; the API agrees with
    # the database on where the ticket ended.
    recorded = Counter(
        (actor, after)
        for before, after, actor in changes
        if not (actor == company.requester.pk and (before, after) == AUTOMATIC)
    )
    assert recorded == Counter(
        (user.pk, value) for k, user, value, s, _b in outcomes if k == "transition" and s == 200
    )
    final = requests.get(f"{url}/", headers=headers[company.requester.pk], timeout=30)
    assert final.json()["status"] == ticket.status
    print(
        f"\nconcurrent writes: {dict(codes)}; {len(changes)} status changes "
        f"({automatic} by requester replies), final status {ticket.status}"
    )
