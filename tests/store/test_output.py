"""Step output: lines are stored once each, by `seq`, and read back in order, a page at a time."""

from __future__ import annotations

from datetime import timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.domain.builds import OutputLine
from conveyor.store.sql import SqlStore
from tests.store import strategies
from tests.store.build_samples import T0, at, build, lines, pipeline, store_builds

store_examples = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@store_examples
@given(
    batch=st.lists(strategies.output_lines, max_size=20, unique_by=lambda line: line.seq),
)
def test_any_printed_lines_read_back_in_seq_order(store: SqlStore, batch: list[OutputLine]) -> None:
    with store.transaction() as tx:
        tx.delete_pipeline("web")  # what earlier examples stored
        tx.put_pipeline(pipeline("web"))
        tx.put_build(build(1))
        tx.append_output("web", 1, (1,), batch)

    with store.transaction() as tx:
        stored = tx.list_output("web", 1, (1,))
    assert stored == sorted(batch, key=lambda line: line.seq)


def test_nul_characters_and_lone_surrogates_are_kept(store: SqlStore) -> None:
    printed = [
        OutputLine(1, T0, "a\x00b"),
        OutputLine(2, T0, "\udcff\ud800 bytes"),
        OutputLine(3, T0, ""),
    ]
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), printed)

    with store.transaction() as tx:
        assert [line.text for line in tx.list_output("web", 1, (1,))] == [
            "a\x00b",
            "\udcff\ud800 bytes",
            "",
        ]


def test_a_line_appended_again_keeps_what_was_stored_first(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), lines(1, 3))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), lines(2, 5, prefix="resent"))

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (1,)) == lines(1, 3) + lines(4, 5, prefix="resent")


def test_a_batch_that_repeats_a_seq_stores_it_once(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), [*lines(1, 2), *lines(2, 3, prefix="again")])

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (1,)) == [*lines(1, 2), *lines(3, 3, prefix="again")]


def test_lines_appended_out_of_order_are_listed_by_seq(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), lines(10, 12))
        tx.append_output("web", 1, (1,), lines(1, 3)[::-1])

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (1,)) == lines(1, 3) + lines(10, 12)


def test_output_is_paged_with_after_and_limit(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (2, 1), lines(1, 25))

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (2, 1), limit=10) == lines(1, 10)
        assert tx.list_output("web", 1, (2, 1), after=10, limit=10) == lines(11, 20)
        assert tx.list_output("web", 1, (2, 1), after=20, limit=10) == lines(21, 25)
        assert tx.list_output("web", 1, (2, 1), after=25) == []


def test_each_step_of_each_build_has_its_own_output(store: SqlStore) -> None:
    store_builds(store, build(1), build(2), build(1, pipeline="api"))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), lines(1, 2, prefix="web 1 step 1"))
        tx.append_output("web", 1, (1, 1), lines(1, 2, prefix="web 1 step 1.1"))
        tx.append_output("web", 2, (1,), lines(1, 2, prefix="web 2 step 1"))
        tx.append_output("api", 1, (1,), lines(1, 2, prefix="api 1 step 1"))

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (1,)) == lines(1, 2, prefix="web 1 step 1")
        assert tx.list_output("web", 1, (1, 1)) == lines(1, 2, prefix="web 1 step 1.1")
        assert tx.list_output("web", 2, (1,)) == lines(1, 2, prefix="web 2 step 1")
        assert tx.list_output("api", 1, (1,)) == lines(1, 2, prefix="api 1 step 1")
        assert tx.list_output("web", 1, (2,)) == []


def test_appending_no_lines_stores_nothing(store: SqlStore) -> None:
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), [])

    with store.transaction() as tx:
        assert tx.list_output("web", 1, (1,)) == []


def test_output_times_read_back_as_the_same_instants_in_utc(store: SqlStore) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    printed = OutputLine(1, at(0.000001).astimezone(india), "tick")
    store_builds(store, build(1))
    with store.transaction() as tx:
        tx.append_output("web", 1, (1,), [printed])

    with store.transaction() as tx:
        (stored,) = tx.list_output("web", 1, (1,))
    assert stored == printed
    assert stored.at.utcoffset() == timedelta(0)
