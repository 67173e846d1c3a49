"""The registered model's code ("models from code"): a pyfunc that loads the hash-verified decision bundle.

MLflow copies this file into every model version; the bundle's files (LightGBM native text, JSON configs,
reference population, golden predictions) travel as artifacts. No Python object is pickled.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class DecisionBundleModel(PythonModel):
    """pyfunc wrapper: ``predict(applicants) -> decision frame``."""

    def load_context(self, context: Any) -> None:
        from credit_points.bundle import load_bundle

        self.engine = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        explain = (params or {}).get("explain", "adverse")
        return self.engine.decide(model_input, explain=explain)


mlflow.models.set_model(DecisionBundleModel())
