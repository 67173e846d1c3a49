"""The decision engine: points config + reference population + PD model + policy → ``decide(frame) -> frame``.

One object, built once (from a bundle or from freshly trained parts), serves a batch of one (the API), a
batch file and a Dask partition with the same vectorised code. Contributions (TreeSHAP) cost ~200× a
prediction, so they are computed only where they are used: on adverse outcomes, for reason codes.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from credit_points.datasets.fields import FieldsConfig
from credit_points.exceptions import ModelError
from credit_points.explain.config import ReasonCodesConfig
from credit_points.explain.reasons import DECISION_COLUMNS, adverse_outcome, reason_code_positions
from credit_points.pd_model.calibration import sigmoid
from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import PDModelConfig
from credit_points.pd_model.features import build_features, feature_matrix, feature_order_hash
from credit_points.pd_model.master_scale import assign_grade
from credit_points.points.config import PointsConfig
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import PointsScorer
from credit_points.policy.config import PolicyConfig
from credit_points.policy.decision import policy_decision, str_column

Explain = Literal["adverse", "all", "none"]
ADDITIVITY_TOLERANCE = 1e-6
#: from this many rows, ``decide`` splits a batch into one contiguous chunk per LightGBM thread and decides
#: the chunks in threads, each with a one-thread copy of the booster: the numpy and pandas work between the
#: model calls (one core otherwise) runs in parallel with them. Every step is row-local, so the decisions are
#: those of one call on the whole batch, bit for bit. Below it the threads cost more than they save.
PARALLEL_MIN_ROWS = 50_000


@dataclass(frozen=True)
class ModelIdentity:
    """What a decision records about the model that made it."""

    name: str = "credit-points"
    version: str = "unregistered"
    artifact_hash: str = ""
    run_id: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "artifact_hash": self.artifact_hash,
            "run_id": self.run_id,
        }


@dataclass
class DecisionEngine:
    """Everything one decision needs, held once.

    Attributes:
        points_config: the zone's points rules.
        reference: the pinned reference population (quantile tables).
        pd_config: features, master scale.
        classifier: the fitted, calibrated PD model.
        policy: products and limit policy.
        reason_codes_config: reason families and texts.
        fields: the applicant record catalogue.
        identity: model name, concrete version and artifact hash (set when loaded from a bundle).
        model_card: training and validation summary shown in reports and ``GET /v1/model``.
    """

    points_config: PointsConfig
    reference: ReferenceTable
    pd_config: PDModelConfig
    classifier: PDClassifier
    policy: PolicyConfig
    reason_codes_config: ReasonCodesConfig
    fields: FieldsConfig
    identity: ModelIdentity = field(default_factory=ModelIdentity)
    model_card: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._scorer = PointsScorer(self.points_config, self.reference)
        self._feature_order_hash = feature_order_hash(self.pd_config)
        names = getattr(self.classifier, "feature_names_in_", None)
        # the column order is checked once here: the serving path then hands LightGBM a bare float64 matrix
        self._matrix_ok = names is None or [str(c) for c in names] == list(self.pd_config.feature_names)
        self._contrib_columns = [f"contrib_{c}" for c in self.pd_config.feature_names]

    @property
    def feature_order_hash(self) -> str:
        return self._feature_order_hash

    @property
    def versions(self) -> dict[str, Any]:
        """Config versions and hashes every decision records (hashed once per set of config objects)."""
        parts = (
            self.points_config, self.reference, self.pd_config, self.policy, self.reason_codes_config, self.fields,
        )  # fmt: skip
        cached = getattr(self, "_versions", None)
        if cached is None or any(a is not b for a, b in zip(cached[0], parts, strict=True)):
            value = {
                "points": {"version": self.points_config.version, "hash": self.points_config.content_hash},
                "reference": {"hash": self.reference.content_hash},
                "pd_model": {"version": self.pd_config.version, "hash": self.pd_config.content_hash},
                "policy": {"version": self.policy.version, "hash": self.policy.content_hash},
                "reason_codes": {
                    "version": self.reason_codes_config.version,
                    "hash": self.reason_codes_config.content_hash,
                },
                "fields": {"version": self.fields.version, "hash": self.fields.content_hash},
            }
            cached = (parts, value)
            self._versions = cached
        return {key: dict(entry) for key, entry in cached[1].items()}

    def with_policy(self, policy: PolicyConfig) -> DecisionEngine:
        """The same model and points under another policy (what-if studies of a policy change)."""
        from dataclasses import replace

        return replace(
            self, policy=policy, identity=ModelIdentity(self.identity.name, f"{self.identity.version}+policy")
        )

    def set_threads(self, num_threads: int) -> None:
        """LightGBM threads per prediction (1 per serving process: scale with workers, not threads)."""
        self.classifier.num_threads = int(num_threads)

    def unknown_zones(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows whose zone the pinned reference population does not know (their ranks would mean nothing).

        A reference table built without ranks knows no zone list, and then no row is refused.
        """
        known = self.reference.known_zones
        zone_field = self.points_config.zone_field
        if not known or zone_field not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        return ~frame[zone_field].astype(str).isin(known).to_numpy(dtype=bool)

    def unknown_zone_reason(self) -> str:
        """The reason a row with an unknown zone is refused, naming the zones the model knows."""
        return (
            f"not a zone of the model's reference population; known: {', '.join(self.reference.known_zones)}"
        )

    def score_points(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Innovation points only (``POST /v1/points``)."""
        return self._scorer.score(frame)

    def features(self, joined: pd.DataFrame) -> pd.DataFrame:
        """Model features (float64, in the order the model was trained on) of record + points columns."""
        return build_features(joined, self.pd_config)

    def predict(self, joined: pd.DataFrame, features: pd.DataFrame | None = None) -> pd.DataFrame:
        """PD columns (``raw_score``, ``prob_default``, ``grade``) for a frame of record + points columns."""
        features = self.features(joined) if features is None else features
        return pd.DataFrame(self._risk(self._model_input(features)), index=joined.index)

    def _model_input(self, features: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """A float64 matrix when the model's column order was verified at start-up, else the frame (checked)."""
        if isinstance(features, np.ndarray) or not self._matrix_ok:
            return features
        if list(features.columns) != list(self.pd_config.feature_names):
            return features  # the classifier names the difference
        return features.to_numpy(dtype="float64")

    def _risk(self, features: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        raw = self.classifier.raw_score(features)
        # the regulatory PD floor applies to every use of the PD (grade, limit, price, expected loss)
        prob_default = np.maximum(sigmoid(raw), self.pd_config.master_scale.pd_floor)
        grades = assign_grade(prob_default, self.pd_config.master_scale)
        return {"raw_score": raw, "prob_default": prob_default, "grade": grades}

    def _contributions(
        self, features: pd.DataFrame | np.ndarray, raw_score: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        contrib, base = self.classifier.contributions(features)
        if raw_score is not None:
            gap = np.abs(base + contrib.sum(axis=1) - raw_score)
            if gap.size and float(gap.max()) > ADDITIVITY_TOLERANCE:
                raise ModelError(
                    f"SHAP additivity violated by {float(gap.max()):.3g} (> {ADDITIVITY_TOLERANCE})"
                )
        return contrib, base

    def contributions(self, features: pd.DataFrame, raw_score: np.ndarray | None = None) -> pd.DataFrame:
        """TreeSHAP contributions in calibrated log-odds (``contrib_<feature>`` + ``contrib_base``).

        When ``raw_score`` is given, additivity is checked: base + Σ contributions must equal the raw score
        to 1e-6, or the explanation is not faithful and :class:`ModelError` is raised.
        """
        contrib, base = self._contributions(self._model_input(features), raw_score)
        out = pd.DataFrame(contrib, columns=[f"contrib_{c}" for c in features.columns], index=features.index)
        out["contrib_base"] = base
        return out

    def decide(self, frame: pd.DataFrame, *, explain: Explain = "adverse") -> pd.DataFrame:
        """Decide every row of a validated applicant frame.

        Args:
            frame: validated applicant rows (see ``datasets.schema.validate_applicants``).
            explain: where to compute contributions — rows that need reason codes (default), all rows
                (reports), or none (validation and fast portfolio runs: no contributions, no reason codes).

        Returns:
            The input columns, then points, PD, policy and reason-code columns (docs/architecture.md),
            plus model and config identity.
        """
        chunks = self._in_chunks(frame, explain, lambda parts: parts.frame())
        return self._decide(frame, explain).frame() if chunks is None else pd.concat(chunks, axis=0)

    def decide_columns(self, frame: pd.DataFrame, *, explain: Explain = "adverse") -> dict[str, Any]:
        """The columns :meth:`decide` adds to its input, by name, without joining them into a frame.

        For code that reads cells (``records.decide_records`` builds decision records straight from these
        arrays); the values are exactly those of the frame :meth:`decide` returns.
        """
        chunks = self._in_chunks(frame, explain, lambda parts: parts.columns())
        if chunks is None:
            return self._decide(frame, explain).columns()
        return {name: _concat([chunk[name] for chunk in chunks]) for name in chunks[0]}

    def _in_chunks(self, frame: pd.DataFrame, explain: Explain, join: Any) -> list[Any] | None:
        """``join`` of each chunk's decision, in row order, decided in threads (None: decide in one call)."""
        threads = int(getattr(self.classifier, "num_threads", 1) or 1)
        if threads < 2 or len(frame) < PARALLEL_MIN_ROWS:
            return None
        engines = self._chunk_engines(threads)
        if engines is None:
            return None
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, len(frame), len(engines) + 1).astype(int)
        with ThreadPoolExecutor(len(engines), thread_name_prefix="decide") as pool:
            futures = [
                pool.submit(lambda e, a, b: join(e._decide(frame.iloc[a:b], explain)), engine, a, b)
                for engine, a, b in zip(engines, bounds[:-1], bounds[1:], strict=True)
            ]
            return [future.result() for future in futures]

    def _chunk_engines(self, threads: int) -> list[DecisionEngine] | None:
        """``threads`` copies of this engine, each with its own one-thread copy of the booster (LightGBM's
        predictor is not safe to share between threads), made once per classifier and thread count."""
        import copy
        from dataclasses import replace

        booster = getattr(self.classifier, "booster_", None)
        if booster is None:
            return None
        key = (id(self.classifier), id(booster), threads)
        cached = getattr(self, "_chunk_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        import lightgbm as lgb

        text = booster.model_to_string()  # the trees ``predict`` uses (up to the best iteration, if any)
        engines = []
        for _ in range(threads):
            classifier = copy.copy(self.classifier)
            classifier.booster_ = lgb.Booster(model_str=text)
            classifier.num_threads = 1
            engines.append(replace(self, classifier=classifier))
        self._chunk_cache = (key, engines)
        return engines

    def decide_under(self, frame: pd.DataFrame, policies: Sequence[PolicyConfig]) -> list[dict[str, Any]]:
        """Points and PD once, then each policy's decision for the same rows (what-if studies of a policy
        change: ``policy simulate``). One mapping per policy: the stage, the risk columns and that policy's columns,
        exactly as :meth:`decide_columns` gives them under that policy (no explanations, no reason codes)."""
        n = len(frame)
        _, points, source, _, risk = self._points_and_risk(frame)
        out = []
        for policy in policies:
            decision, _ = policy_decision(source.new_child(risk), policy, n)
            out.append({"stage": points["stage"], **risk, **decision})
        return out

    def _points_and_risk(
        self, frame: pd.DataFrame
    ) -> tuple[_Parts, Mapping[str, Any], ChainMap[str, Any], pd.DataFrame | np.ndarray, dict[str, Any]]:
        """The first steps of a decision: the points (added to the parts), the column lookup the policy
        reads, the PD model's feature matrix and its risk columns."""
        n = len(frame)
        scorer = self._scorer
        parts = _Parts(frame)
        if scorer.reference is not None:
            head, block = scorer.score_arrays(frame)
            float_names = scorer.float_columns
            points: Mapping[str, Any] = {**head, **dict(zip(float_names, block, strict=True))}
            parts.add(head)
            parts.add_block(list(float_names), block.T)
        else:
            points = scorer.score(frame)
            parts.add(points)
        # inner steps read columns through one cached lookup; the output frame is built once at the end
        source: ChainMap[str, Any] = ChainMap(_ColumnCache((points, frame), record=frame))
        if self._matrix_ok:
            features: pd.DataFrame | np.ndarray = feature_matrix(source, self.pd_config, n)
        else:
            features = build_features(parts.frame(), self.pd_config)  # input and points columns so far
        return parts, points, source, features, dict(self._risk(features))

    def _decide(self, frame: pd.DataFrame, explain: Explain) -> _Parts:
        """The output columns of :meth:`decide` in groups, before they are joined into one frame."""
        n = len(frame)
        scorer = self._scorer
        parts, points, source, features, risk = self._points_and_risk(frame)
        columns: dict[str, Any] = dict(risk)
        decision, offers = policy_decision(source.new_child(risk), self.policy, n)
        columns.update(decision)

        adverse = adverse_outcome(columns, self.policy) if explain != "none" else None
        if explain == "all":
            mask = np.ones(n, dtype=bool)
        elif explain == "adverse" and adverse is not None:
            mask = adverse
        else:
            mask = np.zeros(n, dtype=bool)
        parts.add(columns)
        explained: tuple[list[str], np.ndarray] | None = None
        if mask.any():
            every = bool(mask.all())
            rows = (
                features
                if every
                else (features[mask] if isinstance(features, np.ndarray) else features.loc[mask])
            )
            contrib, base = self._contributions(rows, risk["raw_score"] if every else risk["raw_score"][mask])
            k = contrib.shape[1]
            if every:
                block = np.empty((n, k + 1))
                block[:, :k], block[:, k] = contrib, base
            else:
                block = np.full((n, k + 1), np.nan)
                block[mask, :k], block[mask, k] = contrib, base
            explained = (list(self.pd_config.feature_names), block[:, :-1])
            parts.add_block([*self._contrib_columns, "contrib_base"], block)
        if explain == "none":
            tail = {"reason_codes": _constant(n, "")}
        else:
            # reason codes read only the veto, deduction and decision columns (refer hits and contributions
            # are handed over): a narrow frame instead of the whole output
            needed = ["veto", "veto_reasons", *(c for c in scorer.columns if c.startswith("deduction_"))]
            narrow = {name: points[name] for name in needed}
            for name in (*DECISION_COLUMNS, *(f"failed_rules_{p.id}" for p in self.policy.products)):
                narrow[name] = columns[name]
            positions, texts = reason_code_positions(
                pd.DataFrame(narrow, index=frame.index),
                self.policy,
                self.reason_codes_config,
                refer_hits=offers.refer_hits,
                contributions=explained,
                adverse=adverse,
            )
            tail = {"reason_codes": str_column(positions, texts)}
        tail["reason_codes_version"] = _constant(n, self.reason_codes_config.version)
        tail["model_name"] = _constant(n, self.identity.name)
        tail["model_version"] = _constant(n, self.identity.version)
        tail["model_artifact_hash"] = _constant(n, self.identity.artifact_hash)
        tail["feature_order_hash"] = _constant(n, self._feature_order_hash)
        parts.add(tail)
        return parts


class _Parts:
    """The output of ``decide`` as groups of columns (the input frame first), joined only when needed.

    ``frame()`` gives the DataFrame ``decide`` returns; ``columns()`` gives the added columns as a mapping
    of name -> array for code that reads cells (decision records), without building the frame.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.input = frame
        self.groups: list[pd.DataFrame | Mapping[str, Any] | tuple[list[str], np.ndarray]] = []

    def add(self, group: pd.DataFrame | Mapping[str, Any]) -> None:
        self.groups.append(group)

    def add_block(self, names: list[str], block: np.ndarray) -> None:
        """A float block of shape (rows, names): one frame block, no per-column construction."""
        self.groups.append((names, block))

    def _group_frame(
        self, group: pd.DataFrame | Mapping[str, Any] | tuple[list[str], np.ndarray]
    ) -> pd.DataFrame:
        index = self.input.index
        if isinstance(group, pd.DataFrame):
            return group
        if isinstance(group, tuple):
            names, block = group
            return pd.DataFrame(block, index=index, columns=names, copy=False)
        return pd.DataFrame(group, index=index)

    def frame(self, upto: int | None = None) -> pd.DataFrame:
        """The input columns and the first ``upto`` groups (all by default) as one frame."""
        groups = self.groups if upto is None else self.groups[:upto]
        return pd.concat([self.input, *(self._group_frame(g) for g in groups)], axis=1)

    def columns(self) -> dict[str, Any]:
        """The columns ``decide`` adds to its input, by name (a later group wins a repeated name)."""
        out: dict[str, Any] = {}
        for group in self.groups:
            if isinstance(group, pd.DataFrame):
                out.update({name: group[name].to_numpy() for name in group.columns})
            elif isinstance(group, tuple):
                names, block = group
                out.update({name: block[:, j] for j, name in enumerate(names)})
            else:
                out.update(group)
        return out


_SMALL = 64
#: dtypes whose cells survive a trip through a Python object unchanged (float64 exact, NaN, NaT, text).
_PLAIN_KINDS = {"float64": "float64", "bool": "bool", "datetime64[ns]": "datetime64[ns]", "str": None}


class _ColumnCache(dict):  # type: ignore[type-arg]
    """Columns of several frames by name, each read once (the first frame holding it wins).

    A small record frame is converted in one go (``to_numpy(dtype=object)``, then one typed array per
    column): cheaper than one pandas column look-up per name on a batch of one. The arrays equal what
    ``Series.to_numpy()`` gives for those dtypes; other dtypes stay Series, read on demand.
    """

    def __init__(self, sources: tuple[Mapping[str, Any], ...], record: pd.DataFrame | None = None) -> None:
        super().__init__()
        self._sources = sources
        if record is not None and 0 < len(record) <= _SMALL:
            names = record.columns.tolist()
            kinds = [_PLAIN_KINDS.get(str(dtype), "") for dtype in record.dtypes.tolist()]
            cells = record.to_numpy(dtype=object)
            shadowed = {name for src in sources if src is not record for name in _names(src)}
            for k, (name, kind) in enumerate(zip(names, kinds, strict=True)):
                if kind == "" or name in shadowed:
                    continue
                column = cells[:, k]
                self[name] = column.copy() if kind is None else np.asarray(column.tolist(), dtype=kind)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or any(key in src for src in self._sources)

    def __missing__(self, key: str) -> Any:
        for src in self._sources:
            if key in src:
                value = src[key]
                self[key] = value
                return value
        raise KeyError(key)


def _concat(pieces: list[Any]) -> Any:
    """One column from its chunks, of the type one call on the whole batch gives."""
    if isinstance(pieces[0], np.ndarray):
        return np.concatenate(pieces)
    return type(pieces[0])._concat_same_type(pieces)  # a pandas extension array (text)


_CONSTANTS: dict[tuple[int, str], Any] = {}


def _constant(n: int, label: str) -> Any:
    """A ``str`` column of ``n`` copies of ``label`` (kept for small ``n``: pandas arrays are not written to)."""
    key = (n, label)
    cached = _CONSTANTS.get(key)
    if cached is not None:
        return cached
    column = str_column(np.zeros(n, dtype=np.int64), [label])
    if n <= _SMALL:
        if len(_CONSTANTS) >= 256:
            _CONSTANTS.clear()
        _CONSTANTS[key] = column
    return column


def _names(source: Mapping[str, Any]) -> list[str]:
    return source.columns.tolist() if isinstance(source, pd.DataFrame) else list(source)
