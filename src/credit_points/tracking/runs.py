"""Run logging: flattened configs, seeds, git SHA, library versions, data digests, metrics and artifacts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from credit_points.config import PROJECT_ROOT

_MAX_PARAM = 500  # MLflow's parameter value limit is 6000 characters; keep params readable


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys; lists become their JSON-ish text.

    Examples:
        >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"})
        {'a.b': 1, 'a.c': '[1, 2]', 'd': 'x'}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = str(list(value))
        else:
            out[name] = value
    return out


def git_sha(root: Path = PROJECT_ROOT) -> str:
    """The checked-out commit (with ``-dirty`` when the tree has changes), or ``unknown`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_params(params: Mapping[str, Any], *, artifact_file: str = "params/params.json") -> None:
    """Log parameters in batches. A value longer than a readable length is logged cut, ending with
    ``… (full value: <artifact_file>)``, and every value in full in ``artifact_file`` (JSON) — a run's
    settings are never lost to MLflow's parameter limit."""
    import mlflow

    full = {k: (str(v) if v is not None else "None") for k, v in params.items()}
    note = f"… (full value: {artifact_file})"
    clean = {k: v if len(v) <= _MAX_PARAM else v[: _MAX_PARAM - len(note)] + note for k, v in full.items()}
    mlflow.log_dict(full, artifact_file)
    items = list(clean.items())
    for start in range(0, len(items), 90):  # MLflow batches at most 100 params per call
        mlflow.log_params(dict(items[start : start + 90]))


def log_dataset(frame: pd.DataFrame, *, name: str, source: str, digest: str, context: str) -> None:
    """Record a data set's digest, schema and shape (rows × columns) with ``mlflow.log_input``; MLflow keeps
    the metadata, not the rows.

    MLflow keeps one record per (experiment, name, digest) and reuses it: the dataset's digest is
    ``sha256:`` + the first 29 hex digits of the data's SHA-256 (36 characters, MLflow's limit), so that a
    store holding the shape-less record of an earlier release (digest = the first 36 hex digits, 0 rows)
    gets a new, complete one; the full SHA-256 is the input's ``sha256`` tag.
    """
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    dataset = from_pandas(frame, source=source, name=name, digest=f"sha256:{digest[:29]}")
    mlflow.log_input(dataset, context=context, tags={"sha256": digest, "rows": str(len(frame))})


@contextmanager
def training_run(run_name: str, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
    """An MLflow run in the configured experiment."""
    import mlflow

    with mlflow.start_run(run_name=run_name, tags=dict(tags or {})) as run:
        yield run
