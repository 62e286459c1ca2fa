"""The fenced code blocks of the user documentation, and how each is to be checked.

A block's info string says what it is: `sh`/`bash`/`shell`/`console` blocks are shell sessions,
`json` blocks are app or group definitions (or JSON shown), `python` blocks are pipeline files
(they assign `pipeline = Pipeline(...)`) or client scripts. A block without a language (or
`text`) is output or a diagram, and is not run. An HTML comment on the line right before a
fence tells the harness more about that block (it is invisible on rendered pages):

    <!-- example: skip — why this block cannot run in a test -->
    <!-- example: timeout=30 exit=1 file=hello.json stream=5 deploy=accepted -->
    <!-- example: sub=/path/to/repo=>$PIPELINE_REPO -->

- `skip` with a reason: not run (a block of an unknown language must be skipped this way);
- `timeout=N`: seconds the block may take (default 60);
- `exit=N`: the exit status the block's last command must have (default 0);
- `file=NAME`: write the block to NAME in the session's directory instead of running it;
- `stream=N`: commands of the block that stream until interrupted (`conveyor ... --follow`/`-F`,
  `curl` asking for `text/event-stream`) are stopped after N seconds, which counts as success;
- `deploy=accepted`: a definition need only be accepted, not deployed to the end;
- `sub=OLD=>NEW`: replace the placeholder OLD (NEW may use the session's shell variables).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

SHELL = frozenset({"sh", "bash", "shell", "console"})
RUNNABLE = SHELL | {"json", "python"}
OUTPUT = frozenset({"", "text"})
DEFAULT_TIMEOUT = 60.0

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>[^`\s]*)[^`]*$")
_ANNOTATION = re.compile(r"^\s*<!--\s*example:\s*(?P<body>.*?)\s*-->\s*$")
_SKIP = re.compile(r"^skip\b\s*[—:–-]*\s*(?P<reason>.*)$")
_HEXADECIMAL = re.compile(r"[0-9a-f]+")
_PIPELINE = re.compile(r"^pipeline\s*=\s*Pipeline\(", re.MULTILINE)
_PIPELINE_NAME = re.compile(r"""Pipeline\(\s*(?:.*?\s)?name\s*=\s*["']([^"']+)["']""", re.DOTALL)


class AnnotationError(ValueError):
    """An `<!-- example: ... -->` comment the harness cannot read."""


@dataclass(frozen=True)
class Annotation:
    skip: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    exit_status: int = 0
    file: str | None = None
    stream: float | None = None
    deploy_accepted_only: bool = False
    substitutions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Block:
    document: str  # relative to the repository root, e.g. "docs/cli.md"
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    annotation: Annotation = field(default_factory=Annotation)
    # an output block right after a shell block: what that block prints, shown loosely
    expected_output: str | None = None

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def is_output(self) -> bool:
        return self.language in OUTPUT and self.annotation.file is None

    @property
    def is_pipeline(self) -> bool:
        return self.language == "python" and bool(_PIPELINE.search(self.text))

    @property
    def pipeline_name(self) -> str:
        match = _PIPELINE_NAME.search(self.text)
        if match is None:
            raise AnnotationError(f'{self.id}: a pipeline without name="..."')
        return match.group(1)

    def shell_script(self) -> str:
        """The commands of a shell block: a `console` block's `$ ` lines (with their
        continuation lines), every line of the others."""
        if self.language != "console":
            return self.text
        commands: list[str] = []
        continued = False
        for line in self.text.splitlines():
            if line.startswith("$ ") or continued:
                commands.append(line.removeprefix("$ ") if not continued else line)
                continued = line.endswith("\\")
        return "\n".join(commands) + "\n"


def parse_annotation(body: str) -> Annotation:
    """Read what follows `example:` in an annotation comment."""
    skip = _SKIP.match(body)
    if skip:
        reason = skip.group("reason").strip()
        if not reason:
            raise AnnotationError("`skip` needs a reason: <!-- example: skip — why -->")
        return Annotation(skip=reason)
    values: dict[str, object] = {}
    substitutions: list[tuple[str, str]] = []
    for token in shlex.split(body):
        name, _, value = token.partition("=")
        if name == "sub" and "=>" in value:
            old, _, new = value.partition("=>")
            substitutions.append((old, new))
        elif name in {"timeout", "stream"}:
            values[name] = float(value)
        elif name == "exit":
            values["exit_status"] = int(value)
        elif name == "file" and value:
            values["file"] = value
        elif token == "deploy=accepted":
            values["deploy_accepted_only"] = True
        else:
            raise AnnotationError(f"unknown annotation {token!r}")
    return Annotation(substitutions=tuple(substitutions), **values)  # type: ignore[arg-type]


def _annotation_before(lines: list[str], index: int) -> Annotation:
    previous = index - 1
    if previous < 0:
        return Annotation()
    match = _ANNOTATION.match(lines[previous])
    return parse_annotation(match.group("body")) if match else Annotation()


def read_blocks(document: Path, *, name: str) -> list[Block]:
    """Every fenced block of a Markdown document, in order, dedented to its fence."""
    lines = document.read_text().splitlines()
    blocks: list[Block] = []
    previous_end = -2
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening.group("indent")), opening.group("fence")
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = "".join(line[indent:] + "\n" for line in lines[index + 1 : end])
        try:
            annotation = _annotation_before(lines, index)
        except AnnotationError as error:
            raise AnnotationError(f"{name}:{index + 1}: {error}") from None
        block = Block(name, index + 1, opening.group("info").lower(), body, annotation=annotation)
        follows = all(not line.strip() for line in lines[previous_end + 1 : index])
        if block.is_output and follows and blocks and blocks[-1].language in SHELL:
            blocks[-1] = replace(blocks[-1], expected_output=body)
        blocks.append(block)
        previous_end = end
        index = end + 1
    return blocks


def missing_words(expected: str, output: str) -> list[str]:
    """The words of the expected output that the real output lacks: a loose comparison that
    ignores ids, numbers, times and table layout."""
    words = re.findall(r"[A-Za-z][A-Za-z_]{2,}", expected)
    return [w for w in dict.fromkeys(words) if not _HEXADECIMAL.fullmatch(w) and w not in output]


def user_documents(root: Path) -> list[Path]:
    """README.md and docs/*.md: what a user reads (bench/README.md is for developers)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]
