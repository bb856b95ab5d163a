"""Both catalogs are complete, and errors reach the user in their language."""

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_chinese_catalog_translates_every_message():
    catalog = polib.pofile(str(ROOT / "locale/zh_Hans/LC_MESSAGES/django.po"))
    missing = [
        e.msgid
        for e in catalog
        if not e.obsolete
        and (e.fuzzy or not (e.msgstr_plural.get(0) if e.msgid_plural else e.msgstr))
    ]
    assert missing == []


def test_english_catalog_exists_for_every_message():
    chinese = {e.msgid for e in polib.pofile(str(ROOT / "locale/zh_Hans/LC_MESSAGES/django.po"))}
    english = {e.msgid for e in polib.pofile(str(ROOT / "locale/en/LC_MESSAGES/django.po"))}
    assert chinese == english


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "此项为必填项"), ("en", "this field is required")],
)
def test_form_answer_errors_speak_the_callers_language(company, api, language, expected):
    client = api(company.requester)
    r = client.post(
        "/api/v1/tickets/",
        {"service": company.service.pk, "title": "电脑", "form_data": {}},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert r.status_code == 400
    assert r.json()["fields"]["form_data.model"] == [expected]
    assert r.json()["detail"] == f"form_data.model: {expected}"


@pytest.mark.django_db
def test_status_labels_are_translated():
    from django.utils import translation

    from tickets.models import Status

    with translation.override("zh-hans"):
        assert str(Status.WAITING.label) == "等待申请人"
    with translation.override("en"):
        assert str(Status.WAITING.label) == "waiting on requester"
