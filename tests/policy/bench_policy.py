"""Throughput of the policy and reason-code layer on a synthetic portfolio (run by hand, not by pytest).

Usage: ``.venv/bin/python tests/policy/bench_policy.py [n_rows]`` (default 1,000,000). Prints rows/s of
``apply_policy`` and ``reason_codes`` on the batch, and the CPU time per call for one applicant alone.
The portfolio is random around the test firm of ``frames.py``; contributions are random per family.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _frames() -> Any:
    spec = importlib.util.spec_from_file_location("bench_frames", Path(__file__).with_name("frames.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def portfolio(n: int, codes: Any, seed: int = 0) -> pd.DataFrame:
    """A random policy-input frame of ``n`` applicants."""
    frames = _frames()
    rng = np.random.default_rng(seed)
    frame = frames.make_frame([{}]).loc[np.zeros(n, dtype=int)].reset_index(drop=True)
    frame["revenue"] = rng.lognormal(16, 1.2, n)
    frame["rd_expense"] = frame["revenue"] * rng.uniform(0, 0.12, n)
    frame["tax_paid"] = frame["revenue"] * rng.uniform(0, 0.08, n)
    frame["points_total"] = rng.uniform(20, 130, n)
    frame["prob_default"] = np.clip(rng.lognormal(-4, 1, n), 0.0003, 0.9)
    frame["grade"] = pd.array(frames.grade_for(frame["prob_default"]), dtype="str")
    frame["veto"] = rng.random(n) < 0.02
    frame["veto_reasons"] = pd.array(np.where(frame["veto"], "tax_grade_d", ""), dtype="str")
    frame["rank_zone"] = rng.integers(1, 5000, n).astype(float)
    frame["existing_bank_debt"] = rng.uniform(0, 5e6, n)
    frame["existing_unsecured_debt"] = frame["existing_bank_debt"] * rng.uniform(0, 1, n)
    frame["stage"] = pd.array(
        rng.choice(["seed", "sapling", "growth", "expansion", "mature"], n), dtype="str"
    )
    for feature in codes.feature_family:
        frame[f"contrib_{feature}"] = rng.normal(0, 0.1, n)
    return frame


def main(n: int) -> None:
    from credit_points.explain.config import load_reason_codes
    from credit_points.explain.reasons import adverse_outcome, reason_codes
    from credit_points.policy.config import load_policy
    from credit_points.policy.decision import apply_policy

    policy, codes = load_policy(), load_reason_codes()
    frame = portfolio(n, codes)
    start = time.perf_counter()
    decisions = apply_policy(frame, policy)
    policy_s = time.perf_counter() - start
    joined = frame.join(decisions)
    start = time.perf_counter()
    reason_codes(joined, policy, codes)
    reasons_s = time.perf_counter() - start
    adverse = adverse_outcome(decisions, policy).mean()
    print(f"rows {n:,}: apply_policy {policy_s:.2f} s ({n / policy_s:,.0f} rows/s); "
          f"reason_codes {reasons_s:.2f} s ({n / reasons_s:,.0f} rows/s; adverse share {adverse:.1%})")  # fmt: skip

    one, one_joined = frame.iloc[[0]], joined.iloc[[0]]
    for name, call in (
        ("apply_policy", lambda: apply_policy(one, policy)),
        ("reason_codes", lambda: reason_codes(one_joined, policy, codes)),
    ):
        call()
        times = []
        for _ in range(300):
            start = time.process_time()
            call()
            times.append(time.process_time() - start)
        print(
            f"one applicant, {name}: CPU median {np.median(times) * 1e3:.2f} ms, mean {np.mean(times) * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
