"""The decision bundle on disk: plain files that pin one complete, replayable decision, and their hashes.

A bundle is a folder::

    MANIFEST.json        format, SHA-256 of every file below, library versions
    booster.txt          the LightGBM model in its native text format
    pd_model.json        calibrator and feature list of the PD classifier (no pickle)
    pd_config.json       features, master scale         points_config.json   the zone's points rules
    reference.json       the pinned reference population policy.json          products and limit policy
    reason_codes.json    reason families and texts      fields.json          the applicant record
    golden.json          sample inputs and the outputs they must give (checked at every load)
    model_card.json      training windows, data digests, validation figures
    training_firms.json  SHA-256 digests of the firms it trained on (the OOT rows are the others)

The artifact hash of a bundle is the SHA-256 of its manifest's file table. Loading verifies every file
against the manifest (and the manifest against an expected artifact hash when one is given), then re-decides
the golden inputs and refuses the bundle unless the outputs match exactly.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_points.config import canonical_json, sha256_text
from credit_points.engine import DecisionEngine, ModelIdentity
from credit_points.exceptions import ModelError

BUNDLE_FORMAT = "credit-points-bundle/1"
MANIFEST = "MANIFEST.json"
GOLDEN_COLUMNS = ("raw_score", "prob_default", "grade", "points_total", "limit", "decision", "reason_codes")
_LIBRARIES = ("credit-points", "lightgbm", "numpy", "pandas", "scikit-learn", "pydantic", "mlflow")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a decision depends on."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(canonical_json(data), encoding="utf-8")


def _file_sha256(path: Path) -> str:
    return sha256_text(path.read_bytes())


def golden_frame(
    engine: DecisionEngine, applicants: pd.DataFrame, n: int = 40, seed: int = 0
) -> pd.DataFrame:
    """A small, varied sample of inputs for the load-time check, with identities replaced (no PII in artifacts)."""
    from credit_points.datasets.uscc import synthetic_codes

    take = min(n, len(applicants))
    sample = applicants.sample(n=take, random_state=seed).reset_index(drop=True)
    sample["firm_id"] = synthetic_codes(take, seed=seed)
    if "name" in sample.columns:
        sample["name"] = None
    return sample.drop(columns=[c for c in ("default_12m",) if c in sample.columns])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from credit_points.records import input_records

    return input_records(frame, list(frame.columns))


def save_bundle(
    engine: DecisionEngine,
    out_dir: str | Path,
    *,
    golden_inputs: pd.DataFrame,
    model_card: Mapping[str, Any] | None = None,
    training_firms: Any = None,
) -> str:
    """Write ``engine`` as a bundle folder; return its artifact hash. ``training_firms`` (digests, see
    ``pd_model/oot.py``) is recorded when given."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = engine.classifier.to_dict()
    booster_text = model.pop("booster")
    (out / "booster.txt").write_text(booster_text, encoding="utf-8")
    _write_json(out / "pd_model.json", model)
    _write_json(out / "pd_config.json", engine.pd_config.model_dump(mode="json"))
    _write_json(out / "points_config.json", engine.points_config.model_dump(mode="json"))
    _write_json(out / "reference.json", engine.reference.to_dict())
    _write_json(out / "policy.json", engine.policy.model_dump(mode="json"))
    _write_json(out / "reason_codes.json", engine.reason_codes_config.model_dump(mode="json"))
    _write_json(out / "fields.json", engine.fields.model_dump(mode="json"))
    decided = engine.decide(golden_inputs, explain="all")
    expected = decided[list(GOLDEN_COLUMNS)]
    from credit_points.records import DECISION_LOGIC

    golden = {
        "decision_logic": DECISION_LOGIC,
        "inputs": _records(golden_inputs),
        "expected": _records(expected),
    }
    _write_json(out / "golden.json", golden)
    _write_json(out / "model_card.json", dict(model_card or engine.model_card))
    if training_firms is not None:
        from credit_points.pd_model.oot import write_training_firms

        write_training_firms(out, training_firms)
    files = {p.name: _file_sha256(p) for p in sorted(out.iterdir()) if p.name != MANIFEST and p.is_file()}
    manifest = {"format": BUNDLE_FORMAT, "files": files, "libraries": library_versions()}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return artifact_hash(manifest)


def artifact_hash(manifest: Mapping[str, Any]) -> str:
    """The bundle's identity: SHA-256 of its file table."""
    return sha256_text(canonical_json({"format": manifest["format"], "files": manifest["files"]}))


def read_manifest(bundle_dir: str | Path) -> dict[str, Any]:
    path = Path(bundle_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise ModelError(f"{path}: no bundle manifest (is this a credit-points bundle folder?)") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: manifest is not valid JSON ({exc.msg})") from None


def verify_bundle(bundle_dir: str | Path, expected_hash: str | None = None) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest. Raises :class:`ModelError` naming the file."""
    root = Path(bundle_dir)
    manifest = read_manifest(root)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{root}: bundle format {manifest.get('format')!r}; expected {BUNDLE_FORMAT!r}")
    for name, digest in manifest["files"].items():
        path = root / name
        if not path.is_file():
            raise ModelError(f"{path}: missing from the bundle")
        actual = _file_sha256(path)
        if actual != digest:
            raise ModelError(f"{path}: SHA-256 {actual[:12]}… does not match the manifest's {digest[:12]}…")
    actual_hash = artifact_hash(manifest)
    if expected_hash is not None and actual_hash != expected_hash:
        raise ModelError(
            f"{root}: artifact hash {actual_hash[:12]}… is not the expected {expected_hash[:12]}…"
        )
    return manifest


def _read(root: Path, name: str) -> Any:
    return json.loads((root / name).read_text(encoding="utf-8"))


def load_bundle(
    bundle_dir: str | Path,
    *,
    expected_hash: str | None = None,
    identity: ModelIdentity | None = None,
    check_golden: bool = True,
) -> DecisionEngine:
    """Verify and load a bundle into a :class:`DecisionEngine` (no pickle anywhere)."""
    from credit_points.datasets.fields import FieldsConfig
    from credit_points.explain.config import ReasonCodesConfig
    from credit_points.pd_model.classifier import PDClassifier
    from credit_points.pd_model.config import PDModelConfig
    from credit_points.points.config import PointsConfig
    from credit_points.points.reference import ReferenceTable
    from credit_points.policy.config import PolicyConfig

    root = Path(bundle_dir)
    manifest = verify_bundle(root, expected_hash)
    model = _read(root, "pd_model.json")
    model["booster"] = (root / "booster.txt").read_text(encoding="utf-8")
    ident = identity or ModelIdentity()
    engine = DecisionEngine(
        points_config=PointsConfig.model_validate(_read(root, "points_config.json")),
        reference=ReferenceTable.from_dict(_read(root, "reference.json")),
        pd_config=PDModelConfig.model_validate(_read(root, "pd_config.json")),
        classifier=PDClassifier.from_dict(model),
        policy=PolicyConfig.model_validate(_read(root, "policy.json")),
        reason_codes_config=ReasonCodesConfig.model_validate(_read(root, "reason_codes.json")),
        fields=FieldsConfig.model_validate(_read(root, "fields.json")),
        identity=ModelIdentity(ident.name, ident.version, artifact_hash(manifest), ident.run_id),
        model_card=_read(root, "model_card.json"),
    )
    if check_golden:
        check_golden_predictions(engine, _read(root, "golden.json"), where=str(root))
    return engine


def golden_inputs_frame(records: list[Mapping[str, Any]]) -> pd.DataFrame:
    """Typed applicant frame from JSON records (as stored in golden.json and in audit rows)."""
    from credit_points.datasets.schema import validate_applicants

    good, errors = validate_applicants(pd.DataFrame.from_records(list(records)))
    if len(errors):
        first = errors.iloc[0]
        raise ModelError(f"stored input does not validate: {first['field']}: {first['reason']}")
    return good


def check_golden_predictions(
    engine: DecisionEngine, golden: Mapping[str, Any], *, where: str = "bundle"
) -> None:
    """Re-decide the stored inputs; raise :class:`ModelError` unless every output matches.

    A bundle saved by an older decision logic (``golden.json`` without ``decision_logic``, or an older
    one) is not held to the columns the logic changed since (``records.LOGIC_CHANGES``): the model and
    its configs reproduce, the newer logic derives those columns differently on purpose.
    """
    from credit_points.records import changed_since

    inputs = golden_inputs_frame(golden["inputs"])
    expected = pd.DataFrame.from_records(golden["expected"])
    actual = engine.decide(inputs, explain="all").reset_index(drop=True)
    changed = {path.rsplit(".", 1)[-1] for path in changed_since(golden.get("decision_logic"))}
    for col in (c for c in GOLDEN_COLUMNS if c not in changed):
        exp = expected[col].to_numpy()
        got = actual[col].to_numpy()
        if exp.dtype.kind == "f" or got.dtype.kind == "f":
            ok = np.allclose(got.astype(float), exp.astype(float), rtol=0, atol=1e-12, equal_nan=True)
        else:
            ok = bool((got.astype(str) == exp.astype(str)).all())
        if not ok:
            raise ModelError(f"{where}: golden predictions differ in {col!r}; the bundle does not reproduce")
