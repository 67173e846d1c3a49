"""Benchmark of ``policy simulate``: 100,000 applicants decided under the policy in force and a proposed one.

Run: ``.venv/bin/python benchmarks/bench_policy_simulate.py [--rows N] [--json]``. Prints a table and, last,
one line ``RESULT {json}``.

In one process, on one file and one model (trained here on a generated panel, as ``bench_engine.py`` does):

1. reading and validating the file as ``score`` does (``read_applicants``), the part every run pays;
2. the simulation (``simulate_policy``: points and PD once, the policy twice, the comparison tables) with
   科技贷's cap lowered to 5 M;
3. the baseline in the same process: ``engine.decide(frame, explain="none")`` once — one decision of every
   applicant under one policy, the least a simulation could cost. The ratio says what the second policy
   and the comparison add. Target: the whole command (1 + 2) well under a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import build_model, write_inputs  # noqa: E402


def run(rows: int, work: Path) -> dict[str, Any]:
    from credit_points.bundle import load_bundle
    from credit_points.pipelines.policy_sim import load_proposed_policy, read_applicants, simulate_policy

    bundle = build_model(work, n_firms=3000, seed=5)
    data = write_inputs(work, [rows], seed=5)[rows]
    engine = load_bundle(bundle)
    engine.set_threads(2)
    overlay = work / "keji-5m.yaml"
    overlay.write_text("version: 1.1.0\nproduct_overrides:\n  keji_dai: {cap: 5000000}\n", encoding="utf-8")
    proposed = load_proposed_policy(overlay, engine.policy)
    out: dict[str, Any] = {"rows": rows}
    start = time.perf_counter()
    frame, errors = read_applicants(engine, data)
    out["read_validate_s"] = time.perf_counter() - start
    out["refused"] = len(errors)
    start = time.perf_counter()
    engine.decide(frame, explain="none")
    out["decide_once_s"] = time.perf_counter() - start
    start = time.perf_counter()
    simulation = simulate_policy(engine, proposed, frame)
    out["simulate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    simulation.write(work / "out")
    out["write_s"] = time.perf_counter() - start
    out["changed_firms"] = simulation.headline["changed_firms"]
    out["command_s"] = out["read_validate_s"] + out["simulate_s"] + out["write_s"]
    out["simulate_over_decide_once"] = out["simulate_s"] / out["decide_once_s"]
    out["target_met"] = out["command_s"] < 60.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-policy-") as tmp:
        result = run(args.rows, Path(tmp))
    if not args.json:
        print(f"policy simulate, {result['rows']:,} applicants ({result['refused']:,} refused), 2 threads")
        print(f"  read and validate        {result['read_validate_s']:7.2f} s")
        print(
            f"  simulate (both policies) {result['simulate_s']:7.2f} s   {result['changed_firms']:,} firms changed"
        )
        print(f"  write the tables         {result['write_s']:7.2f} s")
        print(
            f"  the command's work       {result['command_s']:7.2f} s   target < 60 s: {result['target_met']}"
        )
        print(
            f"  baseline: decide once   {result['decide_once_s']:7.2f} s   "
            f"simulate / decide once {result['simulate_over_decide_once']:.2f}x"
        )
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
