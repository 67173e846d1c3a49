"""Decisions from 32 threads at once are bit-identical to the same decisions made one after another."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from credit_points.config import Settings
from credit_points.pipelines.service import EngineService

from .conftest import applicant_dicts

pytestmark = pytest.mark.slow

THREADS = 32
ROUNDS = 8


def _essentials(record: dict) -> tuple:
    """PD (exact bits), limit, decision and reason codes of one record."""
    return (
        float(record["risk"]["prob_default"]).hex(),
        float(record["risk"]["raw_score"]).hex(),
        record["limit"]["limit"],
        record["decision"],
        json.dumps(record["reason_codes"], sort_keys=True),
    )


def test_32_threads_give_bit_identical_decisions_to_sequential(trained_model) -> None:
    # given the engine service on the trained model and 48 real applicants, some declined
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    service = EngineService(settings, model_uri=f"models:/credit-points/{trained_model.version}")
    applicants = applicant_dicts(trained_model.applicants, 48, seed=3)
    # (a batch decides its rows together, so a batch is compared with the same batch decided alone)
    n = len(applicants)
    jobs = [(i % n,) if i % 4 else (i % n, (i + 1) % n, (i + 7) % n) for i in range(THREADS * ROUNDS)]
    sequential = {job: service.decide([applicants[j] for j in job]) for job in dict.fromkeys(jobs)}
    assert len({r["decision"] for records in sequential.values() for r in records}) >= 2  # several outcomes

    # when 32 threads decide them all at once, singly and in small batches
    def decide(job: tuple[int, ...]) -> list[dict]:
        return service.decide([applicants[j] for j in job])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(decide, jobs))

    # then every record equals its sequential twin: PD and raw score to the bit, limit, decision, reasons
    assert len(results) == THREADS * ROUNDS
    for job, records in zip(jobs, results, strict=True):
        assert [_essentials(r) for r in records] == [_essentials(r) for r in sequential[job]], job
        assert records == sequential[job]


def test_a_row_decided_in_a_batch_replays_identically(trained_model) -> None:
    from credit_points.audit.replay import diff_records

    # given three applicants decided together, as the batch endpoint does
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    service = EngineService(settings, model_uri=f"models:/credit-points/{trained_model.version}")
    batch = service.decide(applicant_dicts(trained_model.applicants, 3, seed=5))
    # when each row is replayed (alone, from its stored input and pinned artifacts)
    differences = [diff_records(record, service.replay(record)) for record in batch]
    # then nothing differs: no field of a record depends on the other rows of its request
    assert differences == [[], [], []]
