"""Loading a pipeline file: a Python module, from a path, that defines `pipeline`."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import sys
from pathlib import Path

from conveyor.pipelines.pipeline import Pipeline

_modules = itertools.count(1)


class PipelineFileError(Exception):
    """The pipeline file is missing, does not load, or defines no `pipeline`."""


def file_digest(path: Path) -> str:
    """The sha256 of the file's bytes, in hex ("" when there is no such file)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def load_pipeline(path: Path, *, import_root: Path | None = None) -> Pipeline:
    """Execute the file as a module and return its `pipeline`. `import_root` (the checkout)
    goes first on `sys.path`, so the file can import modules that live beside it."""
    if not path.is_file():
        raise PipelineFileError(f"no pipeline file {path.name} in the repository")
    for directory in (path.parent, import_root):
        if directory is not None and str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    name = f"conveyor_pipeline_file_{next(_modules)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineFileError(f"{path.name} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    pipeline = getattr(module, "pipeline", None)
    if not isinstance(pipeline, Pipeline):
        raise PipelineFileError(f"{path.name} defines no `pipeline = Pipeline(...)`")
    return pipeline
