"""The out-of-time cohort: one definition for training, the model card, ``evaluate`` and the promotion gate.

**OOT rows** are the applications dated in the out-of-time window, with a matured 0/1 outcome, of firms
that have no row in the training or calibration years: firms the model has not seen, at a later date.
Training validates on exactly these rows; the bundle records which firms it saw (as SHA-256 digests, not
the identifiers themselves) so that ``evaluate`` and ``promote`` select the same rows from any data file,
and the gate's AUC on the training data equals the model card's.

A version registered before the bundle recorded its training firms is evaluated on every firm of the
window, and the cohort says so (``firms: all``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the bundle file that lists the digests of the firms with training or calibration rows
TRAINING_FIRMS_FILE = "training_firms.json"
_DIGEST_CHARS = 16  # 64 bits: no collision to speak of among millions of firms


def firm_digests(firm_ids: Iterable[Any]) -> np.ndarray:
    """Truncated SHA-256 of each firm id (as text): what a bundle records instead of the ids."""
    return np.array(
        [hashlib.sha256(str(f).encode("utf-8")).hexdigest()[:_DIGEST_CHARS] for f in firm_ids], dtype=object
    )


def definition(unseen_only: bool) -> str:
    """The one-line definition of the OOT rows (English; shown in the card, the gate and the reports)."""
    firms = "of firms with no training or calibration row" if unseen_only else "of all firms"
    return f"applications dated in the out-of-time window with a matured outcome, {firms}"


@dataclass(frozen=True)
class OOTCohort:
    """Which rows of a frame are OOT rows, and how they were chosen."""

    mask: np.ndarray
    window: tuple[str, str]
    unseen_only: bool
    seen_rows_left_out: int
    defaults: int

    @property
    def n(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> dict[str, Any]:
        """What the model card, the gate's table and the run record say about the rows."""
        return {
            "window": list(self.window),
            "rows": self.n,
            "defaults": self.defaults,
            "firms": "unseen" if self.unseen_only else "all",
            "seen_firm_rows_left_out": self.seen_rows_left_out,
            "definition": definition(self.unseen_only),
        }

    def label(self) -> str:
        return rows_label(self.n, self.window, unseen_only=self.unseen_only)


def rows_label(n: int, window: Sequence[str], *, unseen_only: bool) -> str:
    """Short text naming OOT rows, wherever a figure on them is shown.

    Examples:
        >>> rows_label(2038, ("2024-01-01", "2024-12-31"), unseen_only=True)
        '2,038 rows 2024-01-01..2024-12-31, firms unseen in training'
    """
    firms = "firms unseen in training" if unseen_only else "all firms"
    return f"{n:,} rows {window[0]}..{window[1]}, {firms}"


def oot_cohort(
    frame: pd.DataFrame,
    *,
    window: tuple[str | None, str | None],
    seen_firms: Iterable[str] | None,
    firm_column: str = "firm_id",
    date_column: str = "as_of_date",
    target: str | None = "default_12m",
) -> OOTCohort:
    """The OOT rows of ``frame``: dated in ``window`` (inclusive ISO dates, open ends allowed), with a 0/1
    ``target`` when one is named, and — when ``seen_firms`` (digests) is given — of no firm among them."""
    dates = pd.to_datetime(frame[date_column])
    mask = np.ones(len(frame), dtype=bool)
    start, end = window
    if start:
        mask &= (dates >= pd.Timestamp(start)).to_numpy()
    if end:
        mask &= (dates <= pd.Timestamp(end)).to_numpy()
    if target is not None and target in frame.columns:
        mask &= frame[target].notna().to_numpy()
    left_out = 0
    if seen_firms is not None:
        # one digest per distinct firm, not per row
        codes, firms = pd.factorize(frame[firm_column].astype(str))
        known = set(seen_firms)
        seen = np.array([d in known for d in firm_digests(firms)], dtype=bool)[codes]
        left_out = int((mask & seen).sum())
        mask &= ~seen
    chosen = dates[mask]
    shown = (
        (chosen.min().date().isoformat(), chosen.max().date().isoformat())
        if len(chosen)
        else (start or "…", end or "…")
    )
    defaults = int(np.nansum(frame[target].to_numpy(dtype=float)[mask])) if target in frame.columns else 0
    return OOTCohort(mask, shown, seen_firms is not None, left_out, defaults)


def write_training_firms(bundle_dir: str | Path, digests: Iterable[str]) -> None:
    """Record the digests of the firms a version trained or calibrated on, in its bundle folder."""
    payload = {"hash": f"sha256[:{_DIGEST_CHARS}]", "firms": sorted(set(digests))}
    (Path(bundle_dir) / TRAINING_FIRMS_FILE).write_text(json.dumps(payload), encoding="utf-8")


def read_training_firms(bundle_dir: str | Path) -> frozenset[str] | None:
    """The digests a verified bundle recorded, or ``None`` for a bundle that records none (older versions,
    or ``firm_split: none``)."""
    path = Path(bundle_dir) / TRAINING_FIRMS_FILE
    if not path.is_file():
        return None
    return frozenset(json.loads(path.read_text(encoding="utf-8"))["firms"])
