"""A bundle saved by the release before catalogue 1.1.0 (fields 1.0.0) still loads, decides and replays.

``bundles/fields-1.0.0`` was trained and saved by that release (1,200 generated firms, seed 3). It pins
the catalogue it was trained with, without text lengths or cross-field rules.
"""

from __future__ import annotations

import json
from pathlib import Path

from credit_points.bundle import load_bundle
from credit_points.datasets.fields import load_fields
from credit_points.datasets.record import build_applicant_model
from credit_points.records import decide_records

BUNDLE = Path(__file__).parent / "bundles" / "fields-1.0.0"


def _inputs() -> list[dict]:
    return json.loads((BUNDLE / "golden.json").read_text(encoding="utf-8"))["inputs"]


def test_the_earlier_bundle_loads_with_its_hashes_and_golden_predictions() -> None:
    # load_bundle verifies every file's SHA-256 and re-predicts the bundle's golden rows
    engine = load_bundle(BUNDLE)
    assert engine.fields.version == "1.0.0" and engine.fields.rules == ()
    assert load_fields().version != engine.fields.version


def test_the_earlier_bundle_decides_what_todays_api_accepts_and_replays_it_exactly() -> None:
    # given applicants the bundle saw, validated as today's API validates them
    engine = load_bundle(BUNDLE)
    model = build_applicant_model()
    applicants = [model.model_validate(a).model_dump(mode="json") for a in _inputs()[:10]]
    # when the earlier model decides them, and then replays each from its stored input
    records = decide_records(engine, applicants)
    replayed = [decide_records(engine, [r["input"]])[0] for r in records]
    # then each decision is made, and its replay is the same record
    assert {r["decision"] for r in records} <= {"approve", "refer", "decline"}
    assert [r["configs"]["fields"]["version"] for r in records] == ["1.0.0"] * 10
    assert replayed == records


def test_the_earlier_bundle_is_evaluated_on_every_firm_of_its_window_and_says_so(tmp_path: Path) -> None:
    from rich.console import Console

    from credit_points.config import Settings
    from credit_points.pipelines.evaluate import run_evaluate
    from credit_points.pipelines.generate import write_panel

    # given the panel it was trained on; the bundle predates training_firms.json
    assert not (BUNDLE / "training_firms.json").exists()
    paths = write_panel(tmp_path / "raw", n_firms=1200, years=(2019, 2024), seed=3)
    console = Console(record=True, width=200)
    # when it is evaluated on its OOT window
    evaluation = run_evaluate(
        str(BUNDLE), paths["applicants"], settings=Settings(home=tmp_path), console=console
    )
    # then every firm of the window counts, and the printed line says so
    assert evaluation.rows is not None and evaluation.rows["firms"] == "all"
    assert evaluation.rows["seen_firm_rows_left_out"] == 0 and evaluation.rows["window"][0] >= "2024-01-01"
    printed = console.export_text()
    assert f"{int(evaluation.pack['metrics']['n']):,} rows 2024-" in printed and "all firms" in printed


def test_the_earlier_bundle_keeps_the_model_configuration_hashes_it_recorded() -> None:
    # a setting added since and left at its default (the PD selection's linear candidate) must not change
    # the hash its decisions recorded
    engine = load_bundle(BUNDLE)
    pinned = json.loads((BUNDLE / "model_card.json").read_text(encoding="utf-8"))["configs"]
    for kind in ("pd_model", "points", "policy"):
        assert engine.versions[kind]["hash"] == pinned[kind]["hash"], kind
