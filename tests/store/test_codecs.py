"""The store's private JSON format: every field of every record reads back equal."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.domain.apps import AppDefinition, VersionInfo
from conveyor.domain.backoff import LaunchDelay
from conveyor.domain.builds import Build, Detail, StepRecord
from conveyor.domain.deployments import Deployment
from conveyor.domain.groups import Group
from conveyor.domain.instances import Instance, TaskFailure
from conveyor.domain.pipelines import PipelineDefinition
from conveyor.store.codecs import Codec
from tests.store import strategies

RECORDS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (AppDefinition, strategies.apps),
    (Instance, strategies.instances),
    (Deployment, strategies.deployments),
    (Group, strategies.groups),
    (LaunchDelay, strategies.launch_delays),
    (TaskFailure, strategies.task_failures),
    (PipelineDefinition, strategies.pipelines),
    (Build, strategies.builds),
    (StepRecord, strategies.steps),
]
KINDS = [kind.__name__ for kind, _ in RECORDS]

NOW = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("kind", "records"), RECORDS, ids=KINDS)
@given(data=st.data())
def test_every_record_reads_back_equal(
    kind: type[Any], records: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    codec = Codec(kind)
    record = data.draw(records)

    assert codec.loads(codec.dumps(record)) == record


@pytest.mark.parametrize(("kind", "records"), RECORDS, ids=KINDS)
@given(data=st.data())
def test_every_field_is_written_defaults_included(
    kind: type[Any], records: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    codec = Codec(kind)
    document = codec.to_document(data.draw(records))

    assert set(document) == {field.name for field in fields(kind)}


def test_datetimes_keep_their_offset() -> None:
    codec = Codec(VersionInfo)
    india = timezone(timedelta(hours=5, minutes=30))
    info = VersionInfo(last_scaling_at=NOW.astimezone(india), last_config_change_at=NOW)

    decoded = codec.loads(codec.dumps(info))

    assert decoded.last_scaling_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert decoded.last_config_change_at.tzinfo == UTC


def test_nested_records_enums_tuples_and_mappings_are_rebuilt_with_their_types() -> None:
    codec = Codec(Deployment)
    document = {
        "id": "d1",
        "version": NOW.isoformat(),
        "steps": [{"actions": [{"kind": "StartApplication", "app_id": "/a"}]}],
        "original": {"/a": None},
        "target": {"/a": NOW.isoformat()},
        "created_at": NOW.isoformat(),
        "status": "running",
    }

    deployment = codec.from_document(document)

    assert deployment.steps[0].actions[0].kind.value == "StartApplication"
    assert isinstance(deployment.steps, tuple)
    assert deployment.target == {"/a": NOW}
    assert deployment.original == {"/a": None}


def test_a_field_missing_from_an_old_document_reads_as_its_default() -> None:
    codec = Codec(Group)
    document = {"id": "/g", "version": NOW.isoformat(), "retired_field": 1}

    assert codec.from_document(document) == Group(id="/g", version=NOW)


def test_a_document_without_a_required_field_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="version"):
        Codec(Group).from_document({"id": "/g"})


def test_json_documents_are_compact_text() -> None:
    text = Codec(Group).dumps(Group(id="/g", version=NOW, dependencies=("/a",)))

    assert json.loads(text) == {"id": "/g", "version": NOW.isoformat(), "dependencies": ["/a"]}
    assert " " not in text


def test_a_type_the_store_cannot_write_is_refused_when_the_codec_is_made() -> None:
    @dataclass(frozen=True)
    class Odd:
        parts: set[int]

    with pytest.raises(TypeError, match="cannot encode"):
        Codec(Odd)


def test_a_record_that_contains_itself_is_written_as_a_tree() -> None:
    tree = Detail("tests", children=(Detail("unit", children=(Detail("ok", raw="1 passed"),)),))
    codec = Codec(Detail)

    document = codec.to_document(tree)

    assert document["children"][0]["children"][0]["raw"] == "1 passed"
    assert codec.from_document(document) == tree


def test_step_ids_read_back_as_tuples_of_ints() -> None:
    codec = Codec(StepRecord)
    document = {"pipeline": "web", "build": 3, "step": [2, 1], "name": "test", "status": "success"}

    record = codec.from_document(document)

    assert record.step == (2, 1)
    assert record.details == ()
    assert record.values == {}
