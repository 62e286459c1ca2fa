"""Hypothesis strategies shared by the fuzz tests: hostile scalars and values (wrong types, huge
and non-finite numbers, control characters, lone surrogates and broken tokens written into the
raw JSON text, deep nesting), query strings and path parts, and request bodies made of any
document. The documents themselves: `app_strategies` (Marathon apps and groups) and
`delivery_strategies` (git pushes, pipeline registrations).
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.json_text import Raw, json_bytes


class Long(str):
    """A long string whose repr stays short, so a failing example prints readably (and under
    hypothesis's limit on the size of an example's repr)."""

    def __repr__(self) -> str:
        return f"{str.__repr__(self[:12])}...({len(self)} characters)"


def one_in(draw: st.DrawFn, odds: int) -> bool:
    """True once in `odds` draws (hypothesis favours 0 in `integers(0, n)`; this does not)."""
    return draw(st.sampled_from([False] * (odds - 1) + [True]))


# --- scalars --------------------------------------------------------------------------------

segments = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
"""One segment of an app id, as Marathon's pattern allows it (short)."""

app_ids = st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/fuzz/f/" + "/".join(parts))

printable = st.text(st.characters(codec="utf-8"), max_size=24)
"""Any Unicode text but lone surrogates (those are written into the raw JSON instead)."""

control_text = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=4)
long_text = st.integers(1_000, 200_000).map(lambda n: Long("x" * n))

RAW_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1E+30",
    "-0",
    "0.1e-400",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
]
"""Number tokens that JSON allows, or that Python's reader allows though JSON does not."""

RAW_STRINGS = [
    r'"\ud800"',
    r'"\udfff"',
    r'"a\ud83db"',
    r'"\udc80\ud800"',
    r'"\u0000"',
    r'"tab\there"',
]
"""String tokens: lone surrogate escapes, an escaped NUL."""

RAW_BROKEN = [
    '"\x01"',
    '"a\nb"',
    "01",
    "+1",
    ".5",
    "1.",
    "0x10",
    "tru",
    "[1,]",
    '{"a" 1}',
    '"\\x41"',
]
"""Tokens that are not JSON at all: raw control characters in a string, bad numbers, syntax."""

raw_tokens = st.sampled_from([*RAW_NUMBERS, *RAW_STRINGS, *RAW_BROKEN]).map(Raw)

huge_numbers = st.sampled_from(
    [2**31, 2**31 - 1, -(2**31) - 1, 2**53 + 1, 2**63, 2**64, 10**30, 10**100, 1e30, 1e308, -1e308]
)
wrong_types = st.sampled_from([None, True, False, "", "NaN", "1", "1e30", [], {}, [1], {"a": 1}])


def nested_values(depth: int) -> Any:
    """Lists inside lists, `depth` levels deep."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


deep_values = st.integers(2, 40).map(nested_values)
"""Within the JSON depth limit (32) and a little beyond it."""

hostile_scalars = st.one_of(
    huge_numbers,
    wrong_types,
    raw_tokens,
    control_text,
    printable,
    long_text,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
hostile_values = st.one_of(hostile_scalars, deep_values, st.lists(hostile_scalars, max_size=3))

harmless_counts = st.one_of(
    st.integers(-3, 1), st.sampled_from([1.5, -0.0, 10_001, 2**31]), huge_numbers, wrong_types
)
"""Instance counts (and group scale factors) that start at most one task: the seed's one task
scaled by any of them stays one, or the request is refused."""

# --- query strings and path parts -----------------------------------------------------------

query_values = st.one_of(
    printable,
    st.sampled_from(
        [
            "",
            "apps.tasks",
            "apps.counts,apps.deployments,apps.lastTaskFailure",
            "group.apps.tasks",
            "team==fuzz",
            "team!=x,!missing",
            "team in (fuzz, other)",
            "team notin ()",
            "(((",
            "a==",
            "\\",
            "a in (b",
            "running",
            "staging",
            "-1",
            "0",
            "9223372036854775808",
            "1e30",
            "NaN",
        ]
    ),
    st.integers(2_000, 12_000).map(lambda n: Long("a" * n)),
)
raw_query_values = st.binary(max_size=12).map(lambda data: "".join(f"%{b:02x}" for b in data))
path_parts = st.one_of(
    segments,
    st.sampled_from(
        ["..", ".", "%2e%2e", "%2F", "a%00b", "%ff", Long("x" * 5000), "fuzz/seed/web"]
    ),
    st.text(string.ascii_letters + string.digits + "-._~", min_size=1, max_size=40),
    raw_query_values.filter(bool),
)


# --- bodies ---------------------------------------------------------------------------------


@st.composite
def bodies(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A document as the bytes of a request body: JSON text (ASCII or not), now and then
    broken on the way (cut short, a byte order mark, UTF-16, a byte that is not UTF-8)."""
    text = json_bytes(draw(documents), ensure_ascii=draw(st.booleans()))
    damage = draw(st.sampled_from(["none"] * 12 + ["cut", "bom", "utf-16", "bad byte"]))
    if damage == "cut":
        return text[: draw(st.integers(1, max(len(text) - 1, 1)))]
    if damage == "bom":
        return b"\xef\xbb\xbf" + text
    if damage == "utf-16":
        return text.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if damage == "bad byte":
        cut = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
        return text[:cut] + bad + text[cut:]
    return text
