"""Builds: numbered per pipeline and never renumbered, listed newest first in pages, found while
unfinished, and pruned when finished."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from conveyor.domain.builds import Build, BuildStatus
from conveyor.store.sql import SqlStore
from tests.store import strategies
from tests.store.build_samples import at, build, lines, pipeline, step, store_builds

store_examples = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Boom(Exception):
    pass


def take_numbers(store: SqlStore, count: int, name: str = "web") -> list[int]:
    numbers = []
    for _ in range(count):
        with store.transaction() as tx:
            numbers.append(tx.next_build_number(name))
    return numbers


def numbers_of(builds: list[Build]) -> list[int]:
    return [each.number for each in builds]


@store_examples
@given(record=strategies.builds)
def test_a_build_reads_back_with_every_field(store: SqlStore, record: Build) -> None:
    store_builds(store, record)

    with store.transaction() as tx:
        assert tx.get_build(record.pipeline, record.number) == record
        assert record in tx.list_builds(record.pipeline)


def test_an_unknown_build_is_none(store: SqlStore) -> None:
    store_builds(store, build(1))

    with store.transaction() as tx:
        assert tx.get_build("web", 2) is None
        assert tx.get_build("api", 1) is None
        assert tx.list_builds("api") == []


def test_putting_a_build_again_replaces_it(store: SqlStore) -> None:
    store_builds(store, build(1, status=BuildStatus.RUNNING))
    finished = replace(build(1), message="all good", reports_applied=7)
    with store.transaction() as tx:
        tx.put_build(finished)

    with store.transaction() as tx:
        assert tx.get_build("web", 1) == finished
        assert tx.list_builds("web") == [finished]


# numbering


def test_build_numbers_count_up_from_one_for_each_pipeline(store: SqlStore) -> None:
    assert take_numbers(store, 3, "web") == [1, 2, 3]
    assert take_numbers(store, 2, "api") == [1, 2]
    assert take_numbers(store, 1, "web") == [4]


def test_a_number_taken_in_a_rolled_back_transaction_is_given_again(store: SqlStore) -> None:
    take_numbers(store, 2)
    with pytest.raises(Boom), store.transaction() as tx:
        assert tx.next_build_number("web") == 3
        raise Boom

    assert take_numbers(store, 1) == [3]


def test_build_numbers_are_not_reused_after_builds_are_pruned(store: SqlStore) -> None:
    store_builds(store, *(build(number) for number in take_numbers(store, 5)))
    with store.transaction() as tx:
        tx.prune_builds("web", keep=1, finished_before=None)
    with store.transaction() as tx:
        tx.prune_builds("web", keep=0, finished_before=None)
        assert tx.list_builds("web") == []

    assert take_numbers(store, 1) == [6]


def test_build_numbers_are_not_reused_after_the_pipeline_is_registered_again(
    store: SqlStore,
) -> None:
    store_builds(store, *(build(number) for number in take_numbers(store, 3)))
    with store.transaction() as tx:
        tx.delete_pipeline("web")
    with store.transaction() as tx:
        tx.put_pipeline(pipeline("web"))

    assert take_numbers(store, 1) == [4]


def test_numbering_goes_on_above_a_build_stored_with_a_higher_number(store: SqlStore) -> None:
    take_numbers(store, 2)
    store_builds(store, build(40))

    assert take_numbers(store, 2) == [41, 42]


def test_builds_numbered_from_many_threads_at_once_get_distinct_numbers(store: SqlStore) -> None:
    taken: list[int] = []
    errors: list[BaseException] = []

    def create_builds() -> None:
        try:
            for _ in range(10):
                with store.transaction() as tx:
                    number = tx.next_build_number("web")
                    tx.put_build(build(number))
                taken.append(number)
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    with store.transaction() as tx:
        tx.put_pipeline(pipeline("web"))
    threads = [threading.Thread(target=create_builds) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(taken) == list(range(1, 41))


# listing


def test_builds_are_listed_newest_first_and_paged_with_before(store: SqlStore) -> None:
    store_builds(store, *(build(number) for number in (3, 1, 7, 5, 2, 6, 4)))

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("web")) == [7, 6, 5, 4, 3, 2, 1]
        assert numbers_of(tx.list_builds("web", limit=3)) == [7, 6, 5]
        assert numbers_of(tx.list_builds("web", before=5, limit=3)) == [4, 3, 2]
        assert numbers_of(tx.list_builds("web", before=2, limit=3)) == [1]
        assert tx.list_builds("web", before=1) == []
        assert numbers_of(tx.list_builds("web", before=100, limit=1)) == [7]


def test_paging_skips_the_gaps_pruning_leaves(store: SqlStore) -> None:
    store_builds(store, *(build(number) for number in (1, 2, 3, 8, 9, 10)))

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("web", before=9, limit=3)) == [8, 3, 2]


def test_builds_of_other_pipelines_are_not_listed(store: SqlStore) -> None:
    store_builds(store, build(1), build(2, pipeline="api"), build(1, pipeline="web-2"))

    with store.transaction() as tx:
        assert tx.list_builds("web") == [build(1)]


def test_unfinished_builds_of_every_pipeline_are_listed_oldest_first(store: SqlStore) -> None:
    queued = build(9, status=BuildStatus.QUEUED, created=30)
    running = build(3, pipeline="api", status=BuildStatus.RUNNING, created=10)
    waiting = build(2, status=BuildStatus.WAITING, created=20)
    finished = [build(1), build(1, pipeline="api", status=BuildStatus.FAILURE)]
    store_builds(store, queued, running, waiting, *finished, build(4, status=BuildStatus.KILLED))

    with store.transaction() as tx:
        assert tx.list_unfinished_builds() == [running, waiting, queued]


def test_a_build_leaves_the_unfinished_ones_when_it_finishes(store: SqlStore) -> None:
    store_builds(store, build(1, status=BuildStatus.RUNNING), build(2, status=BuildStatus.QUEUED))
    with store.transaction() as tx:
        tx.put_build(build(1, status=BuildStatus.FAILURE))

    with store.transaction() as tx:
        assert tx.list_unfinished_builds() == [build(2, status=BuildStatus.QUEUED)]


# pruning


def test_pruning_by_count_keeps_the_newest_finished_builds(store: SqlStore) -> None:
    store_builds(store, *(build(number) for number in range(1, 8)))

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=3, finished_before=None) == [1, 2, 3, 4]

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("web")) == [7, 6, 5]


def test_pruning_never_removes_unfinished_builds_nor_counts_them(store: SqlStore) -> None:
    store_builds(
        store,
        build(1, status=BuildStatus.RUNNING),
        build(2),
        build(3, status=BuildStatus.FAILURE),
        build(4, status=BuildStatus.WAITING),
        build(5, status=BuildStatus.KILLED),
        build(6, status=BuildStatus.QUEUED),
    )

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=2, finished_before=None) == [2]
        assert tx.prune_builds("web", keep=0, finished_before=at(10_000)) == [3, 5]

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("web")) == [6, 4, 1]


def test_pruning_by_age_removes_builds_finished_before_the_limit(store: SqlStore) -> None:
    store_builds(
        store,
        build(1, finished=100),
        build(2, finished=300),
        build(3, finished=199),
        build(4, status=BuildStatus.RUNNING, created=0),
        build(5, finished=200),
    )

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=None, finished_before=at(200)) == [1, 3]

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("web")) == [5, 4, 2]


def test_a_build_that_ended_without_finishing_ages_from_its_creation(store: SqlStore) -> None:
    never_started = replace(build(1, status=BuildStatus.KILLED, created=50), finished_at=None)
    store_builds(store, never_started, build(2, finished=60))

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=None, finished_before=at(55)) == [1]


def test_pruning_by_count_and_age_removes_what_either_rule_removes(store: SqlStore) -> None:
    store_builds(store, *(build(number, finished=number * 100) for number in range(1, 7)))

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=4, finished_before=at(450)) == [1, 2, 3, 4]


def test_pruning_without_limits_or_with_fewer_builds_than_kept_removes_nothing(
    store: SqlStore,
) -> None:
    store_builds(store, build(1), build(2))

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=None, finished_before=None) == []
        assert tx.prune_builds("web", keep=5, finished_before=at(0)) == []
        assert tx.prune_builds("api", keep=0, finished_before=None) == []
        assert numbers_of(tx.list_builds("web")) == [2, 1]


def test_pruning_one_pipeline_leaves_the_others_alone(store: SqlStore) -> None:
    store_builds(store, build(1), build(2), build(1, pipeline="api"), build(2, pipeline="api"))

    with store.transaction() as tx:
        assert tx.prune_builds("web", keep=0, finished_before=None) == [1, 2]

    with store.transaction() as tx:
        assert numbers_of(tx.list_builds("api")) == [2, 1]


def test_pruned_builds_take_their_steps_and_output_with_them(store: SqlStore) -> None:
    store_builds(store, build(1), build(2))
    with store.transaction() as tx:
        for number in (1, 2):
            tx.put_step(step((1,), number=number))
            tx.append_output("web", number, (1,), lines(1, 5))

    with store.transaction() as tx:
        tx.prune_builds("web", keep=1, finished_before=None)

    with store.transaction() as tx:
        assert tx.list_steps("web", 1) == []
        assert tx.list_output("web", 1, (1,)) == []
        assert tx.list_steps("web", 2) == [step((1,), number=2)]
        assert tx.list_output("web", 2, (1,)) == lines(1, 5)
