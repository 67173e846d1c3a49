"""Shared fixtures: a small generated zone and a model trained and registered in a throwaway MLflow store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest


@dataclass
class TrainedModel:
    """A model trained once per test session on generated data, in its own home folder."""

    home: Path
    data_dir: Path
    version: str
    artifact_hash: str
    run_id: str
    engine: object
    applicants: pd.DataFrame

    def env(self) -> dict[str, str]:
        """Environment that points the CLI and the API at this home."""
        return {
            **os.environ,
            "CREDIT_POINTS_HOME": str(self.home),
            "CREDIT_POINTS_TRACKING_URI": self.tracking_uri,
        }

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlruns' / 'mlflow.db'}"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedModel]:
    """Generate 2,500 firms × 6 years, train, register (alias ``challenger``) and load the engine."""
    from credit_points.config import Settings
    from credit_points.pipelines.generate import write_panel
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.train import run_train

    home = tmp_path_factory.mktemp("home")
    data_dir = home / "data" / "raw"
    write_panel(data_dir, n_firms=2500, years=(2019, 2024), seed=11)
    old = {k: os.environ.get(k) for k in ("CREDIT_POINTS_HOME", "CREDIT_POINTS_TRACKING_URI")}
    os.environ["CREDIT_POINTS_HOME"] = str(home)
    os.environ["CREDIT_POINTS_TRACKING_URI"] = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    try:
        settings = Settings()
        outcome = run_train(data_dir, settings=settings)
        engine, _ = load_engine("models:/credit-points@challenger", settings)
        applicants = pd.read_parquet(data_dir / "applicants.parquet")
        yield TrainedModel(
            home, data_dir, outcome.version, outcome.artifact_hash, outcome.run_id, engine, applicants
        )
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def shadow_version(trained_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A second version in the session's registry, trained on 70 % of the firms (its booster differs), with
    the alias ``shadow``: the challenger that decides in shadow."""
    import zlib

    from credit_points.config import Settings
    from credit_points.pipelines.train import run_train

    frame = trained_model.applicants
    keep = frame["firm_id"].map(lambda code: zlib.crc32(str(code).encode()) % 10 < 7)
    data = tmp_path_factory.mktemp("shadow-data")
    frame[keep].to_parquet(data / "applicants.parquet", index=False)
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    outcome = run_train(data, alias="shadow", settings=settings)
    assert outcome.version != trained_model.version
    return str(outcome.version)
