"""Reading JSON text within bounds: too deep, repeated keys and lone surrogates are refused
naming where, however hostile the text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.errors import Invalid, MalformedInput
from conveyor.domain.json_text import NOT_UNICODE, TOO_DEEP, parse_json, string_paths
from conveyor.domain.limits import MAX_JSON_DEPTH


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def test_nesting_up_to_the_limit_is_read() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH)) is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deeper_arrays_are_refused_without_recursion_errors(depth: int) -> None:
    with pytest.raises(MalformedInput, match=TOO_DEEP):
        parse_json(nested(depth))


def test_deeper_objects_are_refused() -> None:
    text = '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(MalformedInput, match=TOO_DEEP):
        parse_json(text)


def test_a_repeated_key_is_refused_by_name() -> None:
    with pytest.raises(MalformedInput, match="duplicate key 'cmd'"):
        parse_json('{"env": {"A": "1"}, "cmd": "a", "cmd": "b"}')


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert parse_json('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]


def test_a_lone_surrogate_is_refused_at_its_path() -> None:
    with pytest.raises(Invalid) as raised:
        parse_json('{"healthChecks": [{"path": "ok"}, {"path": "\\udc80"}]}')
    [violation] = raised.value.violations
    assert (violation.path, violation.error) == ("/healthChecks(1)/path", NOT_UNICODE)


def test_a_lone_surrogate_in_a_key_is_refused() -> None:
    with pytest.raises(Invalid) as raised:
        parse_json('{"env": {"\\ud800": "x"}}')
    assert raised.value.violations[0].path == "/env/\\ud800"


def test_a_surrogate_pair_is_text() -> None:
    assert parse_json('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("text", ["{", "nope", b"\xff\xfe", '{"a": NaN'])
def test_what_is_not_json_is_malformed(text: str | bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_json(text)


def test_empty_text_is_null() -> None:
    assert parse_json(b"") is None


def test_string_paths_name_values_and_keys() -> None:
    document = {"args": ["a", "x\x00"], "env": {"K\x00": "v"}, "cmd": "\x00"}
    found = sorted(string_paths(document, lambda text: "\x00" in text))
    assert found == ["/args(1)", "/cmd", "/env/K\x00"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_any_shallow_document_reads_back_as_written(document: object) -> None:
    assert parse_json(json.dumps(document)) == document
