"""Profile one request in-process on a benchmark database (issue #6).

    .venv/bin/python -m bench.profile_request <db> <who> <path> [n] [--post '<json>']

`who`: agent | requester (API tokens), agent_page | head_page (sessions); `{it}` in the path is
IT's department id. Prints ms/req (mean, median, p10) over `n` requests, the queries of one
request, then cProfile of `n` more. Env: SQL=1 lists each query with its ms, TOP=N cProfile rows,
SORT=tottime.

`--post '<json>'` POSTs the body instead (expects 200 or 201); `{service}` in the body is the
benchmark's IT service, `{i}` the request's number (unique titles). `{filed}` in the path is a
ticket the benchmark's requester files just before each request (not timed), e.g.
`/api/v1/tickets/{filed}/transitions/ --post '{"status": "in_progress"}'`. POSTs write real rows
into the benchmark database.
"""

import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from itertools import count
from typing import Any


def main(argv: list[str]) -> None:
    body_template = None
    if "--post" in argv:
        at = argv.index("--post")
        body_template = argv[at + 1]
        del argv[at : at + 2]
    db, who, path = argv[0:3]
    n = int(argv[3]) if len(argv) > 3 else 20
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    os.environ["DEBUG"] = "false"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("THROTTLE_WRITE", "1000000/min")  # POST loops file many a minute
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from bench.run import people
    from tickets.models import Service
    from tickets.services import file_ticket

    settings.ALLOWED_HOSTS = ["*"]
    who_is = people()
    client = Client()
    headers = {}
    if who in ("agent", "requester"):
        headers["HTTP_AUTHORIZATION"] = "Token " + who_is[f"{who}_token"]
    if who.endswith("_page"):
        client.cookies["sessionid"] = who_is[who.replace("_page", "_cookie")].split("=")[1]
    values = {key: value for key, value in who_is.items() if isinstance(value, int)}
    numbers = count()

    def prepare() -> tuple[str, str | None]:
        """The next request's path and body; files its ticket first when the path asks."""
        number = next(numbers)
        url = path
        if "{filed}" in url:
            filed = file_ticket(
                requester=who_is["requester"],
                service=Service.objects.get(pk=who_is["service"]),
                title=f"profile {number}",
                priority="normal",
            )
            url = url.replace("{filed}", str(filed.pk))
        url = url.format(**values)
        if body_template is None:
            return url, None
        body = body_template.replace("{service}", str(who_is["service"]))
        return url, body.replace("{i}", str(number))

    def send(url: str, body: str | None) -> Any:
        if body is None:
            return client.get(url, **headers)
        return client.post(url, body, content_type="application/json", **headers)

    first = send(*prepare())
    assert first.status_code in (200, 201), (first.status_code, first.content[:300])
    queries: list[tuple[float, str]] = []

    def timed(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, sql))

    prepared = prepare()
    with connection.execute_wrapper(timed):
        send(*prepared)
    sql_seconds = sum(seconds for seconds, _sql in queries)
    times = []
    for _ in range(n):
        prepared = prepare()
        started = time.perf_counter()
        send(*prepared)
        times.append(time.perf_counter() - started)
    p10 = statistics.quantiles(times, n=10)[0] if len(times) > 1 else times[0]
    shown = path if body_template is None else f"POST {path}"
    print(
        f"{shown}: {statistics.fmean(times) * 1000:.1f} ms/req "
        f"(median {statistics.median(times) * 1000:.1f}, p10 {p10 * 1000:.1f}), "
        f"{len(queries)} queries, sql {sql_seconds * 1000:.1f} ms, {len(first.content)} bytes"
    )
    if os.environ.get("SQL"):
        for seconds, sql in queries:
            print(f"{seconds * 1000:.2f}", sql[:400])
    profile = cProfile.Profile()
    for _ in range(n):
        prepared = prepare()
        profile.enable()
        send(*prepared)
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats(os.environ.get("SORT", "cumulative"))
    stats.print_stats(int(os.environ.get("TOP", 45)))


if __name__ == "__main__":
    main(sys.argv[1:])
