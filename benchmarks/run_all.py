"""Run every benchmark of the project and write one table: ``benchmarks/results/results.md`` + ``results.json``.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/run_all.py [--quick] [--only engine,train]``).

Each ``benchmarks/bench_*.py`` runs as its own subprocess (through a small wrapper that reports the peak
RSS of that benchmark's process tree). A script that prints a last line ``RESULT {json}`` is read from it;
for scripts that print text, a parser here turns their lines into figures. Every figure sits next to the
baseline measured in the same run where one exists — raw LightGBM for the engine, sklearn
``HistGradientBoostingClassifier`` for training, ``mlflow models serve`` for the API — because absolute times
on a shared machine drift and ratios do not. ``--quick`` passes smaller sizes to every script that has them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

# Runs a command and prints the peak RSS (KiB) of its process tree on the last stderr line.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "sys.stderr.write('\\nPEAK_RSS_KIB %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


@dataclass
class Figure:
    """One line of the results table."""

    benchmark: str
    figure: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    better: str = "higher"  # or "lower": how to read value against baseline
    note: str = ""

    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value


@dataclass
class Bench:
    """A benchmark script, its arguments (full / quick) and how to read its output."""

    name: str
    script: str
    args: list[str]
    quick_args: list[str]
    parse: Callable[[str, dict[str, Any] | None], list[Figure]]
    timeout_s: float = 3600.0
    needs_model_home: bool = False
    figures: list[Figure] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ parsers
def _num(text: str) -> float:
    return float(text.replace(",", ""))


def parse_data(out: str, result: dict[str, Any] | None) -> list[Figure]:
    figs = []
    for label, key in (
        ("generate", r"^generate: ([\d,]+) rows.*= ([\d,]+) rows/s"),
        ("validate", r"^validate: ([\d,]+) rows.*= ([\d,]+) rows/s"),
        ("read Parquet + validate", r"^read Parquet \+ validate: ([\d,]+) rows.*= ([\d,]+) rows/s"),
    ):
        match = re.search(key, out, re.M)
        if match:
            figs.append(
                Figure("data", f"{label} ({_num(match.group(1)):,.0f} rows)", _num(match.group(2)), "rows/s")
            )
    return figs


def parse_points(out: str, result: dict[str, Any] | None) -> list[Figure]:
    figs = []
    match = re.search(r"batch median: ([\d,]+) rows/s wall", out)
    if match:
        figs.append(Figure("points", "points batch (median)", _num(match.group(1)), "rows/s"))
    for match in re.finditer(r"one firm, ([^:]+): median ([\d.]+) ms, p99 ([\d.]+) ms", out):
        figs.append(
            Figure(
                "points", f"one firm, {match.group(1)}: median", float(match.group(2)), "ms", better="lower"
            )
        )
        figs.append(
            Figure("points", f"one firm, {match.group(1)}: p99", float(match.group(3)), "ms", better="lower")
        )
    return figs


def parse_pd_cv(out: str, result: dict[str, Any] | None) -> list[Figure]:
    records = None
    for line in out.splitlines()[::-1]:
        if line.startswith("["):
            try:
                records = json.loads(out[out.index("[") :])
            except (ValueError, json.JSONDecodeError):
                records = None
            break
    figs = []
    for rec in records or []:
        figs.append(Figure("pd-cv", f"{rec.get('dataset')}: {rec.get('method')} AUC", rec.get("auc"), "AUC"))
    return figs


def parse_api(out: str, result: dict[str, Any] | None) -> list[Figure]:
    data = None
    for line in out.splitlines()[::-1]:
        if line.startswith("{"):
            data = json.loads(line)
            break
    if data is None:
        return []
    bases = {
        "with signature": data.get("mlflow_serve_signature") or {},
        "bare": data.get("mlflow_serve") or data.get("baseline") or {},
    }
    data = data.get("api", data)
    figs = []
    for kind, base in bases.items():
        label = f"mlflow models serve, {kind}, {base.get('workers', 1)} worker(s) (PD only)" if base else ""
        note = "" if base else f"no mlflow models serve ({kind}) baseline in bench_api.py output"
        figs += [
            Figure("api", "POST /v1/decisions throughput", data.get("requests_per_s"), "requests/s", label,
                   base.get("requests_per_s"), note=note),
            Figure("api", "POST /v1/decisions p50", data.get("p50_ms"), "ms", label, base.get("p50_ms"), better="lower"),
            Figure("api", "POST /v1/decisions p99", data.get("p99_ms"), "ms", label, base.get("p99_ms"), better="lower"),
        ]  # fmt: skip
    return figs + [
        Figure("api", "mean micro-batch", data.get("mean_batch"), "requests per engine call"),
        Figure("api", "errors", data.get("errors"), "count", better="lower"),
        Figure(
            "api", "audit rows equal 201 responses", float(bool(data.get("audit_rows_equal_201"))), "bool"
        ),
    ]


def parse_engine(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    figs = []
    b, s = result.get("batch"), result.get("single")
    if b and "error" not in b:
        figs += [
            Figure("engine", f"decide, {b['rows']:,} rows ({b['explained_rows']:,} with reason codes), "
                   f"{b.get('threads', 1)} thread(s)", b["decide_s"], "s",
                   "raw Booster.predict + raw pred_contrib on the same rows and threads", b["raw_total_s"], better="lower",
                   note="target ≤ 1.5×"),
            Figure("engine", "decide throughput", b["decide_rows_per_s"], "rows/s"),
        ]  # fmt: skip
    if s and "error" not in s:
        figs += [
            Figure("engine", "one applicant alone: median", s["median_ms"], "ms", better="lower"),
            Figure("engine", "one applicant alone: p99", s["p99_ms"], "ms", better="lower"),
        ]
    explain = result.get("explain", "adverse")
    for row in result.get("scaling", []):
        n = f"{row['rows']:,} rows (reason codes: {explain})"
        local, dask = row["local"], row.get("dask")
        if "error" in local:
            continue
        if dask and "error" not in dask:
            figs.append(Figure("scaling", f"score {n}: Dask LocalCluster 2×1", dask["rows_per_s"], "rows/s",
                               "local streaming score", local["rows_per_s"]))  # fmt: skip
            figs.append(
                Figure(
                    "scaling",
                    f"score {n}: Dask peak RSS, client + workers",
                    dask["peak_rss_mib"],
                    "MiB",
                    better="lower",
                )
            )
        else:
            figs.append(Figure("scaling", f"score {n}: local streaming", local["rows_per_s"], "rows/s"))
        figs.append(
            Figure("scaling", f"score {n}: local peak RSS", local["peak_rss_mib"], "MiB", better="lower")
        )
    for row in result.get("model_size", {}).get("rows", []):
        shape = f"{row['trees']} trees × {row['leaves']} leaves"
        figs.append(Figure("model size", f"{shape}: OOT AUC", row["oot_auc"], "AUC"))
        figs.append(
            Figure(
                "model size",
                f"{shape}: pred_contrib",
                row["contrib_rows_per_s"],
                "rows/s",
                "predict",
                row["predict_rows_per_s"],
            )
        )
    return figs


def parse_train(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    n = f"{result['rows']:,}"
    figs = [
        Figure(
            "train",
            f"credit-points train end to end, {n} firm-years (incl. MLflow)",
            result["train"]["seconds"],
            "s",
            "HistGradientBoosting fit, same features",
            result["hgb"]["seconds"],
            better="lower",
        ),
        Figure(
            "train",
            "LightGBM booster alone, same features",
            result["booster"]["seconds"],
            "s",
            "HistGradientBoosting fit, same features",
            result["hgb"]["seconds"],
            better="lower",
        ),
        Figure(
            "train",
            "OOT AUC of the trained model",
            result["train"]["oot_auc"],
            "AUC",
            "HistGradientBoosting",
            result["hgb"]["oot_auc"],
        ),
    ]
    if "train_dask" in result:
        figs.append(
            Figure(
                "train",
                "train --engine dask end to end",
                result["train_dask"]["seconds"],
                "s",
                "local train",
                result["train"]["seconds"],
                better="lower",
            )
        )
        figs.append(
            Figure(
                "train",
                "OOT AUC, dask",
                result["train_dask"]["oot_auc"],
                "AUC",
                "local",
                result["train"]["oot_auc"],
            )
        )
    return figs


def parse_predict(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    n = f"{int(result['rows']):,} rows"
    return [
        Figure("predict", f"PDClassifier.predict_proba, {n}", result["predict_proba_rows_per_s"], "rows/s",
               "raw Booster.predict", result["booster_rows_per_s"]),
        Figure("predict", f"blend (booster + scorecard) predict_proba, {n}", result["blend_predict_proba_rows_per_s"],
               "rows/s", "raw Booster.predict", result["booster_rows_per_s"]),
    ]  # fmt: skip


def parse_reports(out: str, result: dict[str, Any] | None) -> list[Figure]:
    figs = []
    for label, pattern in (
        ("HTML, 1 process", r"HTML, 1 process\s*:\s*([\d.]+) reports/s"),
        ("HTML, worker processes", r"HTML, \d+ processes:\s*([\d.]+) reports/s"),
    ):
        match = re.search(pattern, out)
        if match:
            figs.append(Figure("reports", label, float(match.group(1)), "reports/s"))
    rate = {e: re.search(rf"PDF {e}\s.*?:\s*([\d.]+) reports/s", out) for e in ("weasyprint", "chromium")}
    one = {e: re.search(rf"PDF {e}\s.*?\n\s+one PDF for an officer, warm: (\d+) ms", out) for e in rate}
    for found, label, unit, baseline, extra in (
        (rate, "PDF batch, Chromium (2 pages)", "reports/s", "WeasyPrint, 2 worker processes", {"note": "target ≥ 2/s"}),
        (one, "one PDF, warm, Chromium", "ms", "WeasyPrint", {"better": "lower"}),
    ):  # fmt: skip
        ours, theirs = found["chromium"], found["weasyprint"]
        if ours and theirs:
            figs.append(
                Figure(
                    "reports", label, float(ours.group(1)), unit, baseline, float(theirs.group(1)), **extra
                )
            )
    return figs


def parse_score_audit(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    n, store = f"{int(result['rows']):,} rows", result["store"]
    return [
        Figure("score-audit", f"score --audit, {n}, fresh {store} store", result["score_audit_s"], "s",
               "score without --audit", result["score_s"], better="lower"),
        Figure("score-audit", f"score --audit again, {n} (nothing new)", result["rerun_s"], "s",
               "score without --audit", result["score_s"], better="lower"),
        Figure("score-audit", f"column-wise records, {n}", result["encode_s"], "s",
               "records row by row (API path)", result["per_row_records_s"], better="lower"),
    ]  # fmt: skip


def parse_outcomes_dataset(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    n = f"{int(result['decisions']):,} audited decisions, {result['store']}"
    return [
        Figure("outcomes", f"outcomes dataset, {n}", result["dataset_s"], "s",
               "read every audit row (iter_rows)", result["read_all_rows_s"], better="lower"),
    ]  # fmt: skip


def parse_monitor(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    n = f"{int(result['decisions']):,} audited decisions, {result['store']}"
    return [
        Figure("monitor", f"monitor_window, {n}", result["monitor_s"], "s",
               "outcomes dataset of the version (the read)", result["dataset_s"], better="lower"),
        Figure("monitor", f"monitor with both reports, {n}", result["total_s"], "s", note="target < 2 min at 1M"),
    ]  # fmt: skip


def parse_reject_inference(out: str, result: dict[str, Any] | None) -> list[Figure]:
    if not result:
        return []
    summary = result["summary"]
    figs = [
        Figure("reject-inference", f"{m}: share of the AUC gap recovered", summary[m]["gap_recovered"], "",
               note=f"± {summary[m]['gap_recovered_sd']:.2f} over seeds {result['seeds']}; target ≥ 0.5")
        for m in ("reweight", "augment", "parcel")
    ]  # fmt: skip
    figs += [
        Figure("reject-inference", f"{m}: ECE on the 2023 applicants", summary[m]["ece"], "",
               "full information", summary["full"]["ece"], better="lower", note="target ≤ 1.5× full")
        for m in ("none", "reweight", "augment", "parcel")
    ]  # fmt: skip
    return figs


def parse_generic(out: str, result: dict[str, Any] | None) -> list[Figure]:
    figs = []
    for key, value in (result or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            figs.append(Figure("other", key, float(value), ""))
    return figs


BENCHES = [
    Bench("data", "bench_data.py", [], ["--rows", "100000"], parse_data),
    Bench(
        "points",
        "bench_points.py",
        [],
        ["--rows", "100000", "--repeats", "1", "--single", "300"],
        parse_points,
    ),
    # the series runs without reason codes (a portfolio run); their cost is the batch and model-size figures
    Bench("engine", "bench_engine.py", ["--explain", "none"], ["--quick"], parse_engine, timeout_s=7200),
    Bench("train", "bench_train.py", ["--dask"], ["--quick", "--dask"], parse_train),
    Bench(
        "pd-cv", "bench_pd_cv.py", ["--json"], ["--json", "--folds", "3", "--datasets", "german"], parse_pd_cv
    ),
    Bench("predict", "bench_predict.py", [], ["--rows", "100000", "--repeats", "1"], parse_predict),
    Bench("reports", "bench_reports.py", [], ["--decisions", "200", "--pdf", "5"], parse_reports),
    Bench("api", "bench_api.py", ["--json"], ["--json", "--duration", "5"], parse_api, needs_model_home=True),
    Bench("score-audit", "bench_score_audit.py", [], ["--rows", "20000"], parse_score_audit),
    Bench(
        "outcomes",
        "bench_outcomes_dataset.py",
        [],
        ["--decisions", "20000"],
        parse_outcomes_dataset,
        timeout_s=7200,
    ),
    Bench(
        "monitor",
        "bench_monitor.py",
        [],
        ["--decisions", "20000", "--overrides", "200"],
        parse_monitor,
        timeout_s=7200,
    ),  # fmt: skip
    Bench(
        "reject-inference",
        "bench_reject_inference.py",
        [],
        ["--firms", "1500", "--seeds", "1"],
        parse_reject_inference,
    ),
]


# Trains a small model in a throwaway home and gives it the champion alias, for benchmarks that serve it.
_MODEL_HOME_SETUP = (
    "import os\n"
    "from pathlib import Path\n"
    "from credit_points.config import get_settings\n"
    "from credit_points.pipelines.generate import write_panel\n"
    "from credit_points.pipelines.train import run_train\n"
    "from credit_points.tracking.registry import set_alias\n"
    "settings = get_settings()\n"
    "data = write_panel(Path(os.environ['CREDIT_POINTS_HOME']) / 'data' / 'raw', n_firms=2500, seed=5)['applicants']\n"
    "outcome = run_train(data, settings=settings)\n"
    "set_alias(settings.registry_model_name, 'champion', outcome.version)\n"
)


def model_home(root: Path) -> dict[str, str]:
    """Environment of a throwaway home holding a trained model aliased ``champion``."""
    home = root / "model-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CREDIT_POINTS_HOME": str(home),
        "CREDIT_POINTS_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
    }
    subprocess.run(
        [sys.executable, "-c", _MODEL_HOME_SETUP],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=900,
    )
    return env


def run_bench(bench: Bench, quick: bool, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one script; return its status, output tail, parsed RESULT, peak RSS and figures."""
    script = HERE / bench.script
    if not script.is_file():
        return {"status": "missing", "script": bench.script}
    cmd = [
        sys.executable,
        "-c",
        _PEAK_WRAPPER,
        sys.executable,
        str(script),
        *(bench.quick_args if quick else bench.args),
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=bench.timeout_s, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "script": bench.script, "seconds": bench.timeout_s}
    wall = time.perf_counter() - start
    peak = re.findall(r"PEAK_RSS_KIB (\d+)", proc.stderr)
    result = None
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            break
    figures = bench.parse(proc.stdout, result) if proc.returncode == 0 else []
    return {
        "status": "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})",
        "script": bench.script,
        "args": bench.quick_args if quick else bench.args,
        "seconds": wall,
        "peak_rss_mib": int(peak[-1]) / 1024 if peak else None,
        "result": result,
        "figures": [f.__dict__ | {"ratio": f.ratio()} for f in figures],
        "stdout_tail": proc.stdout[-4000:],
        "stderr_tail": "" if proc.returncode == 0 else proc.stderr[-2000:],
    }


def environment() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for name in ("lightgbm", "numpy", "pandas", "scikit-learn", "dask", "distributed", "mlflow", "fastapi"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        sha = ""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_sha": sha,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_at_start": load,
        "libraries": versions,
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit in ("AUC",):
        return f"{value:.4f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def write_markdown(runs: dict[str, dict[str, Any]], env: dict[str, Any], quick: bool, path: Path) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run_all.py{' --quick' if quick else ''}` on {env['date']} (git {env['git_sha']}, "
        f"{env['cpus']} CPUs, load average at start {env['load_avg_at_start'][0]:.2f}). Each figure sits next to its "
        "baseline from the same run; read the ratio, not the absolute time (the machine is shared).",
        "",
        "| benchmark | figure | value | unit | baseline (same run) | baseline value | ratio |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for name, run in runs.items():
        if run["status"] != "ok":
            lines.append(f"| {name} | `{run['script']}` {run['status']} | – | | | | |")
            continue
        if not run["figures"]:
            lines.append(
                f"| {name} | ran in {run['seconds']:.0f} s; no figures parsed (see results.json) | – | | | | |"
            )
        for fig in run["figures"]:
            ratio = fig["ratio"]
            lines.append(
                f"| {fig['benchmark']} | {fig['figure']} | {_fmt(fig['value'], fig['unit'])} | {fig['unit']} | "
                f"{fig['baseline']} | {_fmt(fig['baseline_value'], fig['unit'])} | {'' if ratio is None else f'{ratio:.2f}x'} |"
            )
        peak = run.get("peak_rss_mib")
        lines.append(
            f"| {name} | whole script: wall time; peak RSS of its largest process | {run['seconds']:,.0f} | s | | "
            f"{'' if peak is None else f'{peak:,.0f} MiB'} | |"
        )
    lines += [
        "",
        "Ratios are value / baseline: for times, below 1 means faster than the baseline; for rates, above 1.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def render_again(out: Path) -> None:
    """Re-read every run's stored output with the current parsers and rewrite both files."""
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    parsers = {bench.name: bench.parse for bench in BENCHES}
    for name, run in data["runs"].items():
        if run.get("status") == "ok" and name in parsers:
            figures = parsers[name](run.get("stdout_tail", ""), run.get("result"))
            run["figures"] = [f.__dict__ | {"ratio": f.ratio()} for f in figures]
    (out / "results.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    write_markdown(data["runs"], data["environment"], data["quick"], out / "results.md")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes in every benchmark that has them")
    parser.add_argument(
        "--only", default=None, help="comma-separated benchmark names (data, points, engine, train, ...)"
    )
    parser.add_argument("--out", default=str(RESULTS), help="folder for results.md and results.json")
    parser.add_argument(
        "--render-only", action="store_true", help="rebuild results.md from results.json (no runs)"
    )
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help='replace one benchmark\'s arguments, e.g. engine="--sizes 100000"',
    )
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None
    if args.render_only:
        render_again(Path(args.out))
        return
    for item in args.args:
        name, _, text = item.partition("=")
        for bench in BENCHES:
            if bench.name == name:
                bench.args = bench.quick_args = shlex.split(text)
    env = environment()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, Any]] = {}
    previous = out / "results.json"
    if wanted and previous.is_file():  # --only re-runs some benchmarks and keeps the others' last figures
        runs = json.loads(previous.read_text(encoding="utf-8"))["runs"]
    for bench in BENCHES:
        if wanted and bench.name not in wanted:
            continue
        print(f"== {bench.name} ({bench.script})", flush=True)
        if bench.needs_model_home:
            with tempfile.TemporaryDirectory(prefix="bench-home-") as tmp:
                try:
                    env_home = model_home(Path(tmp))
                except subprocess.CalledProcessError as exc:
                    runs[bench.name] = {
                        "status": "failed (model home)",
                        "script": bench.script,
                        "stderr_tail": str(exc.stderr)[-2000:],
                    }
                else:
                    runs[bench.name] = run_bench(bench, args.quick, env_home)
        else:
            runs[bench.name] = run_bench(bench, args.quick)
        run = runs[bench.name]
        print(f"   {run['status']}" + (f" in {run['seconds']:.0f} s" if "seconds" in run else ""), flush=True)
        # written after every benchmark, so a long run that is stopped keeps what it measured
        (out / "results.json").write_text(
            json.dumps({"environment": env, "quick": args.quick, "runs": runs}, indent=2), encoding="utf-8"
        )
        write_markdown(runs, env, args.quick, out / "results.md")
    print(f"wrote {out / 'results.md'} and {out / 'results.json'}")


if __name__ == "__main__":
    main()
