"""The ``report`` job: decision records (or scored rows) → per-loan reports in HTML, PDF and JSON, in parallel.

``--decisions`` accepts either

* **JSON lines** (``.jsonl``, ``.ndjson``, ``.json``): one decision record per line — the JSON the API
  returns (``credit-points-decision/1``) — or one audit envelope per line (``{"decision_id", "created_at",
  "record": {...}}``, as ``GET /v1/decisions/{id}`` returns it), whose id and time go into the report header;
* the **Parquet or CSV** that ``credit-points score`` writes. Those rows hold no contributions and no nested
  record, so records are rebuilt: the catalogue's input columns are decided again by the engine, and the
  rebuilt decision must equal the stored row (points, PD, limit, decision) or the job stops — a report is
  never rendered from an engine that did not make the decision. Ranks are places in the bundle's pinned
  reference population, so the rebuilt ones are the file's.

Reports are rendered by a pool of processes (one engine each, loaded once per worker from the concrete
model version) behind a progress bar.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credit_points.exceptions import DataValidationError, ModelError

if TYPE_CHECKING:
    from rich.console import Console

    from credit_points.engine import DecisionEngine

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
TABLE_SUFFIXES = (".parquet", ".csv")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: seconds one report takes in one process, by format (``bench_reports.py``: HTML ~40/s; a PDF by WeasyPrint ~1 s),
#: and the work below which worker processes — each starts and loads the model, ~5 s — cost more than they save
#: (the demo's 24 HTML and JSON reports: 0.45 s in this process, 6.1 s in two workers)
_SECONDS_PER_REPORT = {"html": 0.025, "json": 0.02, "pdf": 1.0}
_MIN_PARALLEL_SECONDS = 10.0
_CHUNK = 25
#: decision columns that depend on the batch a row was scored in (taken from the file, not re-decided)


@dataclass
class ReportBatch:
    """What a batch run wrote."""

    paths: list[Path] = field(default_factory=list)
    records: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- reading
def _from_line(obj: Any, line_no: int, path: Path) -> dict[str, Any]:
    if isinstance(obj, dict) and isinstance(obj.get("record"), dict) and obj.get("decision_id"):
        record = dict(obj["record"])
        record["audit"] = {
            "decision_id": obj["decision_id"],
            "created_at": obj.get("created_at"),
            "row_hash": obj.get("row_hash"),
        }
        return record
    if isinstance(obj, dict) and obj.get("schema", "").startswith("credit-points-decision/"):
        return obj
    raise DataValidationError(
        "neither a decision record nor an audit envelope",
        field="schema",
        value=f"line {line_no}",
        path=str(path),
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Decision records from a JSON-lines file (records or audit envelopes, one per line)."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for k, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(
                    f"not JSON ({exc.msg})", field="line", value=k, path=str(path)
                ) from None
            records.append(_from_line(obj, k, path))
    return records


def records_from_scored(path: Path, engine: DecisionEngine) -> list[dict[str, Any]]:
    """Rebuild decision records from the rows ``credit-points score`` wrote, checking each against the engine.

    Raises:
        ModelError: a rebuilt decision differs from the stored row (the engine is not the one that decided).
    """
    import numpy as np

    from credit_points.datasets.io import read_table
    from credit_points.datasets.schema import validate_applicants
    from credit_points.records import decision_records, input_records

    stored = read_table(path)
    names = engine.fields.names
    present = [c for c in names if c in stored.columns]
    raw = stored[present].copy()
    for spec in engine.fields.fields:
        if spec.name not in raw.columns and spec.nullable:
            raw[spec.name] = None
    good, errors = validate_applicants(raw, engine.fields, path=str(path))
    if len(errors):
        first = errors.iloc[0]
        raise DataValidationError(
            f"{errors['row'].nunique()} scored row(s) no longer validate: {first['reason']}",
            field=str(first["field"]),
            value=first["row"],
            path=str(path),
        )
    decided = engine.decide(good, explain="all")
    for column in ("points_total", "prob_default", "limit", "decision"):
        if column not in stored.columns:
            continue
        before = stored[column].to_numpy()
        after = decided[column].to_numpy()
        if column == "decision":
            same = before.astype(str) == after.astype(str)
        else:
            b, a = before.astype("float64"), after.astype("float64")
            same = np.isclose(b, a, rtol=1e-9, atol=1e-9) | (np.isnan(b) & np.isnan(a))
        if not same.all():
            k = int(np.flatnonzero(~same)[0])
            firm = stored["firm_id"].iloc[k] if "firm_id" in stored.columns else k
            raise ModelError(
                f"{path}: row {k + 1} (firm {firm}): {column} was {before[k]!r}, the engine gives {after[k]!r};"
                " pass the --model the decisions were made with"
            )
    inputs = input_records(good.reset_index(drop=True), names)
    return decision_records(engine, decided.reset_index(drop=True), inputs)


def load_decisions(path: str | Path, engine: DecisionEngine | None = None) -> list[dict[str, Any]]:
    """Decision records from ``path`` (JSON lines, or a scored Parquet/CSV rebuilt with ``engine``)."""
    path = Path(path)
    if not path.exists():
        raise DataValidationError("file not found", field="decisions", path=str(path))
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(path)
    if suffix in TABLE_SUFFIXES:
        if engine is None:
            raise ModelError("scored rows need the engine they were decided with to rebuild records")
        return records_from_scored(path, engine)
    raise DataValidationError(
        f"unknown decisions file type; expected one of {[*JSONL_SUFFIXES, *TABLE_SUFFIXES]}",
        field="decisions",
        value=suffix,
        path=str(path),
    )


def record_key(record: dict[str, Any]) -> str:
    """The name a record's report files carry: its decision id, else firm id and decision date."""
    audit = record.get("audit") or {}
    key = (
        audit.get("decision_id")
        or record.get("decision_id")
        or f"{record.get('firm_id')}_{record.get('as_of_date')}"
    )
    return _SAFE.sub("_", str(key))


def select_records(records: Sequence[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """Records whose decision id (or, without one, firm id) is in ``ids``; all records when ``ids`` is empty.

    Raises:
        DataValidationError: naming the first id that matches no record.
    """
    wanted = [str(i) for i in ids]
    if not wanted:
        return list(records)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        audit = r.get("audit") or {}
        for key in {audit.get("decision_id"), r.get("decision_id"), r.get("firm_id"), record_key(r)} - {None}:
            by_key.setdefault(str(key), []).append(r)
    out: list[dict[str, Any]] = []
    for ident in wanted:
        if ident not in by_key:
            raise DataValidationError(
                "no decision with this id in the file", field="decision_id", value=ident
            )
        out += [r for r in by_key[ident] if all(r is not o for o in out)]
    return out


# ---------------------------------------------------------------------- rendering
_WORKER: dict[str, Any] = {}


def _init_worker(model_uri: str, threads: int) -> None:
    # one thread per worker: OpenMP threads of several workers on few cores spin against each other
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    from credit_points.pipelines.models import load_engine

    engine, _ = load_engine(model_uri)
    engine.set_threads(threads)
    _WORKER["engine"] = engine


def _render_records(
    records: Sequence[dict[str, Any]],
    out_dir: str,
    formats: Sequence[str],
    langs: Sequence[str],
    engine: DecisionEngine | None = None,
    pdf_concurrency: int = 1,
    pdf_engine: str | None = None,
) -> list[tuple[list[str], str | None]]:
    """Render records, each in every language and format: ``(paths, None)`` per record, or ``([], problem)``
    for a record that failed (reported, not raised: one bad record must not stop a batch).

    The PDFs are printed together at the end, ``pdf_concurrency`` at a time (Chromium prints them in
    parallel; WeasyPrint one after another). Worker processes call this with ``engine`` unset (theirs).
    """
    from credit_points.reports.loan import render_report
    from credit_points.reports.pdf import htmls_to_pdfs

    engine = engine or _WORKER["engine"]
    out: list[tuple[list[str], str | None]] = []
    to_print: list[tuple[int, Path, str]] = []  # (record index, target, html)
    for k, record in enumerate(records):
        key = record_key(record)
        written: list[str] = []
        try:
            for lang in langs:
                html: bytes | None = None  # the PDF prints the HTML report: rendered once for both
                for fmt in formats:
                    target = Path(out_dir) / f"{key}.{lang}.{fmt}"
                    if fmt == "json":
                        target.write_bytes(render_report(record, engine, "json", lang))
                    else:
                        html = html or render_report(record, engine, "html", lang)
                        if fmt == "html":
                            target.write_bytes(html)
                        else:
                            to_print.append((k, target, html.decode("utf-8")))
                    written.append(str(target))
            out.append((written, None))
        except Exception as exc:  # noqa: BLE001 - reported in the record's place
            out.append(([], f"{type(exc).__name__}: {exc}"))
    if to_print:
        printed = htmls_to_pdfs(
            [html for _, _, html in to_print], engine=pdf_engine, concurrency=pdf_concurrency
        )
        for (k, target, _), pdf in zip(to_print, printed, strict=True):
            if out[k][1] is not None:
                continue
            if isinstance(pdf, BaseException):
                out[k] = ([], f"{type(pdf).__name__}: {pdf}")
            else:
                target.write_bytes(pdf)
    return out


def render_batch(
    records: Sequence[dict[str, Any]],
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("html",),
    langs: Sequence[str] = ("zh",),
    engine: DecisionEngine | None = None,
    model_uri: str | None = None,
    workers: int | None = None,
    console: Console | None = None,
    pdf_engine: str | None = None,
) -> ReportBatch:
    """Render every record in every format and language into ``out_dir`` (``<key>.<lang>.<fmt>``).

    Args:
        records: decision records.
        out_dir: created if missing.
        engine: render in this process with this engine (``workers`` 1 or ``model_uri`` unset).
        model_uri: what each worker process loads (a concrete ``models:/name/version`` or a bundle folder).
        workers: processes (default: CPU count, at most one per record); with Chromium printing the PDFs,
            the pages it prints at once instead (the reports are rendered in this process).
        pdf_engine: ``auto``, ``chromium`` or ``weasyprint`` (default: the ``pdf_engine`` setting).

    Returns:
        The paths written and the records that failed (key, error), in input order.
    """
    from credit_points.pipelines.common import progress_bar
    from credit_points.reports.loan import FORMATS
    from credit_points.reports.messages import LANGS
    from credit_points.reports.pdf import resolve_engine

    for fmt in formats:
        if fmt not in FORMATS:
            raise DataValidationError(
                f"unknown report format; expected one of {list(FORMATS)}", field="format", value=fmt
            )
    for lang in langs:
        if lang not in LANGS:
            raise DataValidationError(
                f"unknown language; expected one of {list(LANGS)}", field="lang", value=lang
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_workers = min(workers or os.cpu_count() or 1, max(len(records), 1))
    serial_s = len(records) * len(langs) * sum(_SECONDS_PER_REPORT[fmt] for fmt in formats)
    if workers is None and serial_s < _MIN_PARALLEL_SECONDS and engine is not None:
        n_workers = 1  # starting processes and loading engines costs more than these reports
    batch = ReportBatch(records=len(records))
    results: dict[int, list[str]] = {}

    def collect(indices: Sequence[int], rendered: list[tuple[list[str], str | None]]) -> None:
        for k, (paths, problem) in zip(indices, rendered, strict=True):
            if problem is None:
                results[k] = paths
            else:
                batch.failed.append((record_key(records[k]), problem))

    # Chromium prints in its own processes, several pages at once: the reports are rendered here and printed
    # by this process's browser, with no worker processes to start (each would load the model again)
    in_process = n_workers <= 1 or model_uri is None
    pdf_concurrency = 1
    prints = resolve_engine(pdf_engine) if "pdf" in formats else None
    if prints == "chromium":
        in_process, pdf_concurrency = True, workers or os.cpu_count() or 1
    with progress_bar("reports", console) as bar:
        task = bar.add_task("reports", total=len(records))
        if in_process:
            if engine is None:
                if model_uri is None:
                    raise ModelError("render_batch needs an engine or a model URI")
                from credit_points.pipelines.models import load_engine

                engine, _ = load_engine(model_uri)
            step = max(_CHUNK, 4 * pdf_concurrency)
            for a in range(0, len(records), step):
                chunk = list(range(a, min(a + step, len(records))))
                rendered = _render_records(
                    [records[k] for k in chunk], str(out), formats, langs, engine, pdf_concurrency, pdf_engine
                )
                collect(chunk, rendered)
                bar.advance(task, len(chunk))
        else:
            assert model_uri is not None  # in_process otherwise
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(
                max_workers=n_workers, mp_context=context, initializer=_init_worker, initargs=(model_uri, 1)
            ) as pool:
                size = max(1, min(_CHUNK, len(records) // (n_workers * 4)))
                chunks = [list(range(a, min(a + size, len(records)))) for a in range(0, len(records), size)]
                # each worker prints with the engine resolved here: a worker's environment is its start-up's
                futures = {
                    pool.submit(
                        _render_records,
                        [records[k] for k in chunk],
                        str(out),
                        tuple(formats),
                        tuple(langs),
                        pdf_engine=prints,
                    ): chunk
                    for chunk in chunks
                }
                for future in as_completed(futures):
                    chunk = futures[future]
                    collect(chunk, future.result())
                    bar.advance(task, len(chunk))
    batch.paths = [Path(p) for k in sorted(results) for p in results[k]]
    return batch


def run_report(
    *,
    decisions: str | Path,
    out_dir: str | Path,
    decision_ids: Sequence[str] = (),
    formats: Sequence[str] = ("html",),
    langs: Sequence[str] = ("zh",),
    model: str | None = None,
    workers: int | None = None,
    console: Console | None = None,
) -> ReportBatch:
    """Load the engine, read and select the decisions, render them, print where they are."""
    from rich.console import Console

    from credit_points.config import get_settings
    from credit_points.pipelines.models import load_engine

    console = console or Console()
    settings = get_settings()
    engine, resolved = load_engine(model or settings.model_uri, settings)
    concrete = (
        f"models:/{resolved.name}/{resolved.version}"
        if (model or settings.model_uri).startswith("models:/")
        else resolved.bundle_dir
    )
    console.print(f"model {resolved.name} version {resolved.version}, artifact {resolved.artifact_hash[:12]}")
    records = select_records(load_decisions(decisions, engine), decision_ids)
    versions = {str(r.get("model", {}).get("version")) for r in records}
    if versions - {str(resolved.version)}:
        console.print(
            f"[yellow]decisions were made with model version(s) {sorted(versions)}; reports use version "
            f"{resolved.version} for what-ifs and benchmarks (they are checked against each record)[/yellow]"
        )
    batch = render_batch(
        records,
        out_dir,
        formats=formats,
        langs=langs,
        engine=engine,
        model_uri=concrete,
        workers=workers,
        console=console,
    )
    console.print(
        f"{len(batch.paths)} report file(s) for {batch.records} decision(s) in {Path(out_dir).resolve()}"
    )
    for key, problem in batch.failed:
        console.print(f"[red]{key}: {problem}[/red]")
    return batch


def sample_by_decision(records: Sequence[dict[str, Any]], per_decision: int = 2) -> list[dict[str, Any]]:
    """Up to ``per_decision`` records of each outcome (approve, refer, decline), in input order — for demos.

    Examples:
        >>> rows = [{"decision": d} for d in ["approve", "decline", "approve", "approve", "refer"]]
        >>> [r["decision"] for r in sample_by_decision(rows, 2)]
        ['approve', 'decline', 'approve', 'refer']
    """
    taken: dict[str, int] = {}
    out = []
    for record in records:
        decision = str(record.get("decision"))
        if taken.get(decision, 0) < per_decision:
            taken[decision] = taken.get(decision, 0) + 1
            out.append(record)
    return out
