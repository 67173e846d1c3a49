"""Figures for validation reports, MLflow runs and notebooks: ROC, calibration by grade, SHAP summary.

Outside a notebook the figures are drawn with the non-interactive Agg backend (a server or a CLI has no
display). Inside a Jupyter kernel the kernel's own (inline) backend is left in place, so a figure drawn in a
cell shows under it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_LIGHT_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "n/a": "#9e9e9e"}


def _in_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel."""
    import sys

    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def _pyplot() -> Any:
    import matplotlib

    if not _in_kernel():
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def roc_figure(y: np.ndarray, prob_default: np.ndarray, *, title: str = "ROC, out of time") -> Any:
    """ROC curve with AUC and the KS point marked."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fpr, tpr, _ = roc_curve(y, prob_default)
    auc = roc_auc_score(y, prob_default)
    ks_idx = int(np.argmax(tpr - fpr))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot(fpr, tpr, color="#1565c0", lw=2, label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#9e9e9e", lw=1, ls="--", label="random")
    ax.vlines(
        fpr[ks_idx],
        fpr[ks_idx],
        tpr[ks_idx],
        color="#c62828",
        lw=1.5,
        label=f"KS {tpr[ks_idx] - fpr[ks_idx]:.3f}",
    )
    ax.set_xlabel("false positive rate (non-defaults flagged)")
    ax.set_ylabel("true positive rate (defaults flagged)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration_by_grade_figure(grade_table: pd.DataFrame, *, title: str = "Calibration by grade") -> Any:
    """Observed default rate vs mean predicted PD per grade, bars coloured by traffic light."""
    plt = _pyplot()
    table = grade_table[grade_table["n"] > 0]
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    colours = [_LIGHT_COLOURS.get(str(t), "#9e9e9e") for t in table["traffic_light"]]
    ax.bar(x, table["observed_rate"], color=colours, alpha=0.85, label="observed default rate")
    ax.plot(x, table["mean_pd"], "o-", color="#1565c0", label="mean predicted PD")
    ax.set_xticks(x, [str(g) for g in table["grade"]])
    ax.set_yscale("log")
    ax.set_xlabel("grade (master scale)")
    ax.set_ylabel("default rate (log scale)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def shap_summary_figure(contributions: np.ndarray, features: pd.DataFrame, *, max_display: int = 15) -> Any:
    """SHAP beeswarm summary of contributions in calibrated log-odds (positive = raises PD)."""
    import shap

    plt = _pyplot()
    # shap draws on the current figure: give it a new one, or it paints over whatever chart is still open
    plt.figure()
    shap.summary_plot(contributions, features, max_display=max_display, show=False, plot_size=(8, 6))
    fig = plt.gcf()
    fig.axes[0].set_xlabel("contribution to log-odds of default")
    fig.tight_layout()
    return fig


def ks_figure(y: np.ndarray, prob_default: np.ndarray, *, title: str = "KS, out of time") -> Any:
    """Cumulative PD distributions of defaulters and non-defaulters, with the KS gap marked."""
    plt = _pyplot()
    y = np.asarray(y, dtype=int)
    p = np.asarray(prob_default, dtype=float)
    grid = np.unique(p)
    bad = np.searchsorted(np.sort(p[y == 1]), grid, side="right") / max(int((y == 1).sum()), 1)
    good = np.searchsorted(np.sort(p[y == 0]), grid, side="right") / max(int((y == 0).sum()), 1)
    gap = good - bad
    k = int(np.argmax(gap))
    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    ax.plot(grid, good, color="#2e7d32", lw=2, label="non-defaults")
    ax.plot(grid, bad, color="#c62828", lw=2, label="defaults")
    ax.vlines(grid[k], bad[k], good[k], color="#1565c0", lw=2, label=f"KS {gap[k]:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("PD (log scale)")
    ax.set_ylabel("cumulative share")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def figure_png_base64(fig: Any, *, dpi: int = 90) -> str:
    """A figure as a base64 PNG (for ``<img src="data:image/png;base64,…">``); the figure is closed."""
    import base64
    import io

    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def stability_figure(
    rows: list[dict[str, Any]],
    amber: float,
    red: float,
    *,
    title: str = "Stability against training",
    top: int = 15,
) -> Any:
    """PSI of the PD and the largest CSIs, bars coloured by their monitoring status, the bands as lines."""
    plt = _pyplot()
    shown = sorted(rows, key=lambda r: -r["index"])[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(shown) + 1.2), dpi=110)
    y = np.arange(len(shown))
    ax.barh(y, [r["index"] for r in shown], color=[_LIGHT_COLOURS.get(r["status"], "#9e9e9e") for r in shown])
    ax.set_yticks(y, [r["name"] for r in shown], fontsize=8)
    ax.axvline(amber, color=_LIGHT_COLOURS["amber"], ls="--", lw=1, label=f"amber band {amber}")
    ax.axvline(red, color=_LIGHT_COLOURS["red"], ls="--", lw=1, label=f"red band {red}")
    ax.set_xlabel("PSI / CSI (colour: status, band and significance)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def grade_mix_figure(grades: dict[str, dict[str, float]], *, title: str = "Grade mix") -> Any:
    """The share of each grade in the window beside its share in training."""
    plt = _pyplot()
    labels = list(grades)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    ax.bar(x - 0.2, [grades[g]["training"] for g in labels], width=0.4, color="#9e9e9e", label="training")
    ax.bar(x + 0.2, [grades[g]["window"] for g in labels], width=0.4, color="#1565c0", label="window")
    ax.set_xticks(x, labels)
    ax.set_xlabel("grade (master scale)")
    ax.set_ylabel("share of decisions")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
