"""Security headers on pages and API answers (CSP, framing, sniffing, referrer, HSTS over
HTTPS), Django's deploy checks under production settings, and JSON log lines."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import Company

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "a9f$Kq2!vL7#pX0@zR5^wN8&bT3*mY6(cH1)dJ4_eG9+sQ2=uV",
    "ALLOWED_HOSTS": "desk.example.com,testserver",
}


def directives(header: str) -> dict[str, list[str]]:
    found = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


def assert_security_headers(response: object, where: str) -> None:
    headers = response.headers
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", where
    csp = directives(headers.get("Content-Security-Policy", ""))
    assert csp.get("default-src") == ["'self'"], where
    assert csp.get("script-src") == ["'self'"], where  # no inline script, no eval
    assert csp.get("style-src") == ["'self'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'self'"], where
    assert "X-Request-ID" in headers, where


@pytest.mark.django_db
def test_pages_and_api_answers_carry_the_security_headers(company: Company) -> None:
    anonymous = Client()
    assert_security_headers(anonymous.get("/accounts/login/"), "login page")
    signed_in = Client()
    signed_in.force_login(company.requester)
    for url in ("/", "/catalog/", "/requests/", "/notifications/", "/no-such-page/"):
        assert_security_headers(signed_in.get(url), url)
    api = APIClient()
    api.force_authenticate(company.requester)
    for url in ("/api/v1/tickets/", "/api/v1/services/", "/api/v1/tickets/999999/"):
        assert_security_headers(api.get(url), url)
    assert_security_headers(APIClient().get("/api/v1/tickets/"), "401")


@pytest.mark.django_db
def test_the_api_docs_page_may_load_swagger_from_its_cdn_but_nothing_inline(
    company: Company,
) -> None:
    client = Client()
    client.force_login(company.requester)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = directives(response.headers["Content-Security-Policy"])
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert b"<script>" not in response.content  # the split view serves its script by URL


@pytest.mark.django_db
def test_hsts_is_sent_over_https_when_configured(company: Company, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = Client().get("/accounts/login/", secure=True)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/").headers


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DJANGO_ENV",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "LOG_FORMAT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else [])],
        cwd=ROOT,
        env={**keep, "DJANGO_SETTINGS_MODULE": "servicedesk.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_under_production_settings_reports_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "LOG_FORMAT")},
            **PRODUCTION,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


PRODUCTION_REQUEST = """
import django, json
django.setup()
from django.test import Client
from django.conf import settings
response = Client().get("/api/v1/auth/token/", secure=True, headers={"x-request-id": "abc-123-req"})
print(json.dumps({"status": response.status_code, "headers": dict(response.headers),
                  "session_secure": settings.SESSION_COOKIE_SECURE}))
"""


def test_production_sends_hsts_over_https_and_logs_json_lines() -> None:
    result = run_python(PRODUCTION_REQUEST, {**PRODUCTION, "REDIS_URL": ""})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 405  # GET on the token endpoint: answered, not redirected
    assert answer["headers"]["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "includeSubDomains" in answer["headers"]["Strict-Transport-Security"]
    assert answer["session_secure"] is True
    # Production logs JSON by default: the request's line parses and carries its facts.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("logger") == "servicedesk.request"]
    assert len(request_lines) == 1, result.stderr
    line = request_lines[0]
    assert line["request_id"] == "abc-123-req"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/auth/token/"
    assert line["status"] == 405
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and "time" in line


TASK_LOG = """
import django
django.setup()
from celery import shared_task

@shared_task(name="abuse.probe")
def probe(x):
    import logging
    logging.getLogger("abuse").warning("inside the task %s", x)
    return x

probe.apply(args=(7,), task_id="task-id-42")
"""


def test_celery_tasks_log_json_lines_with_task_name_and_id() -> None:
    result = run_python(TASK_LOG, {"LOG_FORMAT": "json", "REDIS_URL": ""})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    task_lines = [line for line in lines if line.get("task_id") == "task-id-42"]
    assert {line["logger"] for line in task_lines} >= {"servicedesk.task", "abuse"}
    assert all(line["task_name"] == "abuse.probe" for line in task_lines)
    finished = [line for line in task_lines if line.get("state")]
    assert finished and finished[-1]["state"] == "SUCCESS"
    assert isinstance(finished[-1]["duration_ms"], float)


def test_development_logs_plain_text_lines() -> None:
    code = PRODUCTION_REQUEST.replace("secure=True, ", "")
    result = run_python(code, {"REDIS_URL": "", "ALLOWED_HOSTS": "testserver"})
    assert result.returncode == 0, result.stderr
    request_lines = [line for line in result.stderr.splitlines() if "servicedesk.request" in line]
    assert request_lines and not request_lines[0].startswith("{")
    assert "GET /api/v1/auth/token/ 405" in request_lines[0]
