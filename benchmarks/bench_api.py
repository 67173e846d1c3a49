"""Loopback load test of ``POST /v1/decisions`` with wrk: requests/s, p50/p95/p99, errors, audit rows vs 2xx.

Starts ``credit-points serve`` (2 workers by default) on a free loopback port over a fresh audit store,
creates a key, warms up, then runs wrk (2 threads, 8 connections by default) for a bounded time (the whole
run stays under two minutes). Every request is a full decision with its audit row, so the check at the end
is that the number of audit rows written equals the number of 201 responses the server sent (read from
its own metrics) — no lost and no phantom rows — and that wrk saw no errors.

The decision service is the real engine (the API's default factory) on the model ``--model-uri`` resolves
to in ``--home`` (default: ``CREDIT_POINTS_HOME``), or another one named with ``--service``. To measure the
HTTP and audit layers alone, use the test double::

    python benchmarks/bench_api.py --service fake_service:build --pythonpath tests/api --no-baseline

In the same run, the two baselines a team would otherwise deploy, each served by ``mlflow models serve
--env-manager local`` with as many uvicorn workers as ours and answering the uncalibrated PD alone for the same
applicant's features at the same wrk settings: the same LightGBM booster saved bare with ``mlflow.lightgbm``,
and saved as MLflow recommends, with ``infer_signature`` and an input example (the server then checks each
request against the schema). The last line is ``RESULT {json}`` with every set of figures and the targets
checked: throughput at least twice the with-signature baseline's and at least half the bare one's, p50 at most
10 ms, p99 at most 50 ms, no errors, and audit rows equal to the 201 responses.

    python benchmarks/bench_api.py --home /path/to/home --model-uri models:/credit-points@champion

With ``--shadow-uri`` every worker also runs a shadow challenger (``docs/api.md``), and the benchmark
alternates ``--rounds`` runs without and with it, reporting the medians and their ratios (target: the
shadow costs the median latency at most 1.1x), and what the shadow decided during the load and after it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
MAX_TOTAL_S = 120.0
#: a shadow challenger may cost the answers' median latency at most this factor (docs/api.md)
SHADOW_P50_RATIO_MAX = 1.1

WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
"""

WRK_SCRIPT = (
    r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer __KEY__"
wrk.body = [==[__BODY__]==]
"""
    + WRK_DONE
)

#: throughput against each MLflow baseline at the same number of workers, and our latency (8 connections)
TARGETS = {
    "vs_signature_min": 2.0,
    "vs_bare_min": 0.5,
    "p50_ms_max": 10.0,
    "p99_ms_max": 50.0,
    "errors_max": 0,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_shadows(base: str, key: str, timeout_s: float = 90.0) -> None:
    """Wait until the workers' shadows have loaded their model (steady state: a shadow loads once, at start,
    at normal priority): ten answers in a row from ``GET /v1/model`` say ``ready``."""
    deadline, in_a_row = time.monotonic() + timeout_s, 0
    while in_a_row < 10:
        if time.monotonic() > deadline:
            raise SystemExit(f"the shadow did not become ready in {timeout_s:g} s")
        card = httpx.get(f"{base}/v1/model", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        in_a_row = in_a_row + 1 if (card.get("shadow") or {}).get("state") == "ready" else 0
        time.sleep(0.1)


def _shadow_outcomes(base: str, uri: str, before: str, after: str, settle_s: float = 20.0) -> dict[str, Any]:
    """What the shadow did with the window's decisions: decided, dropped and failed during it, and how many
    it had decided once the load stopped and it had the cores to itself (until every decision handed to it
    is settled, at most ``settle_s``)."""

    def counts(text: str) -> dict[str, float]:
        return {
            outcome: _metric(text, rf'credit_points_shadow_decisions_total\{{outcome="{outcome}"\}}')
            for outcome in ("decided", "dropped", "failed")
        }

    def settled(now: dict[str, float]) -> float:
        return sum(now.values()) - sum(start.values())

    pattern = r'credit_points_http_requests_total\{method="POST",route="/v1/decisions",status="201"\}'
    start, end = counts(before), counts(after)
    answered = _metric(after, pattern) - _metric(before, pattern)
    waited = time.monotonic()
    latest = end
    while settled(latest) < answered and time.monotonic() - waited < settle_s:
        time.sleep(0.5)
        latest = counts(httpx.get(f"{base}/metrics").text)
    return {
        "uri": uri,
        **{k: int(end[k] - start[k]) for k in end},
        "decided_after": int(latest["decided"] - start["decided"]),
        "decided_after_s": round(time.monotonic() - waited, 1),
    }


def _metric(text: str, pattern: str) -> float:
    total = 0.0
    for match in re.finditer(pattern + r" ([0-9.e+]+)$", text, re.M):
        total += float(match.group(1))
    return total


def _wrk(url: str, script: Path, *, threads: int, connections: int, duration_s: float) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    return result


def _wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path, *, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; stop the run if the server exits or stays down too long."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        if server.poll() is not None:
            raise SystemExit(f"{server.args[0]} exited; see {log}")
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} not up after {timeout_s:g} s: {last}")
        time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes], log: Any, *, timeout_s: float) -> None:
    """SIGTERM (the server drains), then kill if it does not exit in time; close its log."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def _errors(figures: dict[str, Any]) -> int:
    """Every kind of error wrk counted (connect, read, write, timeout, non-2xx status)."""
    return int(
        sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx"))
    )


def _pd_model(args: argparse.Namespace, workdir: Path, *, signature: bool = False) -> tuple[Path, str]:
    """The serving model's booster saved with ``mlflow.lightgbm``, and one request body of its features.

    ``signature``: saved as MLflow recommends, with the signature ``infer_signature`` reads off the features and
    the booster's answer, and an input example, so the server checks every request against that schema.
    """
    import lightgbm as lgb
    import mlflow.lightgbm
    import pandas as pd

    from credit_points.config import Settings
    from credit_points.datasets.record import applicants_to_frame, example_applicant
    from credit_points.pipelines.models import load_engine

    overrides: dict[str, Any] = {}
    if args.home:
        home = Path(args.home).resolve()
        overrides = {"home": home, "tracking_uri": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"}
    settings = Settings(**overrides)
    engine, resolved = load_engine(args.model_uri or settings.model_uri, settings)
    frame = applicants_to_frame([example_applicant()], engine.fields)
    features = engine.features(pd.concat([frame, engine.score_points(frame)], axis=1))
    booster = lgb.Booster(model_file=str(Path(resolved.bundle_dir) / "booster.txt"))
    target = workdir / ("pd-model-signature" if signature else "pd-model")
    columns = booster.feature_name()
    if signature:
        from mlflow.models import infer_signature

        example = pd.DataFrame(features.to_numpy(), columns=columns)
        mlflow.lightgbm.save_model(
            booster,
            path=str(target),
            signature=infer_signature(example, booster.predict(example)),
            input_example=example,
        )
    else:
        mlflow.lightgbm.save_model(booster, path=str(target))
    body = json.dumps({"dataframe_split": {"columns": columns, "data": features.to_numpy().tolist()}})
    return target, body


#: the two ways a team would deploy the same booster with MLflow (``--baselines``)
BASELINES = {
    "bare": "mlflow models serve (mlflow.lightgbm saved bare, PD only, uncalibrated)",
    "signature": "mlflow models serve (logged with infer_signature + input example: schema enforced; PD only)",
}


def run_mlflow_baseline(args: argparse.Namespace, kind: str = "bare") -> dict[str, Any]:
    """``mlflow models serve`` with as many uvicorn workers as ours, answering PD alone for the same booster
    saved ``kind`` (``bare`` or ``signature``), under the same wrk settings."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    model_dir, body = _pd_model(args, workdir, signature=kind == "signature")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    log = (workdir / "mlflow.log").open("wb")
    # mlflow starts `uvicorn` by name: the interpreter's own bin folder must be on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": path}
    server = subprocess.Popen(
        [
            mlflow_cli,
            "models",
            "serve",
            "-m",
            str(model_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--env-manager",
            "local",
            "--workers",
            str(args.workers),
        ],  # fmt: skip
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        _wait_until_up(server, f"{base}/ping", workdir / "mlflow.log", timeout_s=90)
        answer = httpx.post(
            f"{base}/invocations", content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        answer.raise_for_status()
        script = workdir / "invocations.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n" + WRK_DONE,
            encoding="utf-8",
        )
        url = f"{base}/invocations"
        _wrk(url, script, threads=args.threads, connections=args.connections, duration_s=args.warmup)
        time.sleep(1.0)
        figures = _wrk(
            url, script, threads=args.threads, connections=args.connections, duration_s=args.duration
        )
    finally:
        _stop(server, log, timeout_s=30)
    seconds = figures["duration_us"] / 1e6
    errors = _errors(figures)
    return {
        "server": BASELINES[kind],
        "kind": kind,
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": round(seconds, 2),
        "requests": figures["requests"],
        "requests_per_s": round(figures["requests"] / seconds, 1),
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "errors": errors,
        "first_answer": answer.json(),
        "total_s": round(time.monotonic() - started, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, load it, stop it; return the figures."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make sysdeps)")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    audit_url = args.audit_url or f"sqlite:///{workdir / 'audit.db'}"
    env = {
        **os.environ,
        "CREDIT_POINTS_AUDIT_URL": audit_url,
        "CREDIT_POINTS_MAX_CONCURRENCY": str(args.max_concurrency),
    }
    if args.home:
        home = Path(args.home).resolve()
        env["CREDIT_POINTS_HOME"] = str(home)
        env.setdefault("CREDIT_POINTS_TRACKING_URI", f"sqlite:///{home / 'mlruns' / 'mlflow.db'}")
    if args.model_uri:
        env["CREDIT_POINTS_MODEL_URI"] = args.model_uri
    if args.service:
        env["CREDIT_POINTS_SERVICE_FACTORY"] = args.service
    if args.shadow_uri:
        env["CREDIT_POINTS_SHADOW_MODEL_URI"] = args.shadow_uri
    if args.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [str((ROOT / args.pythonpath).resolve()), env.get("PYTHONPATH", "")]
        )
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
    (workdir / "metrics").mkdir()

    from credit_points.audit.keys import ApiKeyStore
    from credit_points.audit.store import AuditStore
    from credit_points.datasets.record import example_applicant

    store = AuditStore(audit_url)
    store.create_schema()
    _, key = ApiKeyStore(store).create("bench", ["decision:write", "decision:read"])

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cli = str(Path(sys.executable).with_name("credit-points"))
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        _wait_until_up(server, f"{base}/readyz", workdir / "server.log", timeout_s=60)
        model_version = httpx.get(f"{base}/readyz", timeout=5).json().get("model_version")
        script = workdir / "post.lua"
        body = json.dumps(example_applicant(), ensure_ascii=False)
        script.write_text(WRK_SCRIPT.replace("__KEY__", key).replace("__BODY__", body), encoding="utf-8")
        budget = MAX_TOTAL_S - (time.monotonic() - started) - 15
        warmup = min(args.warmup, max(1.0, budget / 5))
        duration = min(args.duration, max(1.0, budget - warmup))
        url = f"{base}/v1/decisions"
        if args.shadow_uri:
            _wait_for_shadows(base, key)
        _wrk(url, script, threads=args.threads, connections=args.connections, duration_s=warmup)
        time.sleep(1.0)  # let requests wrk abandoned at the end of the warm-up finish
        rows_before = store.count()
        metrics_before = httpx.get(f"{base}/metrics").text
        figures = _wrk(url, script, threads=args.threads, connections=args.connections, duration_s=duration)
        time.sleep(1.0)  # let requests wrk abandoned at the end finish on the server
        metrics_after = httpx.get(f"{base}/metrics").text
        rows = store.count() - rows_before
        shadow = (
            _shadow_outcomes(base, args.shadow_uri, metrics_before, metrics_after)
            if args.shadow_uri
            else None
        )
    finally:
        _stop(server, log, timeout_s=60)
    pattern = r'credit_points_http_requests_total\{method="POST",route="/v1/decisions",status="201"\}'
    served_201 = _metric(metrics_after, pattern) - _metric(metrics_before, pattern)
    seconds = figures["duration_us"] / 1e6
    errors = _errors(figures)
    batches = _metric(metrics_after, "credit_points_decision_batch_size_count") - _metric(
        metrics_before, "credit_points_decision_batch_size_count"
    )
    batched = _metric(metrics_after, "credit_points_decision_batch_size_sum") - _metric(
        metrics_before, "credit_points_decision_batch_size_sum"
    )
    return {
        "service": env.get("CREDIT_POINTS_SERVICE_FACTORY")
        or "credit_points.pipelines.engine_service:create_service",
        "model_version": model_version,
        "audit_store": store.dialect,
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": round(seconds, 2),
        "requests": figures["requests"],
        "requests_per_s": round(figures["requests"] / seconds, 1),
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "errors": errors,
        "mean_batch": round(batched / batches, 2) if batches else None,
        "responses_201": int(served_201),
        "audit_rows": rows,
        "audit_rows_equal_201": rows == int(served_201),
        "chain_ok": store.verify().ok,
        "shadow": shadow,
        "total_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=20.0, help="measured seconds (capped so the run stays < 2 min)"
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--max-concurrency", type=int, default=64, help="the server's concurrency limit")
    parser.add_argument("--service", default=None, help="'module:callable' building the DecisionService")
    parser.add_argument(
        "--pythonpath", default=None, help="folder (relative to the repo) to put on PYTHONPATH"
    )
    parser.add_argument("--audit-url", default=None, help="audit store URL (default: a fresh SQLite file)")
    parser.add_argument("--home", default=None, help="home of the trained model (default CREDIT_POINTS_HOME)")
    parser.add_argument("--model-uri", default=None, help="model to serve (default CREDIT_POINTS_MODEL_URI)")
    parser.add_argument(
        "--shadow-uri",
        default=None,
        help="a challenger deciding every request again in shadow (CREDIT_POINTS_SHADOW_MODEL_URI)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the `mlflow models serve` baselines (e.g. with --service)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with --shadow-uri: alternating runs without and with the shadow, compared by their medians",
    )
    args = parser.parse_args(argv)
    shadow_cost = None
    if args.shadow_uri:
        plain, shadowed = [], []
        for _ in range(max(args.rounds, 1)):
            plain.append(run(argparse.Namespace(**{**vars(args), "shadow_uri": None})))
            shadowed.append(run(args))
        figures, shadow_cost = _shadow_cost(plain, shadowed)
    else:
        figures = run(args)
    baselines = {} if args.no_baseline else {kind: run_mlflow_baseline(args, kind) for kind in BASELINES}
    result = {
        "api": figures,
        "shadow_cost": shadow_cost,
        "mlflow_serve": baselines.get("bare"),
        "mlflow_serve_signature": baselines.get("signature"),
        "targets": TARGETS,
        "checks": _checks(figures, baselines),
    }
    if shadow_cost is not None:
        result["checks"][
            f"shadow: p50 <= {SHADOW_P50_RATIO_MAX:g}x without ({shadow_cost['p50_ratio']:.2f}x)"
        ] = shadow_cost["p50_ratio"] <= SHADOW_P50_RATIO_MAX
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"POST /v1/decisions  service={figures['service']}  store={figures['audit_store']}  "
        f"workers={figures['workers']}  connections={figures['connections']}  {figures['duration_s']} s"
    )
    print(
        f"  {figures['requests_per_s']} requests/s   p50 {figures['p50_ms']:.2f} ms   p95 {figures['p95_ms']:.2f} ms   "
        f"p99 {figures['p99_ms']:.2f} ms   max {figures['max_ms']:.2f} ms   "
        f"mean micro-batch {figures['mean_batch']}"
    )
    print(
        f"  errors {figures['errors']}   201 responses {figures['responses_201']}   audit rows {figures['audit_rows']}   "
        f"equal: {figures['audit_rows_equal_201']}   chain verifies: {figures['chain_ok']}"
    )
    if figures.get("shadow"):
        shadow = figures["shadow"]
        print(
            f"  shadow {shadow['uri']}: during the run decided {shadow['decided']}, dropped {shadow['dropped']}, "
            f"failed {shadow['failed']}; {shadow['decided_after_s']} s after it decided {shadow['decided_after']}"
        )
    if shadow_cost is not None:
        print(
            f"  without the shadow (median of {shadow_cost['rounds']} alternating rounds): "
            f"{shadow_cost['without']['requests_per_s']} requests/s   p50 {shadow_cost['without']['p50_ms']:.2f} ms   "
            f"p99 {shadow_cost['without']['p99_ms']:.2f} ms"
        )
        print(
            f"  with it: {shadow_cost['with']['requests_per_s']} requests/s   p50 {shadow_cost['with']['p50_ms']:.2f} ms   "
            f"p99 {shadow_cost['with']['p99_ms']:.2f} ms   ratios: throughput {shadow_cost['throughput_ratio']:.2f}x   "
            f"p50 {shadow_cost['p50_ratio']:.2f}x   p99 {shadow_cost['p99_ratio']:.2f}x"
        )
    for baseline in baselines.values():
        print(
            f"{baseline['server']}  workers={baseline['workers']}  connections={baseline['connections']}  "
            f"{baseline['duration_s']} s"
        )
        print(
            f"  {baseline['requests_per_s']} requests/s   p50 {baseline['p50_ms']:.2f} ms   "
            f"p95 {baseline['p95_ms']:.2f} ms   p99 {baseline['p99_ms']:.2f} ms   errors {baseline['errors']}   "
            f"ours / it: {figures['requests_per_s'] / max(baseline['requests_per_s'], 1e-9):.2f}x"
        )
    for name, ok in result["checks"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print("RESULT " + json.dumps(result, separators=(",", ":")))


def _shadow_cost(
    plain: list[dict[str, Any]], shadowed: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shadowed run to report (the median one by throughput) and what the shadow cost: medians of the
    alternating runs without and with it, and their ratios (with / without)."""
    import statistics

    keys = ("requests_per_s", "p50_ms", "p99_ms")
    without = {k: round(statistics.median(r[k] for r in plain), 2) for k in keys}
    with_ = {k: round(statistics.median(r[k] for r in shadowed), 2) for k in keys}
    report = sorted(shadowed, key=lambda r: r["requests_per_s"])[len(shadowed) // 2]
    cost = {
        "rounds": len(plain),
        "without": without,
        "with": with_,
        "throughput_ratio": round(with_["requests_per_s"] / max(without["requests_per_s"], 1e-9), 3),
        "p50_ratio": round(with_["p50_ms"] / max(without["p50_ms"], 1e-9), 3),
        "p99_ratio": round(with_["p99_ms"] / max(without["p99_ms"], 1e-9), 3),
        "runs": [
            {"without": {k: r[k] for k in keys}, "with": {k: s[k] for k in keys}}
            for r, s in zip(plain, shadowed, strict=True)
        ],
    }
    return report, cost


def _checks(api: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, bool]:
    checks = {
        f"p50 <= {TARGETS['p50_ms_max']:g} ms": api["p50_ms"] <= TARGETS["p50_ms_max"],
        f"p99 <= {TARGETS['p99_ms_max']:g} ms": api["p99_ms"] <= TARGETS["p99_ms_max"],
        "zero errors": api["errors"] == 0,
        "audit rows == 201 responses": bool(api["audit_rows_equal_201"]) and bool(api["chain_ok"]),
    }
    for kind, least in (("signature", TARGETS["vs_signature_min"]), ("bare", TARGETS["vs_bare_min"])):
        if kind not in baselines:
            continue
        ratio = api["requests_per_s"] / max(baselines[kind]["requests_per_s"], 1e-9)
        api[f"throughput_vs_mlflow_{kind}"] = round(ratio, 2)
        checks[f"throughput >= {least:g}x mlflow serve, {kind}, same workers ({ratio:.2f}x)"] = ratio >= least
    return checks


if __name__ == "__main__":
    main()
