"""An external system, holding only an admin account made by `createsuperuser`, drives the whole
backbone over real HTTP with tokens: org chart, catalog, a ticket's life, its timeline."""

import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from django.core.management import call_command


class Http:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        token: str | None = None,
        expect: int = 200,
    ):
        status, payload = self.call(method, path, body, token)
        assert status == expect, (method, path, status, payload)
        return payload

    def token(self, username: str, password: str) -> str:
        return self.ok("POST", "/api/v1/auth/token/", {"username": username, "password": password})[
            "token"
        ]


@pytest.mark.django_db(transaction=True)
def test_external_client_builds_org_and_runs_a_ticket_to_closed(live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Root-pass-2026!")
    call_command(
        "createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0
    )
    http = Http(live_server.url)
    admin = http.token("root", "Root-pass-2026!")

    # Org chart, as an HR system would sync it.
    company = http.ok(
        "POST", "/api/v1/departments/", {"name": "总经办", "code": "GM"}, admin, expect=201
    )
    it = http.ok(
        "POST",
        "/api/v1/departments/",
        {"name": "信息技术部", "code": "IT", "parent": company["id"]},
        admin,
        expect=201,
    )
    hr = http.ok(
        "POST",
        "/api/v1/departments/",
        {"name": "人力资源部", "code": "HR", "parent": company["id"]},
        admin,
        expect=201,
    )
    password = "Long-enough-pw-7"
    people = {}
    for username, department in [("li.na", hr), ("wang.wei", it)]:
        people[username] = http.ok(
            "POST",
            "/api/v1/users/",
            {
                "username": username,
                "email": f"{username}@example.com",
                "first_name": "测",
                "last_name": "试",
                "password": password,
                "department": department["id"],
            },
            admin,
            expect=201,
        )
    http.ok(
        "POST",
        f"/api/v1/departments/{it['id']}/members/",
        {"user": people["wang.wei"]["id"], "role": "agent"},
        admin,
        expect=201,
    )
    members = http.ok("GET", f"/api/v1/departments/{it['id']}/members/", token=admin)
    assert {(m["user"], m["role"]) for m in members["results"]} == {
        (people["wang.wei"]["id"], "agent")
    }

    service = http.ok(
        "POST",
        "/api/v1/services/",
        {
            "department": it["id"],
            "name": "笔记本电脑申请",
            "category": "硬件",
            "description": "新员工或更换电脑",
            "default_priority": "normal",
            "form_schema": [
                {
                    "key": "model",
                    "label": "型号",
                    "type": "choice",
                    "choices": ["14寸", "16寸"],
                    "required": True,
                },
                {"key": "needed_by", "label": "需要日期", "type": "date"},
            ],
        },
        admin,
        expect=201,
    )

    requester = http.token("li.na", password)
    agent = http.token("wang.wei", password)

    catalog = http.ok("GET", "/api/v1/services/?search=" + quote("电脑"), token=requester)
    assert [s["id"] for s in catalog["results"]] == [service["id"]]

    ticket = http.ok(
        "POST",
        "/api/v1/tickets/",
        {
            "service": service["id"],
            "title": "新员工电脑",
            "description": "下周一入职",
            "form_data": {"model": "16寸", "needed_by": "2026-12-01"},
        },
        requester,
        expect=201,
    )
    assert ticket["reference"].startswith("IT-")
    assert ticket["form_data"] == {"model": "16寸", "needed_by": "2026-12-01"}
    assert ticket["requester_department"] == hr["id"]
    tid = ticket["id"]

    queue = http.ok(
        "GET", f"/api/v1/tickets/?provider_department={it['id']}&status=new", token=agent
    )
    assert [t["id"] for t in queue["results"]] == [tid]

    http.ok(
        "POST",
        f"/api/v1/tickets/{tid}/transitions/",
        {"status": "assigned", "assignee": people["wang.wei"]["id"]},
        agent,
    )
    http.ok("POST", f"/api/v1/tickets/{tid}/transitions/", {"status": "in_progress"}, agent)
    http.ok(
        "POST",
        f"/api/v1/tickets/{tid}/comments/",
        {"body": "已下单，预计周五到货"},
        agent,
        expect=201,
    )
    resolved = http.ok(
        "POST",
        f"/api/v1/tickets/{tid}/transitions/",
        {"status": "resolved", "comment": "电脑已交付"},
        agent,
    )
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    closed = http.ok("POST", f"/api/v1/tickets/{tid}/transitions/", {"status": "closed"}, requester)
    assert closed["status"] == "closed" and closed["closed_at"]
    assert closed["first_response_at"] is not None

    events = http.ok("GET", f"/api/v1/tickets/{tid}/events/", token=requester)["results"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "created"
    for kind in ("assigned", "first_response", "commented", "resolved"):
        assert kind in kinds
    moves = [(e["from_value"], e["to_value"]) for e in events if e["kind"] == "status_changed"]
    assert moves == [
        ("new", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    # The closing remark and the reply are both public comments on the timeline.
    comments = http.ok("GET", f"/api/v1/tickets/{tid}/comments/", token=requester)["results"]
    assert [c["body"] for c in comments] == ["已下单，预计周五到货", "电脑已交付"]
