"""Figures are drawn each on its own canvas: the SHAP summary never paints over a chart still open."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from credit_points.reports.figures import roc_figure, shap_summary_figure  # noqa: E402


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_the_shap_summary_gets_its_own_figure_and_leaves_the_open_chart_alone() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    roc = roc_figure(y, np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1))  # still open, like training's
    before = _png(roc)
    features = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    shap_fig = shap_summary_figure(rng.normal(size=(200, 4)), features)
    assert shap_fig is not roc
    assert _png(roc) == before  # nothing drawn over it
    assert _png(shap_fig) != before
    plt.close("all")
