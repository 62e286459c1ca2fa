"""Marathon's label selectors for `GET /v2/apps?label=...`:
`key`, `!key`, `key==value`, `key!=value`, `key in (a, b)`, `key notin (a, b)`, joined by commas
(all must hold). A `\\` escapes a special character in keys and values."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from conveyor.domain.errors import Invalid, Violation

Predicate = Callable[[Mapping[str, str]], bool]

_WORD = r"(?:\\.|[^\s,()=!\\])+"
_TERM = re.compile(
    rf"""\s*(?:
        (?P<set_key>{_WORD})\s+(?P<set_op>in|notin)\s*\((?P<values>[^)]*)\)
      | (?P<cmp_key>{_WORD})\s*(?P<cmp_op>==|!=)\s*(?P<value>{_WORD})
      | (?P<negated>!)?(?P<key>{_WORD})
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _predicate(match: re.Match[str]) -> Predicate:
    if match["set_key"]:
        key = _unescape(match["set_key"])
        values = {_unescape(v.strip()) for v in match["values"].split(",") if v.strip()}
        wanted = match["set_op"] == "in"
        return lambda labels: (key in labels and labels[key] in values) == wanted
    if match["cmp_key"]:
        key, value = _unescape(match["cmp_key"]), _unescape(match["value"])
        equal = match["cmp_op"] == "=="
        return lambda labels: (labels.get(key) == value) == equal
    key = _unescape(match["key"])
    negated = bool(match["negated"])
    return lambda labels: (key in labels) != negated


def parse_label_selector(selector: str) -> list[Predicate]:
    predicates: list[Predicate] = []
    position = 0
    while position < len(selector):
        match = _TERM.match(selector, position)
        if match is None or match.end() == position:
            raise Invalid([Violation("/label", f"Invalid label selector: {selector}")])
        predicates.append(_predicate(match))
        position = match.end()
    return predicates
