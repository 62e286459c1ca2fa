"""Every example in README.md and docs/*.md runs, against a real `conveyor up` server.

One test per fenced block (output blocks and diagrams excepted), grouped by document: the
blocks of a document share one server and one working directory, and run in order on one
xdist worker (see tests/docs/sessions.py for what the harness rewrites, tests/docs/examples.py
for the annotations a block can carry). A block the harness cannot run fails unless it is
annotated `<!-- example: skip — reason -->`, so no example goes unchecked by accident."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.examples import Block, read_blocks, user_documents
from tests.docs.sessions import DocumentSession

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [path.relative_to(ROOT).as_posix() for path in user_documents(ROOT)]
BLOCKS = {name: read_blocks(ROOT / name, name=name) for name in DOCUMENTS}
EXAMPLES = [block for name in DOCUMENTS for block in BLOCKS[name] if not block.is_output]


def _port_range(document: str) -> tuple[int, int]:
    """Host ports for the document's tasks, apart from those of tests/conftest.py's servers."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    first = 50000 + worker * 1000 + DOCUMENTS.index(document) % 10 * 100
    return first, first + 99


class Sessions:
    """One session open at a time: a document's blocks run one after another on one worker
    (they share an xdist group), so a session is closed when the next document begins."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.current: DocumentSession | None = None

    def for_document(self, document: str) -> DocumentSession:
        if self.current is not None and self.current.document != document:
            self.close()
        if self.current is None:
            directory = self.tmp_path_factory.mktemp(Path(document).stem)
            self.current = DocumentSession(document, directory, port_range=_port_range(document))
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    registry = Sessions(tmp_path_factory)
    try:
        yield registry
    finally:
        registry.close()


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(block, id=block.id, marks=pytest.mark.xdist_group(block.document))
        for block in EXAMPLES
    ],
)
def test_documented_example_does_what_the_document_says(sessions: Sessions, block: Block) -> None:
    earlier = [b for b in BLOCKS[block.document] if b.line < block.line and not b.is_output]
    sessions.for_document(block.document).check(block, earlier)
