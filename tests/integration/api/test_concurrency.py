"""Decisions from many threads at once (and the API's micro-batches) equal the same decisions made one by one."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from credit_points.config import Settings
from credit_points.pipelines.engine_service import EngineService

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


def test_the_shadow_parts_equal_those_of_the_full_records(trained_model) -> None:
    from credit_points.audit.shadow import record_parts
    from credit_points.exceptions import DataValidationError

    # given the engine service and applicants of every outcome
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    service = EngineService(settings, model_uri=f"models:/credit-points/{trained_model.version}")
    applicants = applicant_dicts(trained_model.applicants, 64, seed=11)
    records = service.decide(applicants)
    assert {r["decision"] for r in records} >= {"approve", "decline"}
    # when a shadow decides them the cheap way (no explanations, no records)
    parts = service.shadow_parts(applicants)
    # then it has exactly the figures the full decision records: PD to the bit, grade, product, limit
    assert parts == [record_parts(r) for r in records]
    assert [float(p["prob_default"]).hex() for p in parts] == [
        float(r["risk"]["prob_default"]).hex() for r in records
    ]
    # and an applicant from a zone the model does not know is refused the same way, naming the field
    stranger = {**applicants[0], "zone": "atlantis"}
    with pytest.raises(DataValidationError) as full:
        service.decide([stranger])
    with pytest.raises(DataValidationError) as cheap:
        service.shadow_parts([stranger])
    assert str(cheap.value) == str(full.value) and "zone" in str(cheap.value)


def _metric_total(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def test_concurrent_requests_decided_in_micro_batches_equal_requests_decided_alone(
    server, applicants
) -> None:
    # given 24 applicants, each first decided alone (one request at a time: a batch of one each)
    client = server.client()
    chosen = applicants[:24]
    alone = []
    for applicant in chosen:
        response = client.post("/v1/decisions", json=applicant, headers=server.headers())
        assert response.status_code == 201, response.text
        alone.append(response.json()["record"])
    before = client.get("/metrics").text

    # when the same applicants arrive again from 12 threads at once, three times over
    def post(applicant: dict) -> dict:
        with httpx.Client(base_url=server.base, timeout=60) as own:
            answer = own.post("/v1/decisions", json=applicant, headers=server.headers())
        assert answer.status_code == 201, answer.text
        return answer.json()["record"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        together = list(pool.map(post, chosen * 3))
    after = client.get("/metrics").text

    # then the workers decided several requests per engine call ...
    batches = _metric_total(after, "credit_points_decision_batch_size_count") - _metric_total(
        before, "credit_points_decision_batch_size_count"
    )
    requests = _metric_total(after, "credit_points_decision_batch_size_sum") - _metric_total(
        before, "credit_points_decision_batch_size_sum"
    )
    assert requests == len(together) and batches < requests
    # ... and every record equals the one decided alone, byte for byte
    assert [json.dumps(r, sort_keys=True) for r in together] == [
        json.dumps(r, sort_keys=True) for r in alone * 3
    ]
