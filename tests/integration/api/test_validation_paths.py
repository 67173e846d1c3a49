"""One bad row, three paths, one answer: the API, ``score`` and ``score --engine dask`` refuse it alike.

The value rules live once (``datasets.rules``), so the same bad value gets the same field and reason over
HTTP (422), in the errors file of a local ``credit-points score`` and in that of a Dask run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets import uscc

from ..cli import run_cli

pytestmark = pytest.mark.slow

# each case breaks exactly one rule of the catalogue
CASES: dict[str, dict[str, Any]] = {
    "negative_revenue": {"revenue": -5.0},
    "bank_debt_above_liabilities": {"existing_bank_debt": 5e7, "total_liabilities": 6e6,
                                    "existing_unsecured_debt": 0.0},
    "impossible_loss": {"net_profit": -9e11},
    "huge_money": {"existing_bank_debt": 1e300, "total_liabilities": 1e300},
    "long_name": {"name": "名" * 201},
    "rd_above_revenue": {"rd_expense": 9e9, "revenue": 1e9},
    "future_decision_date": {"as_of_date": "2099-01-01"},
}  # fmt: skip


def _bad_applicants(applicants: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    codes = uscc.generate_codes(len(CASES), np.random.default_rng(99))
    for (name, changes), base, code in zip(CASES.items(), applicants[10:], codes, strict=False):
        out[name] = {**base, "firm_id": code, **changes}
    return out


@pytest.fixture(scope="module")
def file_errors(
    trained_model: Any, applicants: list[dict[str, Any]], tmp_path_factory: Any
) -> dict[str, Any]:
    """The errors file of the bad rows (plus one good row) scored locally and with Dask."""
    tmp = tmp_path_factory.mktemp("paths")
    bad = _bad_applicants(applicants)
    rows = [*bad.values(), applicants[0]]
    src = tmp / "applicants.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    found = {}
    for engine in ("local", "dask"):
        out, errors = tmp / f"decided-{engine}.parquet", tmp / f"errors-{engine}.csv"
        result = run_cli(
            ["score", "--engine", engine, "--model", f"models:/credit-points/{trained_model.version}",
             "--in", str(src), "--out", str(out), "--errors", str(errors)],
            trained_model.env(),
        )  # fmt: skip
        assert result.returncode == 1, result.stderr[-2000:]
        frame = pd.read_csv(errors)
        pairs = list(frame[["row", "field", "reason"]].itertuples(index=False))
        found[engine] = {
            name: sorted((f, r) for row, f, r in pairs if row == i + 1) for i, name in enumerate(bad)
        }
        assert len(pd.read_parquet(out)) == 1  # the good row is decided
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_bad_row_gets_the_same_error_on_every_path(server, applicants, file_errors, case) -> None:
    # given one applicant that breaks one rule
    applicant = _bad_applicants(applicants)[case]
    # when it is posted to the API
    response = server.client().post("/v1/decisions", json=applicant, headers=server.headers())
    assert response.status_code == 422, response.text
    api = sorted((e["field"], e["message"]) for e in response.json()["errors"])
    # then the API, the local score and the Dask score name the same field with the same reason
    assert api, response.text
    assert file_errors["local"][case] == api
    assert file_errors["dask"][case] == api
