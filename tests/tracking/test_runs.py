"""What a training run records in a real MLflow store: parameters in full, the dataset with its shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from credit_points.tracking.runs import log_dataset, log_params


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[MlflowClient, str]]:
    """A throwaway store and experiment; the process-wide tracking URI is put back afterwards."""
    before = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    try:
        yield client, client.create_experiment("runs")
    finally:
        mlflow.set_tracking_uri(before)


def test_a_dataset_shows_its_shape_even_where_an_older_release_logged_it_without_rows(store) -> None:
    client, experiment = store
    frame = pd.DataFrame({"a": np.arange(1234.0), "b": ["x"] * 1234})
    digest = "0123456789abcdef" * 4
    # given the shape-less record an earlier release logged for the same data (0 rows, digest[:36])
    from mlflow.data.pandas_dataset import from_pandas

    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_input(
            from_pandas(frame.head(0), source="file:///x", name="applicants", digest=digest[:36])
        )
    # when a run logs it now
    with mlflow.start_run(experiment_id=experiment) as run:
        log_dataset(frame, name="applicants", source="file:///x", digest=digest, context="training")
    # then the run's dataset has the real number of rows and columns, and the full digest as a tag
    logged = client.get_run(run.info.run_id).inputs.dataset_inputs[0]
    assert json.loads(logged.dataset.profile) == {"num_rows": 1234, "num_elements": 2468}
    assert {t.key: t.value for t in logged.tags}["sha256"] == digest


def test_settings_longer_than_a_parameter_are_kept_in_full(store, tmp_path: Path) -> None:
    client, experiment = store
    long = ",".join(f"feature_{i}" for i in range(200))
    with mlflow.start_run(experiment_id=experiment) as run:
        log_params({"features": long, "seed": 7})
    params = client.get_run(run.info.run_id).data.params
    assert params["seed"] == "7" and len(params["features"]) <= 500
    assert params["features"].endswith("… (full value: params/params.json)")
    full = json.loads(
        Path(client.download_artifacts(run.info.run_id, "params/params.json", str(tmp_path))).read_text()
    )
    assert full == {"features": long, "seed": "7"}
