"""Fixtures for the fault tests: throwaway servers and subprocesses, always torn down."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from departments.models import User

from .processes import Proc, ThrowawayPostgres, ThrowawayRedis, postgres_unavailable_reason


@pytest.fixture
def processes() -> Iterator[list[Proc]]:
    """Every subprocess a test starts goes in here; all are stopped at the end, newest first."""
    started: list[Proc] = []
    yield started
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = ThrowawayRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.stop(timeout=10)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def token_for() -> Callable[[User], dict[str, str]]:
    """Authorization headers for a user (an API client that has signed in)."""

    def _headers(user: User) -> dict[str, str]:
        token, _created = Token.objects.get_or_create(user=user)
        return {"Authorization": f"Token {token.key}", "Accept-Language": "en"}

    return _headers
