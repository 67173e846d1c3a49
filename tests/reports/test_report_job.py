"""The report job: JSON-lines records or scored rows in, report files out, in parallel, from the command line."""

from __future__ import annotations

import json

import pytest

from credit_points.exceptions import DataValidationError, ModelError
from credit_points.pipelines.report import load_decisions, record_key, render_batch, select_records
from credit_points.reports.loan import render_report


@pytest.fixture(scope="module")
def jsonl(decided, tmp_path_factory):
    """Three records as the API returns them, and two as audit envelopes."""
    path = tmp_path_factory.mktemp("jsonl") / "decisions.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in decided.records[:3]]
    for k, r in enumerate(decided.records[3:5]):
        lines.append(
            json.dumps({"decision_id": f"{k:032x}", "created_at": "2026-01-0{k + 1}T00:00:00Z", "record": r})
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_records_and_envelopes_are_read(jsonl, decided):
    # when the file is read
    records = load_decisions(jsonl)
    # then records come back as written, envelopes with their audit id and time
    assert [r["input_sha256"] for r in records] == [r["input_sha256"] for r in decided.records[:5]]
    assert records[3]["audit"]["decision_id"] == f"{0:032x}"
    assert record_key(records[4]) == f"{1:032x}"
    assert record_key(records[0]) == f"{records[0]['firm_id']}_{records[0]['as_of_date']}"


def test_selection_by_decision_id_and_firm_id(jsonl):
    records = load_decisions(jsonl)
    picked = select_records(records, [f"{1:032x}", records[0]["firm_id"]])
    assert [r["input_sha256"] for r in picked] == [records[4]["input_sha256"], records[0]["input_sha256"]]
    with pytest.raises(DataValidationError, match="decision_id"):
        select_records(records, ["nope"])


def test_scored_rows_rebuild_the_same_records(trained_model, decided, tmp_path):
    # given the decisions file `credit-points score` writes for some applicants
    from credit_points.pipelines.score import score_file

    applicants = tmp_path / "applicants.parquet"
    decided.frame.head(12)[list(decided.engine.fields.input_names)].to_parquet(applicants)
    scored = tmp_path / "scored.parquet"
    score_file(decided.engine, applicants, scored)
    # when records are rebuilt from it with the same engine
    records = load_decisions(scored, decided.engine)
    # then they carry the decided numbers exactly (and contributions for every row)
    import pandas as pd

    frame = pd.read_parquet(scored)
    ranks = ("rank_zone", "rank_stage")
    for k, (rebuilt, original) in enumerate(zip(records, decided.records[:12], strict=True)):
        assert rebuilt["limit"] == original["limit"]
        assert {a: b for a, b in rebuilt["points"].items() if a not in ranks} == {
            a: b for a, b in original["points"].items() if a not in ranks
        }
        # ranks are positions in the batch that was scored: the file's, not a new batch's
        assert [rebuilt["points"][r] for r in ranks] == [int(frame[r].iloc[k]) for r in ranks]
        assert rebuilt["risk"]["prob_default"] == original["risk"]["prob_default"]
        assert rebuilt["risk"]["contributions"] is not None
        # and the firm's name, so a report written from the file names the firm
        assert rebuilt["input"]["name"] == original["input"]["name"]
    assert any(r["input"]["name"] for r in records)
    # and a file whose numbers the engine does not reproduce is refused, naming the row and column
    frame.loc[2, "limit"] = frame.loc[2, "limit"] + 100000
    tampered = tmp_path / "tampered.parquet"
    frame.to_parquet(tampered)
    with pytest.raises(ModelError, match="row 3 .*limit"):
        load_decisions(tampered, decided.engine)


def test_unknown_file_types_are_refused(tmp_path):
    path = tmp_path / "decisions.xlsx"
    path.write_text("x")
    with pytest.raises(DataValidationError, match="file type"):
        load_decisions(path)


def test_parallel_batch_equals_one_by_one(trained_model, decided, tmp_path):
    # given three records and the verified bundle folder of the session's model
    from credit_points.pipelines.models import load_engine

    records = decided.records[:3]
    _, resolved = load_engine(f"models:/credit-points/{trained_model.version}")
    # when rendered by two worker processes that each load that bundle
    batch = render_batch(records, tmp_path, formats=("html", "json"), langs=("zh", "en"),
                         model_uri=resolved.bundle_dir, workers=2)  # fmt: skip
    # then every file is written and equals the report rendered here with the session engine
    assert batch.failed == []
    assert len(batch.paths) == 3 * 2 * 2
    for record in records:
        for lang in ("zh", "en"):
            for fmt in ("html", "json"):
                path = tmp_path / f"{record_key(record)}.{lang}.{fmt}"
                assert path.read_bytes() == render_report(record, decided.engine, fmt, lang)


def test_cli_writes_reports(trained_model, jsonl, tmp_path):
    from credit_points.cli import main

    out = tmp_path / "out"
    main(["report", "--decisions", str(jsonl), "--out", str(out), "--format", "html,json", "--lang", "en",
          "--decision-id", f"{0:032x}", "--model", "models:/credit-points@challenger", "--workers", "1"])  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [f"{0:032x}.en.html", f"{0:032x}.en.json"]
    body = json.loads((out / f"{0:032x}.en.json").read_text(encoding="utf-8"))
    assert body["report"]["header"]["decision_id"] == f"{0:032x}"


def test_cli_refuses_a_bad_format(jsonl, tmp_path):
    from credit_points.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", "--decisions", str(jsonl), "--out", str(tmp_path), "--format", "docx",
              "--model", "models:/credit-points@challenger"])  # fmt: skip
    assert exc.value.code == 2
