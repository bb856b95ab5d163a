"""A service's extra request fields (`form_schema`) and the validation of answers against them.

Plain Python, no Django: the same rules serve the API, the pages and the demo data.
"""

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

FIELD_TYPES = ("text", "textarea", "number", "date", "choice")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_TEXT = 200
MAX_TEXTAREA = 5000
# Answers are stored as JSON and read by browsers: keep numbers well inside exact doubles, and
# refuse what PostgreSQL's jsonb cannot store (NUL characters) instead of failing on save.
MAX_NUMBER = Decimal(10) ** 15


class SchemaError(ValueError):
    """The schema itself is malformed; `errors` maps a position or key to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate_schema(schema: Any) -> list[dict[str, Any]]:
    """Check a form_schema and return it normalised; raise SchemaError naming each bad field."""
    if not isinstance(schema, list):
        raise SchemaError({"form_schema": "must be a list of field definitions"})
    errors: dict[str, str] = {}
    normalised: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, field in enumerate(schema):
        where = f"form_schema[{index}]"
        if not isinstance(field, dict):
            errors[where] = "must be an object"
            continue
        key = field.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors[f"{where}.key"] = (
                "must be lower-case letters, digits or _ and start with a letter"
            )
            continue
        if key in seen:
            errors[f"{where}.key"] = f"duplicate key {key!r}"
            continue
        seen.add(key)
        ftype = field.get("type", "text")
        if ftype not in FIELD_TYPES:
            errors[f"{where}.type"] = f"must be one of {', '.join(FIELD_TYPES)}"
            continue
        label = field.get("label", key)
        if not isinstance(label, str) or not label.strip() or "\x00" in label:
            errors[f"{where}.label"] = "must be a non-empty string without NUL characters"
            continue
        required = field.get("required", False)
        if not isinstance(required, bool):
            errors[f"{where}.required"] = "must be true or false"
            continue
        item: dict[str, Any] = {"key": key, "label": label, "type": ftype, "required": required}
        if ftype == "choice":
            choices = field.get("choices")
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, str) and c and "\x00" not in c for c in choices)
                or len(set(choices)) != len(choices)
            ):
                errors[f"{where}.choices"] = "a choice field needs a list of distinct strings"
                continue
            item["choices"] = choices
        elif "choices" in field and field["choices"]:
            errors[f"{where}.choices"] = "only choice fields take choices"
            continue
        normalised.append(item)
    if errors:
        raise SchemaError(errors)
    return normalised


def _untranslated(message: str) -> str:
    return message


def clean_answers(
    schema: list[dict[str, Any]],
    answers: Any,
    translate: Callable[[str], str] = _untranslated,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate answers against a (valid) schema.

    Returns (cleaned answers, errors keyed by field key). Unknown keys are errors, so a typo in
    a client never loses an answer silently. Numbers come back as int or float, dates as ISO text.
    Messages go through `translate` (the caller passes Django's gettext; `_` marks them for
    makemessages).
    """
    _ = translate
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        return {}, {"form_data": _("must be an object of field key to answer")}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    fields = {f["key"]: f for f in schema}
    for key in answers:
        if key not in fields:
            errors[str(key)] = _("is not a field of this service")
    for key, field in fields.items():
        value = answers.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if field.get("required"):
                errors[key] = _("this field is required")
            continue
        ftype = field["type"]
        if ftype in ("text", "textarea"):
            if not isinstance(value, str):
                errors[key] = _("must be text")
                continue
            if "\x00" in value:
                errors[key] = _("must not contain NUL characters")
                continue
            limit = MAX_TEXT if ftype == "text" else MAX_TEXTAREA
            if len(value) > limit:
                errors[key] = _("must be at most %(limit)s characters") % {"limit": limit}
                continue
            cleaned[key] = value.strip()
        elif ftype == "number":
            if isinstance(value, bool):
                errors[key] = _("must be a number")
                continue
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                errors[key] = _("must be a number")
                continue
            if not number.is_finite():
                errors[key] = _("must be a finite number")
                continue
            if abs(number) >= MAX_NUMBER:
                errors[key] = _("must be less than 10^15 in absolute value")
                continue
            cleaned[key] = int(number) if number == number.to_integral_value() else float(number)
        elif ftype == "date":
            if not isinstance(value, str):
                errors[key] = _("must be a date in YYYY-MM-DD form")
                continue
            try:
                cleaned[key] = datetime.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                errors[key] = _("must be a date in YYYY-MM-DD form")
        elif ftype == "choice":
            if value not in field["choices"]:
                errors[key] = _("must be one of: %(choices)s") % {
                    "choices": ", ".join(field["choices"])
                }
                continue
            cleaned[key] = value
    return cleaned, errors
