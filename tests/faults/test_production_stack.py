"""The process set-up of docker-compose.yml runs on this machine and works end to end
(DESIGN §3 "Running it"): DJANGO_ENV=production configured by environment variables only,
gunicorn with WhiteNoise, two Celery workers, exactly one beat with the DatabaseScheduler, on
PostgreSQL and Redis. Docker itself is not needed: bench/prod_stack.py starts the same commands.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.prod_stack import production_stack

from .processes import BASE_DIR, subprocess_database_url

LONG_RUNNING = ("postgres", "redis", "web", "worker", "beat")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_production_processes_serve_mail_static_and_run_the_sla_sweep(tmp_path: Path):
    # A server where the stack may create (and afterwards drop) a database of its own: the one
    # the test database lives on.
    server = subprocess_database_url().rsplit("/", 1)[0] + "/postgres"
    report = production_stack(server, tmp_path)
    checks = report["checks"]

    assert checks["healthz"] == {"status": "ok", "database": "ok", "broker": "ok"}
    assert checks["workers_answering"] == ["worker1@prodstack", "worker2@prodstack"]
    # The ticket filed over the API was mailed once to each of IT's staff by a worker.
    assert checks["mailed_to"] == ["agent@example.com", "ithead@example.com"]
    # The stylesheet the login page links is the collected, hashed file, cached for good.
    static = checks["static"]
    assert static["status"] == 200
    assert static["content_type"].startswith("text/css")
    assert "immutable" in static["cache_control"]
    assert static["bytes"] > 0
    # Beat fired the SLA sweep, which escalated the overdue ticket.
    assert checks["escalations"] >= 1
    # Every process stopped by itself on SIGTERM (warm shutdown), none had to be killed.
    assert report["exit_status"] == {
        "beat": 0,
        "worker2": 0,
        "worker1": 0,
        "web": 0,
        "redis": 0,
    }, report["logs"]
    setup, total = report["setup_seconds"], report["total_seconds"]
    print(f"\nproduction stack: {checks}; setup {setup}s, total {total}s")


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed"
)
def test_compose_file_scales_workers_keeps_one_beat_and_restarts_what_fails():
    env = {**os.environ, "SECRET_KEY": "x" * 50}
    quiet = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=BASE_DIR, env=env, capture_output=True, timeout=60
    )
    assert quiet.returncode == 0, quiet.stderr
    result = subprocess.run(
        ["docker-compose", "config"], cwd=BASE_DIR, env=env, capture_output=True, timeout=60
    )
    services = yaml.safe_load(result.stdout)["services"]

    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["restart"] == "no"
    # Workers scale to N replicas: nothing pins one container.
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][:4] == ["celery", "-A", "servicedesk", "worker"]
    # Exactly one beat, with the database scheduler.
    beat = services["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat["command"]
    assert sum("beat" in " ".join(s.get("command") or []) for s in services.values()) == 1
    # Data lives in named volumes: the database, the broker's append-only file, uploads.
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])
    assert any(v.startswith("redisdata:") for v in services["redis"]["volumes"])
    for name in ("web", "worker", "beat"):
        assert any(v.startswith("media:") for v in services[name]["volumes"]), name
        assert services[name]["environment"]["DJANGO_ENV"] == "production"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
