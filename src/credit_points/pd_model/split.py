"""The out-of-time split: train on earlier ``as_of_date`` cohorts, calibrate on a later slice, test on the latest.

No firm is in both training and test. By default (``firm_split: holdout``) every firm is assigned at
random, once, to the training side or the test side (``test_firm_share``): training and calibration rows
come from training-side firms; test rows are the latest cohorts' rows of every firm without a training or
calibration row (the test-side firms, and firms that first apply in the test window). The OOT figures then
measure what the bank faces — firms the model has not seen, at a later date — with no firm-level leak into
training or into the calibrator. ``pd_model/oot.py`` holds the same definition for data the split never
saw (``evaluate``, the promotion gate).

Why not simply drop every test-window firm from training (``firm_split: drop``)? In a panel, the firms
still present in the latest year are the survivors; dropping them leaves mostly firms that exited, often
through default, so the training default rate (and the calibrated PD) is biased upwards. A random firm
holdout is independent of the outcome and keeps both sides representative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.pd_model.config import PDModelConfig


@dataclass(frozen=True)
class SplitIndices:
    """Positional row indices (``frame.iloc``) of each slice, and the dates that cut them.

    Attributes:
        train: rows of the earliest cohorts (test-side firms removed).
        calib: rows of the calibration slice (test-side firms removed).
        test: rows of the latest cohorts of firms with no train or calib row (the out-of-time test).
        calib_start: first ``as_of_date`` of the calibration slice.
        test_start: first ``as_of_date`` of the test slice.
        dropped_firm_rows: rows left out so that no firm is on both sides.
    """

    train: np.ndarray
    calib: np.ndarray
    test: np.ndarray
    calib_start: pd.Timestamp
    test_start: pd.Timestamp
    dropped_firm_rows: int = 0

    def seen_firms(self, frame: pd.DataFrame, firm_column: str) -> np.ndarray:
        """Digests of the firms with a training or calibration row (what a bundle records)."""
        from credit_points.pd_model.oot import firm_digests

        rows = np.concatenate([self.train, self.calib])
        return firm_digests(pd.unique(frame[firm_column].iloc[rows].astype(str)))

    def as_dict(self) -> dict[str, object]:
        """Sizes and cut dates (for run logs)."""
        return {
            "n_train": int(len(self.train)),
            "n_calib": int(len(self.calib)),
            "n_test": int(len(self.test)),
            "calib_start": self.calib_start.date().isoformat(),
            "test_start": self.test_start.date().isoformat(),
            "dropped_firm_rows": int(self.dropped_firm_rows),
        }


def oot_split(frame: pd.DataFrame, config: PDModelConfig) -> SplitIndices:
    """Split ``frame`` out of time by ``config.split``.

    ``mode: years``: the last ``test_periods`` calendar years of ``as_of_date`` are the test, the
    ``calib_periods`` years before them the calibration slice, all earlier years training.
    ``mode: quantiles``: cut ``as_of_date`` at its ``calib_quantile`` and ``test_quantile``.

    Raises:
        DataValidationError: the date or firm column is missing or has gaps, or a slice would be empty.

    Examples:
        >>> from credit_points.pd_model.config import load_pd_config
        >>> frame = pd.DataFrame({
        ...     "firm_id": ["a", "b", "a", "b", "c", "c"],
        ...     "as_of_date": pd.to_datetime(["2019-06-30", "2019-06-30", "2020-06-30", "2020-06-30",
        ...                                   "2020-06-30", "2021-06-30"]),
        ... })
        >>> cfg = load_pd_config("default")
        >>> cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"firm_split": "drop"})})
        >>> s = oot_split(frame, cfg)
        >>> s.train.tolist(), s.calib.tolist(), s.test.tolist()
        ([0, 1], [2, 3], [5])
    """
    cfg = config.split
    for col in (cfg.date_column, cfg.firm_column):
        if col not in frame.columns:
            raise DataValidationError(
                f"column required by the out-of-time split is missing: {col!r}", field=col
            )
    dates = pd.to_datetime(frame[cfg.date_column])
    if dates.isna().any():
        raise DataValidationError(f"{int(dates.isna().sum())} missing date(s)", field=cfg.date_column)
    if cfg.mode == "years":
        years = dates.dt.year.to_numpy()
        distinct = np.unique(years)
        needed = cfg.calib_periods + cfg.test_periods + 1
        if len(distinct) < needed:
            raise DataValidationError(
                f"out-of-time split by years needs at least {needed} distinct years; got {distinct.tolist()}",
                field=cfg.date_column,
            )
        test_year = distinct[-cfg.test_periods]
        calib_year = distinct[-cfg.test_periods - cfg.calib_periods]
        is_test = years >= test_year
        is_calib = (years >= calib_year) & ~is_test
        calib_start = dates[is_calib].min()
        test_start = dates[is_test].min()
    else:
        ns = dates.to_numpy(dtype="datetime64[ns]").astype("int64")
        q_calib, q_test = np.quantile(ns, [cfg.calib_quantile, cfg.test_quantile])
        is_test = ns >= q_test
        is_calib = (ns >= q_calib) & ~is_test
        calib_start = dates[is_calib].min() if is_calib.any() else pd.NaT
        test_start = dates[is_test].min() if is_test.any() else pd.NaT
    is_train = ~is_test & ~is_calib
    if frame[cfg.firm_column].isna().any():
        raise DataValidationError("missing firm ids", field=cfg.firm_column)
    # integer codes of the sorted distinct firm ids: the assignment does not depend on row order
    codes, distinct = pd.factorize(frame[cfg.firm_column].astype(str), sort=True)
    before = int(len(frame))
    if cfg.firm_split == "holdout":
        rng = np.random.default_rng(cfg.seed)
        on_test_side = (rng.random(len(distinct)) < cfg.test_firm_share)[codes]
        is_train &= ~on_test_side
        is_calib &= ~on_test_side
        # the test: every firm the model has not seen (test-side firms, and firms new in the test window)
        seen = np.zeros(len(distinct), dtype=bool)
        seen[codes[is_train | is_calib]] = True
        is_test &= ~seen[codes]
    elif cfg.firm_split == "drop":
        in_test = np.zeros(len(distinct), dtype=bool)
        in_test[codes[is_test]] = True
        seen = in_test[codes]
        is_train &= ~seen
        is_calib &= ~seen
    dropped = before - int(is_train.sum() + is_calib.sum() + is_test.sum())
    for name, mask in (("train", is_train), ("calib", is_calib), ("test", is_test)):
        if not mask.any():
            raise DataValidationError(
                f"the out-of-time split leaves the {name} slice empty; check the dates or config.split",
                field=cfg.date_column,
            )
    return SplitIndices(
        train=np.flatnonzero(is_train),
        calib=np.flatnonzero(is_calib),
        test=np.flatnonzero(is_test),
        calib_start=pd.Timestamp(calib_start),
        test_start=pd.Timestamp(test_start),
        dropped_firm_rows=dropped,
    )
