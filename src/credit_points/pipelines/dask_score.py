"""Batch decisions on Dask: the same ``decide`` over partitions, partitioned Parquet out, errors and summary.

``run_dask_score`` resolves the model once on the client (``models:/name@alias`` → a concrete version and a
hash-verified bundle folder), ships the bundle's files to every worker in a :class:`BundlePlugin` (each
worker writes them to its local directory, verifies them against the artifact hash and loads the engine
once per process), and maps :func:`score_partition` over the partitions of ``dask.dataframe.read_parquet``
(or ``read_csv``). Each partition is validated, its good rows decided with
:meth:`~credit_points.engine.DecisionEngine.decide`, the decisions written as
``<out>/part-<partition>.parquet`` and the bad rows with their reasons as error parts that the client merges
into one errors file. The function returns a small frame of running sums per stage and product, from which
the client builds the :class:`~credit_points.pipelines.score.PortfolioSummary`.

Row numbers (``row`` in decisions and errors) are 1-based positions in the input file: the partitions'
lengths are counted first (one column read) and each partition adds its offset.

Every output column depends on the row and the pinned bundle alone (ranks are places in the bundle's
reference population, not in the batch), so a row decides the same in any partition, chunk or request.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from credit_points.engine import DecisionEngine, ModelIdentity
from credit_points.exceptions import DataValidationError, ModelError
from credit_points.pipelines.score import (
    SUMMARY_KEYS,
    PortfolioSummary,
    TableWriter,
    columns_to_drop,
    empty_decisions,
    output_columns,
    validate_for,
)

PART_NAME = "part-{:05d}.parquet"
REPORT_COLUMNS = ["partition", "stage", "product", *SUMMARY_KEYS, "rows_in", "bad_rows"]
DEFAULT_WORKERS = 2

_ENGINES: dict[str, DecisionEngine] = {}
_ENGINES_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------- cluster
@contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    n_workers: int = DEFAULT_WORKERS,
    threads_per_worker: int = 1,
    processes: bool = True,
) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` (an address) or to a fresh ``LocalCluster``.

    Without an address the cluster is ``n_workers`` × ``threads_per_worker`` (default 2 × 1: one LightGBM
    thread per process, scale with processes) and is closed on exit; with one, only the client is closed.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# ---------------------------------------------------------------------------------------------- bundle
@dataclass(frozen=True)
class BundleSpec:
    """A verified bundle as bytes, so any worker (no shared disk needed) can rebuild and re-verify it.

    Attributes:
        artifact_hash: the bundle's identity (checked again on the worker).
        files: file name → content, the manifest included.
        name, version, run_id: the registry identity decisions record.
        lightgbm_threads: LightGBM threads per prediction on the worker.
    """

    artifact_hash: str
    files: dict[str, bytes]
    name: str
    version: str
    run_id: str
    lightgbm_threads: int = 1

    @classmethod
    def from_folder(
        cls, bundle_dir: str | Path, identity: ModelIdentity, *, lightgbm_threads: int = 1
    ) -> BundleSpec:
        """Read a bundle folder (verified against ``identity.artifact_hash`` first)."""
        from credit_points.bundle import MANIFEST, verify_bundle

        root = Path(bundle_dir)
        manifest = verify_bundle(root, identity.artifact_hash or None)
        names = [MANIFEST, *manifest["files"]]
        return cls(
            artifact_hash=identity.artifact_hash,
            files={name: (root / name).read_bytes() for name in names},
            name=identity.name,
            version=identity.version,
            run_id=identity.run_id,
            lightgbm_threads=lightgbm_threads,
        )


def engine_for(spec: BundleSpec, root: str | Path | None = None) -> DecisionEngine:
    """The engine of ``spec`` in this process: loaded (hash-verified, golden-checked) once, then cached."""
    from credit_points.bundle import load_bundle

    with _ENGINES_LOCK:
        cached = _ENGINES.get(spec.artifact_hash)
        if cached is not None:
            return cached
        base = Path(root) if root is not None else Path(tempfile.gettempdir())
        folder = Path(tempfile.mkdtemp(prefix=f"bundle-{spec.artifact_hash[:12]}-", dir=base))
        for name, content in spec.files.items():
            (folder / name).write_bytes(content)
        engine = load_bundle(
            folder,
            expected_hash=spec.artifact_hash,
            identity=ModelIdentity(spec.name, spec.version, spec.artifact_hash, spec.run_id),
        )
        engine.set_threads(spec.lightgbm_threads)
        _ENGINES[spec.artifact_hash] = engine
        return engine


def cached_engine(artifact_hash: str) -> DecisionEngine:
    """The engine a :class:`BundlePlugin` loaded in this process; :class:`ModelError` if there is none."""
    engine = _ENGINES.get(artifact_hash)
    if engine is None:
        raise ModelError(
            f"bundle {artifact_hash[:12]}… is not loaded in this worker process (plugin not registered?)"
        )
    return engine


class BundlePlugin(WorkerPlugin):
    """Loads the bundle once per worker process when the worker starts (and on workers that join later)."""

    def __init__(self, spec: BundleSpec) -> None:
        self.spec = spec
        self.name = f"credit-points-bundle-{spec.artifact_hash[:16]}"

    def setup(self, worker: Any) -> None:
        engine_for(self.spec, root=getattr(worker, "local_directory", None))


# ----------------------------------------------------------------------------------------- partitions
def _summary_frame(partition: int, summary: PortfolioSummary, rows_in: int) -> pd.DataFrame:
    records = [
        {"partition": partition, "stage": s, "product": p, **v} for (s, p), v in summary.groups.items()
    ]
    if not records:
        records = [{"partition": partition, "stage": "", "product": "", **dict.fromkeys(SUMMARY_KEYS, 0.0)}]
    frame = pd.DataFrame.from_records(records)
    frame["rows_in"] = rows_in
    frame["bad_rows"] = summary.bad_rows
    return frame[list(meta_dtypes())].astype(meta_dtypes())


def meta_dtypes() -> dict[str, str]:
    """Column types of the per-partition report."""
    return {
        "partition": "int64",
        "stage": "str",
        "product": "str",
        **dict.fromkeys(SUMMARY_KEYS, "float64"),
        "rows_in": "int64",
        "bad_rows": "int64",
    }


def report_meta() -> pd.DataFrame:
    """An empty per-partition report with its columns and types (the ``meta`` of ``map_partitions``)."""
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in meta_dtypes().items()})


def score_partition(
    part: pd.DataFrame,
    offsets: Sequence[int],
    artifact_hash: str,
    out_dir: str,
    errors_dir: str | None,
    explain: str,
    source: str,
    drop_columns: Sequence[str] = (),
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Validate and decide one partition; write its decisions and errors; return its running sums.

    Args:
        part: the partition's applicant rows as read.
        offsets: rows before each partition in the input file.
        artifact_hash: the bundle whose engine this process holds.
        out_dir: folder of decision parts. errors_dir: folder of error parts (``None``: not written).
        explain: ``adverse`` / ``all`` / ``none`` (see ``DecisionEngine.decide``).
        source: the input file, named in validation errors.
        drop_columns: unknown columns the user chose to drop (``--drop-unknown-columns``).
        partition_info: given by Dask (``number`` is the partition's position).

    Returns:
        One row per (stage, product) with ``SUMMARY_KEYS`` sums, plus ``rows_in`` and ``bad_rows`` of the
        partition (see :func:`report_meta`).
    """
    if partition_info is None:  # Dask's meta inference calls with an empty frame and no partition
        return report_meta()
    number = int(partition_info["number"])
    offset = int(offsets[number])
    summary = PortfolioSummary()
    chunk = part.drop(columns=list(drop_columns)).reset_index(drop=True)
    if not len(chunk):
        return _summary_frame(number, summary, 0)
    engine = cached_engine(artifact_hash)
    good, errors = validate_for(engine, chunk, source)
    if len(errors):
        errors = errors.assign(row=errors["row"] + offset)
        summary.bad_rows = int(errors["row"].nunique())
        if errors_dir is not None:
            errors.astype({"value": str}).to_parquet(Path(errors_dir) / PART_NAME.format(number), index=False)
    if len(good):
        decided = engine.decide(good, explain=explain)  # type: ignore[arg-type]
        decided.insert(0, "row", good.index.to_numpy() + 1 + offset)
        decided[output_columns(decided)].to_parquet(
            Path(out_dir) / PART_NAME.format(number), index=False, compression="zstd"
        )
        summary.add(decided)
    return _summary_frame(number, summary, len(chunk))


# ------------------------------------------------------------------------------------------------- run
def _read_row_groups(piece: tuple[str, tuple[int, ...]]) -> pd.DataFrame:
    """One partition of a Parquet input: the given row groups of one file, as pandas."""
    import pyarrow.parquet as pq

    path, groups = piece
    return pq.ParquetFile(path).read_row_groups(list(groups)).to_pandas()


def parquet_pieces(
    in_path: str | Path, partition_rows: int
) -> tuple[list[tuple[str, tuple[int, ...]]], list[int]]:
    """Partitions of a Parquet file or folder as (file, row groups), each about ``partition_rows`` rows.

    Row groups are never split; consecutive ones of a file are joined until a partition holds at least
    ``partition_rows`` rows. Also returns each partition's row count (from the metadata, nothing read).
    """
    import pyarrow.parquet as pq

    path = Path(in_path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise DataValidationError("no .parquet files in the folder", path=str(path))
    pieces: list[tuple[str, tuple[int, ...]]] = []
    lengths: list[int] = []
    for file in files:
        meta = pq.ParquetFile(file).metadata
        groups: list[int] = []
        rows = 0
        for index in range(meta.num_row_groups):
            groups.append(index)
            rows += meta.row_group(index).num_rows
            if rows >= partition_rows:
                pieces.append((str(file), tuple(groups)))
                lengths.append(rows)
                groups, rows = [], 0
        if groups:
            pieces.append((str(file), tuple(groups)))
            lengths.append(rows)
    return pieces, lengths


def read_partitions(
    in_path: str | Path, *, partition_rows: int = 100_000, blocksize: str | int = "64MiB"
) -> tuple[Any, list[int]]:
    """The input as a Dask DataFrame and the row count of each partition.

    Parquet (a file or a folder of files) is split at row groups into partitions of about
    ``partition_rows`` rows, counted from the metadata. CSV is split into byte blocks of ``blocksize``
    with every cell read as text (``N/A`` or ``null`` too; only empty cells are missing), so a block never
    fails on a type guessed from another block; validation then coerces the text exactly as the local
    reader's values; its blocks are counted by reading one column.
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    path = Path(in_path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataValidationError("file not found", path=str(path))
    if suffix == ".csv":
        frame = dd.read_csv(
            str(path),
            dtype=str,
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
            blocksize=blocksize,
        )
        lengths = frame[frame.columns[0]].map_partitions(len).compute()
        return frame, [int(n) for n in lengths]
    if suffix == ".parquet" or path.is_dir():
        pieces, lengths = parquet_pieces(path, partition_rows)
        meta = pq.read_schema(pieces[0][0]).empty_table().to_pandas()
        frame = dd.from_map(
            _read_row_groups, pieces, meta=meta, label="read-applicants", enforce_metadata=False
        )
        return frame, lengths
    raise DataValidationError(
        f"unknown file type {suffix or '(none)'!r}; expected .csv or .parquet", path=str(path)
    )


def _prepare_out_dir(out_path: Path) -> None:
    if out_path.suffix.lower() == ".csv":
        raise DataValidationError(
            "the Dask engine writes partitioned Parquet: give a folder, not a .csv file", path=str(out_path)
        )
    if out_path.is_file():
        raise DataValidationError(
            "the Dask engine writes a folder of Parquet parts; a file is in the way", path=str(out_path)
        )
    if out_path.is_dir():
        foreign = [
            p.name for p in out_path.iterdir() if not (p.name.startswith("part-") and p.suffix == ".parquet")
        ]
        if foreign:
            raise DataValidationError(
                f"output folder holds files that are not decision parts: {foreign[:3]}", path=str(out_path)
            )
        for old in out_path.glob("part-*.parquet"):
            old.unlink()
    out_path.mkdir(parents=True, exist_ok=True)


def _merge_errors(parts_dir: Path, errors_path: Path) -> None:
    """Concatenate error parts in partition order into one CSV or Parquet file (streaming)."""
    writer = TableWriter(errors_path)
    try:
        for part in sorted(parts_dir.glob("part-*.parquet")):
            writer.write(pd.read_parquet(part))
    finally:
        writer.close()
    if not errors_path.exists():  # no bad rows: still leave an empty errors file with its columns
        from credit_points.datasets.schema import empty_errors

        writer = TableWriter(errors_path)
        writer.write(empty_errors())
        writer.close()


def summary_from_reports(reports: pd.DataFrame) -> PortfolioSummary:
    """Add the per-partition reports of :func:`score_partition` into one portfolio summary."""
    summary = PortfolioSummary()
    per_partition = reports.drop_duplicates("partition")
    summary.bad_rows = int(per_partition["bad_rows"].sum())
    used = reports[reports["applicants"] > 0]
    sums = used.groupby(["stage", "product"])[list(SUMMARY_KEYS)].sum()
    for key, row in sums.iterrows():
        summary.groups[key] = {name: float(row[name]) for name in SUMMARY_KEYS}  # type: ignore[index]
    summary.rows = int(used["applicants"].sum())
    return summary


def score_on_dask(
    client: Any,
    spec: BundleSpec,
    in_path: str | Path,
    out_path: str | Path,
    *,
    errors_path: str | Path | None = None,
    explain: str = "adverse",
    partition_rows: int = 100_000,
    blocksize: str | int = "64MiB",
    drop_unknown_columns: bool = False,
) -> PortfolioSummary:
    """Score ``in_path`` on ``client``'s cluster with the bundle ``spec``; see the module docstring.

    ``out_path`` (a folder) and ``errors_path`` must be on storage the workers can write (a local disk for
    a ``LocalCluster``; a shared file system on a real cluster).
    """
    if explain not in ("adverse", "all", "none"):
        raise DataValidationError("must be adverse, all or none", field="explain", value=explain)
    in_path, out_dir = Path(in_path), Path(out_path)
    # refused before any work, as the local path is
    drop_columns = columns_to_drop(in_path, None, drop_unknown=drop_unknown_columns)
    _prepare_out_dir(out_dir)
    client.register_plugin(BundlePlugin(spec), name=f"credit-points-bundle-{spec.artifact_hash[:16]}")
    frame, lengths = read_partitions(in_path, partition_rows=partition_rows, blocksize=blocksize)
    offsets = np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype="int64"))[:-1]]).tolist()
    errors_dir = Path(tempfile.mkdtemp(prefix=".errors-", dir=out_dir.parent)) if errors_path else None
    try:
        reports = frame.map_partitions(
            score_partition,
            offsets,
            spec.artifact_hash,
            str(out_dir.resolve()),
            str(errors_dir.resolve()) if errors_dir else None,
            explain,
            str(in_path),
            list(drop_columns),
            meta=report_meta(),
            enforce_metadata=False,
            align_dataframes=False,
        ).compute()
        if errors_dir is not None and errors_path is not None:
            _merge_errors(errors_dir, Path(errors_path))
        if not any(out_dir.glob("part-*.parquet")):  # no good row: one empty part with the decision columns
            empty_decisions(engine_for(spec)).to_parquet(out_dir / PART_NAME.format(0), index=False)
    finally:
        if errors_dir is not None:
            shutil.rmtree(errors_dir, ignore_errors=True)
    summary = summary_from_reports(reports)
    summary.dropped_columns = tuple(drop_columns)
    return summary


def run_dask_score(
    *,
    model: str,
    in_path: str | Path,
    out_path: str | Path,
    errors_path: str | Path | None = None,
    scheduler: str | None = None,
    explain: str = "adverse",
    n_workers: int = DEFAULT_WORKERS,
    processes: bool = True,
    partition_rows: int = 100_000,
    blocksize: str | int = "64MiB",
    drop_unknown_columns: bool = False,
) -> PortfolioSummary:
    """``credit-points score --engine dask``: resolve ``model``, score on a cluster, return the summary.

    Args:
        model: ``models:/name@alias`` (resolved once, on the client, to a concrete version) or a bundle folder.
        in_path: Parquet file or folder, or CSV file.
        out_path: the folder of decision parts (``part-00000.parquet`` …).
        errors_path: one file (``.parquet`` or ``.csv``) of bad rows with their reasons.
        scheduler: a Dask scheduler address (Kubernetes, YARN, HPC …); default a ``LocalCluster``.
        explain: where reason codes are computed (``adverse`` default).
        n_workers: workers of the ``LocalCluster`` (ignored with ``scheduler``).
        processes: ``LocalCluster`` workers as processes (default) or threads of this process.
        partition_rows: Parquet partitions of about this many rows (whole row groups).
        blocksize: CSV partitions of this many bytes (``"64MiB"``).
    """
    from credit_points.config import get_settings
    from credit_points.pipelines.models import load_engine

    settings = get_settings()
    _, resolved = load_engine(model, settings)
    identity = ModelIdentity(resolved.name, resolved.version, resolved.artifact_hash, resolved.run_id)
    spec = BundleSpec.from_folder(resolved.bundle_dir, identity, lightgbm_threads=settings.lightgbm_threads)
    with dask_client(scheduler, n_workers=n_workers, processes=processes) as client:
        return score_on_dask(
            client,
            spec,
            in_path,
            out_path,
            errors_path=errors_path,
            explain=explain,
            partition_rows=partition_rows,
            blocksize=blocksize,
            drop_unknown_columns=drop_unknown_columns,
        )
