"""The API's JSON renderer (servicedesk.renderers): the bytes DRF's renderer writes, for every
kind of value a response holds, orjson only making them faster; what orjson cannot write as DRF
does is left to DRF's renderer."""

import datetime
import decimal
import json
import uuid

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer as DrfRenderer
from rest_framework.test import APIClient

from servicedesk.renderers import JSONRenderer

ZONE = datetime.timezone(datetime.timedelta(hours=8))


def both(data, media_type=None):
    return JSONRenderer().render(data, media_type, {}), DrfRenderer().render(data, media_type, {})


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # no lone surrogates
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_json_values_are_written_byte_for_byte_as_drf_writes_them(value):
    ours, drfs = both(value)
    assert ours == drfs


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_the_same_numbers(value):
    ours, drfs = both({"value": value})
    assert json.loads(ours) == json.loads(drfs)
    if 1e-4 <= abs(value) < 1e16 or value == 0:
        assert ours == drfs  # what a form or a figure holds: the same bytes too


def test_values_json_has_no_type_for_go_through_drfs_encoder():
    class Score(float):
        pass

    data = {
        "at": datetime.datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=ZONE),
        "utc": datetime.datetime(2026, 11, 24, 1, 30, tzinfo=datetime.UTC),
        "naive": datetime.datetime(2026, 11, 24, 9, 30),
        "day": datetime.date(2026, 10, 1),
        "time": datetime.time(8, 30, 0, 500000),
        "took": datetime.timedelta(minutes=90),
        "amount": decimal.Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "label": gettext_lazy("Service"),
        "set": {3},
        "tuple": (1, "二"),
        "score": Score(0.1),
        "tiny score": Score(1e-05),
        "lines": "a\u2028b\u2029c “引号” \u2026",
        "controls": '\x00\x1f\x7f\t\n"\\',
        "bytes": b"raw",
    }
    ours, drfs = both(data)
    assert ours == drfs
    assert b"\\u2028" in ours and b"\\u2029" in ours


@pytest.mark.parametrize(
    "data",
    [
        {"big": 2**70},  # beyond 64 bits
        {1: "a", None: "b"},  # keys that are not text
        [
            [
                [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            []
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            ]
        ],
    ],
)
def test_what_orjson_cannot_write_is_written_by_drf(data):
    ours, drfs = both(data)
    assert ours == drfs


def test_deep_nesting_and_an_asked_indent_are_written_by_drf():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    ours, drfs = both(deep)
    assert ours == drfs
    ours, drfs = both({"a": [1, {"b": None}]}, "application/json; indent=4")
    assert ours == drfs and b"\n    " in ours


def test_out_of_range_floats_fail_as_drfs_strict_mode_does_in_a_float_subclass():
    class Score(float):
        pass

    for renderer in (JSONRenderer(), DrfRenderer()):
        with pytest.raises(ValueError):
            renderer.render({"score": Score("nan")}, None, {})


def test_nothing_is_written_for_no_data():
    assert JSONRenderer().render(None) == b""


@pytest.mark.django_db
def test_the_api_writes_with_it(company):
    from tickets import services

    services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="打印机\u2028卡纸",
        form_data={"model": "14寸"},
    )
    client = APIClient()
    client.force_authenticate(company.agent)
    response = client.get("/api/v1/tickets/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response.content == DrfRenderer().render(response.data)
    assert b"\\u2028" in response.content
    assert response.json()["results"][0]["title"] == "打印机\u2028卡纸"
