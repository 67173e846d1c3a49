"""The model moves under a running server: reload under load, a refused bad bundle, replay after the champion
alias moved and the server restarted, and a tampered audit row named by ``credit-points audit verify``.

The tests run in order on one server and share the module's story: champion = the session's trained
version (v1); decisions; a second version (v2, trained on a subset of the firms) becomes champion; reload
under load; a tampered bundle is refused; restart; replay of the v1 decisions; tampering.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from credit_points.audit.store import AuditStore
from credit_points.config import Settings
from credit_points.tracking.registry import fetch_model, set_alias
from credit_points.tracking.setup import configure_tracking

from .conftest import Server, applicant_dicts, server_env, start_server, wait_ready

# a story told in order: make test runs each file on one xdist worker (--dist loadfile)
pytestmark = pytest.mark.slow


class Story:
    """What the module's tests hand on to each other."""

    server: Server
    v1: str
    v2: str = ""
    decided_v1: list[dict[str, Any]]
    applicants: list[dict[str, Any]]


@pytest.fixture(scope="module")
def story(trained_model: Any, module_dir: Path) -> Any:
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    configure_tracking(settings)
    set_alias(settings.registry_model_name, "champion", trained_model.version)
    env = server_env(
        trained_model,
        f"sqlite:///{module_dir / 'audit.db'}",
        CREDIT_POINTS_MODEL_URI="models:/credit-points@champion",
    )
    state = Story()
    state.v1 = trained_model.version
    state.applicants = applicant_dicts(trained_model.applicants, 24, seed=7)
    state.server = start_server(module_dir / "server", env)
    assert wait_ready(state.server).status_code == 200
    yield state
    state.server.stop()


def _post(server: Server, applicant: dict[str, Any], client: httpx.Client | None = None) -> httpx.Response:
    return (client or httpx).post(
        f"{server.base}/v1/decisions", json=applicant, headers=server.headers(), timeout=60
    )


def _wait_for(condition: Any, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the load loop stopped answering")
        time.sleep(0.05)


def test_decisions_under_v1(story: Any) -> None:
    story.decided_v1 = []
    for applicant in story.applicants[:6]:
        response = _post(story.server, applicant)
        assert response.status_code == 201, response.text
        assert response.json()["model_version"] == story.v1
        story.decided_v1.append(response.json())


def test_second_version_becomes_champion(story: Any, trained_model: Any, module_dir: Path) -> None:
    from credit_points.pipelines.train import run_train

    # given a second model trained on 70 % of the firms (so its booster differs), registered without
    # touching the session's challenger alias
    frame = trained_model.applicants
    keep = frame["firm_id"].map(lambda code: zlib.crc32(str(code).encode()) % 10 < 7)
    data = module_dir / "data-v2"
    data.mkdir()
    frame[keep].to_parquet(data / "applicants.parquet", index=False)
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    outcome = run_train(data, alias="api-lifecycle-v2", settings=settings)
    assert outcome.version != story.v1 and outcome.artifact_hash != trained_model.artifact_hash
    # when the champion alias moves to it
    configure_tracking(settings)
    set_alias(settings.registry_model_name, "champion", outcome.version)
    story.v2 = outcome.version
    # then the running server still serves v1 until reloaded (serving never calls the registry per request)
    assert _post(story.server, story.applicants[6]).json()["model_version"] == story.v1


def test_reload_under_load_has_no_5xx_and_each_answer_names_one_version(story: Any) -> None:
    server = story.server
    stop = threading.Event()
    answers: list[tuple[int, str | None, str | None, str | None]] = []
    lock = threading.Lock()

    def load(worker: int) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(400):  # bounded: stops on the event or after 400 requests per thread
                if stop.is_set():
                    return
                response = _post(server, story.applicants[(worker * 5 + i) % len(story.applicants)], client)
                body = (
                    response.json()
                    if response.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                record_version = (body.get("record") or {}).get("model", {}).get("version")
                with lock:
                    answers.append(
                        (
                            response.status_code,
                            response.headers.get("X-Model-Version"),
                            body.get("model_version"),
                            record_version,
                        )
                    )

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        # when the server reloads the champion alias while the requests run
        _wait_for(lambda: len(answers) >= 20)
        reload = httpx.post(f"{server.base}/admin/reload", headers=server.headers(), timeout=120)
        assert reload.status_code == 200, reload.text
        assert reload.json()["previous"]["version"] == story.v1
        assert reload.json()["current"]["version"] == story.v2
        after = len(answers)
        _wait_for(lambda: len(answers) >= after + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    # then no 5xx, and every answer names one version, the same in header, body and record
    statuses = Counter(status for status, *_ in answers)
    assert set(statuses) == {201}, statuses
    for _, header, body_version, record_version in answers:
        assert header == body_version == record_version
        assert header in {story.v1, story.v2}
    seen = {header for _, header, *_ in answers}
    assert seen == {story.v1, story.v2}
    # and from now on v2 decides
    assert _post(server, story.applicants[0]).json()["model_version"] == story.v2


def test_a_bundle_folder_is_refused_before_any_swap_and_the_old_model_keeps_serving(
    story: Any, trained_model: Any, tmp_path: Path
) -> None:
    # given a copy of v2's verified bundle in a folder (untampered: still not a registry version) and a
    # tampered one
    resolved = fetch_model(f"models:/credit-points/{story.v2}", trained_model.home / "models")
    intact, tampered = tmp_path / "intact", tmp_path / "tampered"
    shutil.copytree(resolved.bundle_dir, intact)
    shutil.copytree(resolved.bundle_dir, tampered)
    policy = json.loads((tampered / "policy.json").read_text())
    policy["version"] = "9.9.9-tampered"
    (tampered / "policy.json").write_text(json.dumps(policy))
    for bundle in (intact, tampered):
        # when the server is asked to load it
        response = httpx.post(
            f"{story.server.base}/admin/reload",
            json={"model_uri": str(bundle)},
            headers=story.server.headers(),
            timeout=120,
        )
        # then refused (decisions it made would pin version "local", which replay cannot load), and v2
        # keeps deciding
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "reload_refused"
        assert "only registry versions serve" in response.json()["message"]
        assert _post(story.server, story.applicants[1]).json()["model_version"] == story.v2


def test_after_restart_v1_decisions_replay_exactly_with_v1(story: Any, module_dir: Path) -> None:
    # given the server restarted (it now resolves champion to v2 on start-up)
    env = story.server.env
    key = story.server.key
    story.server.stop()
    story.server = start_server(module_dir / "server-restarted", env, key=False)
    story.server.key = key
    assert wait_ready(story.server).json()["model_version"] == story.v2
    # and v2 decides the first applicant differently from the stored v1 decision
    fresh = _post(story.server, story.applicants[0]).json()
    stored = story.decided_v1[0]["record"]
    assert fresh["record"]["risk"]["prob_default"] != stored["risk"]["prob_default"]
    for decided in story.decided_v1[:2]:  # each replay is a fresh process (~5-10 s): two are enough
        # when a v1 decision is replayed from the CLI
        result = story.server.cli("audit", "replay", decided["decision_id"])
        # then it is re-decided by v1's pinned artifacts: PD within 1e-12, everything else exact
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"decision {decided['decision_id']} replays identically" in result.stdout
    # and a v2 decision replays too (the cache holds both)
    result = story.server.cli("audit", "replay", fresh["decision_id"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_audit_verify_names_the_first_altered_row(story: Any) -> None:
    server = story.server
    ok = server.cli("audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("ok: "), ok.stdout + ok.stderr
    store = AuditStore(server.audit_url)
    target = store.get(story.decided_v1[2]["decision_id"])
    later = store.get(story.decided_v1[4]["decision_id"])
    table = store.log.name
    # given someone with database rights who edits a stored PD (and another later row)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
        for row in (target, later):
            pd_text = repr(row.record["risk"]["prob_default"])
            conn.exec_driver_sql(
                f"UPDATE {table} SET record_json = replace(record_json, ?, ?) WHERE seq = ?",
                (pd_text, repr(row.record["risk"]["prob_default"] / 2), row.seq),
            )
    store.dispose()
    # when the chain is verified
    bad = server.cli("audit", "verify")
    # then it fails naming the first altered row
    assert bad.returncode == 1
    assert f"seq {target.seq} (decision {target.decision_id})" in bad.stderr
