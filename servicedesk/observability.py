"""Structured logs: one line per request and per Celery task, and ids on every line in between.

`RequestLogMiddleware` gives each request an id (a sane incoming `X-Request-ID` is kept, else a
new one), returns it in the `X-Request-ID` header and logs method, path, status and duration.
`ContextFilter` copies the current request id, or the running task's name and id, onto every
log record, so the JSON formatter (LOG_FORMAT=json) writes them as fields.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("servicedesk.request")
task_logger = logging.getLogger("servicedesk.task")

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_task: ContextVar[tuple[str, str] | None] = ContextVar("task", default=None)
_task_started: ContextVar[float] = ContextVar("task_started", default=0.0)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestLogMiddleware:
    """Outermost middleware: times the whole request, including the other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            user = (
                None
                if getattr(request, "log_without_user", False)
                else getattr(request, "user", None)
            )
            request_logger.info(
                "%s %s %s %sms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            _request_id.reset(token)


def omit_user_from_log(request: HttpRequest) -> None:
    """Keep this request's log line free of who made it (an anonymous suggestion, say)."""
    request.log_without_user = True  # type: ignore[attr-defined]


class ContextFilter(logging.Filter):
    """Adds `request_id`, or `task_name` and `task_id`, to every record (empty when neither)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or None
        task = _task.get()
        if task is not None:
            if not hasattr(record, "task_name"):
                record.task_name = task[0]
            if not hasattr(record, "task_id"):
                record.task_id = task[1]
        return True


def task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    name = getattr(task, "name", "") or ""
    _task.set((name, task_id or ""))
    _task_started.set(time.perf_counter())
    task_logger.info("task %s started", name, extra={"task_name": name, "task_id": task_id})


def task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    name = getattr(task, "name", "") or ""
    duration_ms = round((time.perf_counter() - _task_started.get()) * 1000, 1)
    task_logger.info(
        "task %s %s %sms",
        name,
        state,
        duration_ms,
        extra={
            "task_name": name,
            "task_id": task_id,
            "state": state,
            "duration_ms": duration_ms,
        },
    )
    _task.set(None)


def connect_task_logging() -> None:
    """Log every task's start and end (called once by the Celery app module)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(task_started, weak=False, dispatch_uid="servicedesk-task-started")
    task_postrun.connect(task_finished, weak=False, dispatch_uid="servicedesk-task-finished")
