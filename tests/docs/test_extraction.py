"""How the docs harness reads blocks and annotations, and what it refuses to leave unchecked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import (
    AnnotationError,
    Block,
    missing_words,
    read_blocks,
    user_documents,
)
from tests.docs.sessions import DocumentSession, bounded_streams

DOCUMENT = """\
# Title

```sh
echo one
```

  <!-- example: timeout=5 exit=1 stream=2 -->
  ```sh
  conveyor builds trigger hello --follow
  ```

<!-- example: skip — needs a person at the keyboard -->
```python
input()
```

```
output, shown
```

<!-- example: file=web.json deploy=accepted sub=/path/to/repo=>$PIPELINE_REPO -->
```json
{"id": "/web"}
```
"""


def _blocks(tmp_path: Path, text: str = DOCUMENT) -> list[Block]:
    document = tmp_path / "doc.md"
    document.write_text(text)
    return read_blocks(document, name="doc.md")


def test_blocks_are_read_in_order_with_their_line_language_and_annotation(tmp_path: Path) -> None:
    blocks = _blocks(tmp_path)

    assert [(b.line, b.language) for b in blocks] == [
        (3, "sh"),
        (8, "sh"),
        (13, "python"),
        (17, ""),
        (22, "json"),
    ]
    assert blocks[1].text == "conveyor builds trigger hello --follow\n"
    assert (blocks[1].annotation.timeout, blocks[1].annotation.exit_status) == (5, 1)
    assert blocks[1].annotation.stream == 2
    assert blocks[2].annotation.skip == "needs a person at the keyboard"
    assert blocks[3].is_output and not blocks[4].is_output
    assert blocks[4].annotation.file == "web.json"
    assert blocks[4].annotation.deploy_accepted_only
    assert blocks[4].annotation.substitutions == (("/path/to/repo", "$PIPELINE_REPO"),)


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"doc\.md:3: `skip` needs a reason"):
        _blocks(tmp_path, "\n<!-- example: skip -->\n```sh\nls\n```\n")


def test_an_unknown_annotation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="unknown annotation 'retries=3'"):
        _blocks(tmp_path, "<!-- example: retries=3 -->\n```sh\nls\n```\n")


def test_a_console_block_runs_only_its_prompted_lines(tmp_path: Path) -> None:
    text = "```console\n$ conveyor apps list \\\n    --json\n[]\n$ echo done\ndone\n```\n"
    (block,) = _blocks(tmp_path, text)

    assert block.shell_script() == "conveyor apps list \\\n    --json\necho done\n"


def test_only_commands_that_stream_are_bounded() -> None:
    script = (
        "conveyor apps deploy -f web.json\n"
        "conveyor logs web --follow\n"
        "  curl -sN -H 'Accept: text/event-stream' x\n"
    )

    assert bounded_streams(script) == (
        "conveyor apps deploy -f web.json\n"
        "example_stream conveyor logs web --follow\n"
        "  example_stream curl -sN -H 'Accept: text/event-stream' x\n"
    )


def test_a_block_the_harness_cannot_run_fails_unless_annotated(tmp_path: Path) -> None:
    (block,) = _blocks(tmp_path, "```yaml\nid: /web\n```\n")
    session = DocumentSession("doc.md", tmp_path / "session", port_range=(50000, 50099))

    with pytest.raises(pytest.fail.Exception, match="cannot run a `yaml` block"):
        session.check(block, [])


def test_the_user_documents_are_the_readme_and_every_page_under_docs() -> None:
    root = Path(__file__).resolve().parents[2]
    names = [path.relative_to(root).as_posix() for path in user_documents(root)]

    assert names[0] == "README.md"
    assert set(names[1:]) == {f"docs/{p.name}" for p in (root / "docs").glob("*.md")}


def test_output_shown_right_after_a_shell_block_is_its_expected_output(tmp_path: Path) -> None:
    text = "```sh\nconveyor apps list\n```\n```\n│ /hello │ 2/2 │\n```\n\n```\ndiagram\n```\n"
    shell, output, diagram = _blocks(tmp_path, text)

    assert shell.expected_output == "│ /hello │ 2/2 │\n"
    assert output.is_output and diagram.is_output


def test_output_is_compared_by_its_words_not_its_ids_numbers_or_layout() -> None:
    expected = "deploying /hello: deployment 67e035de (version 2024-05-01)\n✔ finished\n"

    assert missing_words(expected, "deploying /hello: deployment 1f2e3d\n✔ finished") == ["version"]
