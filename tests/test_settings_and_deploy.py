"""Settings come from the environment; production refuses insecure values; compose is valid."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_development_secret_key():
    result = run_manage("check", env={"DJANGO_ENV": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_debug():
    result = run_manage(
        "check", env={"DJANGO_ENV": "production", "SECRET_KEY": "k" * 60, "DEBUG": "true"}
    )
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_settings_pass_djangos_deploy_checks():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_ENV": "production",
            "SECRET_KEY": "a9f$Kq2!vL7#pX0@zR5^wN8&bT3*mY6(cH1)dJ4_eG9+sQ2=uV",
            "ALLOWED_HOSTS": "desk.example.com",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="Debian's docker-compose package is not installed",
)
def test_compose_file_is_valid_and_has_the_production_services():
    result = subprocess.run(
        ["docker-compose", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SECRET_KEY": "x" * 50},
    )
    assert result.returncode == 0, result.stderr
    for service in ("postgres:", "redis:", "web:", "worker:", "beat:"):
        assert f"  {service}" in result.stdout
    assert result.stdout.count("healthcheck:") >= 5


@pytest.mark.django_db
@pytest.mark.parametrize(("workers", "shown"), [(None, "0"), ("2", "2")])
def test_requests_queries_start_no_parallel_workers_unless_configured(workers, shown):
    """PostgreSQL connections run with JIT off and no parallel workers (a search paid 4 ms to
    start one for 0.1 ms of reading); DATABASE_PARALLEL_WORKERS gives them back."""
    from tests.faults.processes import subprocess_database_url

    env = {"DATABASE_URL": subprocess_database_url()}
    if workers:
        env["DATABASE_PARALLEL_WORKERS"] = workers
    code = (
        "from django.db import connection; cursor = connection.cursor(); "
        "cursor.execute('SHOW max_parallel_workers_per_gather'); print(cursor.fetchone()[0]); "
        "cursor.execute('SHOW jit'); print(cursor.fetchone()[0])"
    )
    result = run_manage("shell", "-v", "0", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [shown, "off"]
