"""The model registry: register a bundle as a version, move aliases, and fetch a verified local copy.

Serving never calls the registry on the request path: at start-up it resolves ``models:/name@alias`` to a
concrete version, downloads the bundle once into ``models/<name>/<version>/`` and verifies its hashes. A copy is reused only
while it is the registry's version (same run id and artifact hash): after the registry changed (a team
moved to a tracking server, or a fresh store numbered its versions from 1 again) the copy is replaced by a
fresh, verified download. When the registry is unreachable it serves the newest local copy it has verified.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from credit_points.bundle import MANIFEST, verify_bundle
from credit_points.engine import DecisionEngine
from credit_points.exceptions import ModelError

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")
_RESOLVED = "resolved.json"


@dataclass(frozen=True)
class ResolvedModel:
    """A concrete registry version and where its verified bundle lies."""

    name: str
    version: str
    alias: str | None
    run_id: str
    artifact_hash: str
    bundle_dir: str
    source: str  # "registry", "local-cache" or "folder"

    @property
    def registered(self) -> bool:
        """A concrete registry version (or a verified local copy of one): what audited decisions may pin."""
        return self.source != "folder" and self.version not in {"", "local", "unregistered"}


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``models:/name@alias`` or ``models:/name/3`` into (name, alias, version).

    Examples:
        >>> parse_models_uri("models:/credit-points@champion")
        ('credit-points', 'champion', None)
        >>> parse_models_uri("models:/credit-points/7")
        ('credit-points', None, '7')
    """
    match = _MODELS_URI.match(uri)
    if not match:
        raise ModelError(f"model URI {uri!r} is not of the form models:/NAME@ALIAS or models:/NAME/VERSION")
    return match["name"], match["alias"], match["version"]


def _cache_root(models_dir: Path, name: str) -> Path:
    return models_dir / name


def _find_bundle(model_dir: Path) -> Path:
    for candidate in [model_dir, *sorted(p for p in model_dir.rglob(MANIFEST))]:
        path = candidate if candidate.is_dir() else candidate.parent
        if (path / MANIFEST).is_file():
            return path
    raise ModelError(f"{model_dir}: no bundle (MANIFEST.json) inside the model")


def _write_resolved(target: Path, resolved: ResolvedModel) -> None:
    (target / _RESOLVED).write_text(json.dumps(asdict(resolved), indent=2), encoding="utf-8")


def fetch_model(uri: str, models_dir: str | Path, *, allow_cached: bool = True) -> ResolvedModel:
    """Resolve ``uri`` to a concrete version and return its verified local bundle.

    ``uri`` may be a bundle folder (used in place), or ``models:/name@alias`` / ``models:/name/version``
    (resolved through the registry, downloaded once, verified). When the registry cannot be reached and
    ``allow_cached`` is set, the newest verified local copy for that alias (or version) is used.
    """
    path = Path(uri)
    if not uri.startswith("models:/"):
        if not path.is_dir():
            raise ModelError(f"{uri}: not a bundle folder and not a models:/ URI")
        bundle = _find_bundle(path)
        manifest = verify_bundle(bundle)
        from credit_points.bundle import artifact_hash

        return ResolvedModel(path.name, "local", None, "", artifact_hash(manifest), str(bundle), "folder")

    name, alias, version = parse_models_uri(uri)
    root = _cache_root(Path(models_dir), name)
    try:
        return _fetch_from_registry(name, alias, version, root)
    except ModelError:
        raise
    except Exception as exc:  # the registry is down or unreachable: fall back to the verified copy
        if not allow_cached:
            raise ModelError(f"model registry unreachable for {uri}: {type(exc).__name__}") from None
        cached = latest_cached(root, alias=alias, version=version)
        if cached is None:
            raise ModelError(
                f"model registry unreachable for {uri} ({type(exc).__name__}) and no verified local copy"
            ) from None
        return cached


def _fetch_from_registry(name: str, alias: str | None, version: str | None, root: Path) -> ResolvedModel:
    import mlflow
    from mlflow import MlflowClient

    from credit_points.bundle import artifact_hash

    client = MlflowClient()
    mv = (
        client.get_model_version_by_alias(name, alias)
        if alias
        else client.get_model_version(name, version or "")
    )
    target = root / str(mv.version)
    expected = (mv.tags or {}).get("artifact_hash")
    root.mkdir(parents=True, exist_ok=True)
    with _folder_lock(root):  # several workers may fetch the same version at once (a reload reaches all)
        manifest = _current_copy(target, mv.run_id or "", expected)
        if manifest is None:
            # none yet, or a copy of another registry's (or an earlier store's) "version N": a fresh download
            tmp = Path(tempfile.mkdtemp(prefix=f".{mv.version}-", dir=root))
            try:
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(tmp)
                )
                manifest = verify_bundle(_find_bundle(tmp), expected)
                if target.exists():
                    shutil.rmtree(target)
                tmp.rename(target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        bundle = _find_bundle(target)
        resolved = ResolvedModel(
            name, str(mv.version), alias, mv.run_id or "", artifact_hash(manifest), str(bundle), "registry"
        )
        _write_resolved(target, resolved)
        if alias:
            (root / f"@{alias}.json").write_text(json.dumps(asdict(resolved), indent=2), encoding="utf-8")
    return resolved


def _current_copy(target: Path, run_id: str, expected: str | None) -> dict[str, Any] | None:
    """The verified manifest of the local copy when it is the registry's version (same run, same artifact
    hash); None when there is no copy, or it came from elsewhere, or it no longer verifies."""
    try:
        cached = json.loads((target / _RESOLVED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if cached.get("run_id") != run_id or (expected and cached.get("artifact_hash") != expected):
        return None
    try:
        return verify_bundle(_find_bundle(target), expected)
    except ModelError:
        return None


@contextlib.contextmanager
def _folder_lock(root: Path) -> Iterator[None]:
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def latest_cached(
    root: Path, *, alias: str | None = None, version: str | None = None
) -> ResolvedModel | None:
    """The last verified local copy for an alias (or a version), re-verified now; None when there is none."""
    pointer = root / (f"@{alias}.json" if alias else f"{version}/{_RESOLVED}")
    if not pointer.is_file():
        return None
    data = json.loads(pointer.read_text(encoding="utf-8"))
    verify_bundle(data["bundle_dir"], data["artifact_hash"])
    return ResolvedModel(**{**data, "source": "local-cache"})


#: rows of the bundle's golden inputs logged as the version's input example (synthetic ids, no names)
_EXAMPLE_ROWS = 3
#: applicant-record dtypes (``configs/fields.yaml``) as MLflow column types; counts arrive as numbers
_SIGNATURE_TYPES = {"string": "string", "category": "string", "date": "datetime", "float": "double",
                    "int": "double", "bool": "boolean"}  # fmt: skip


def bundle_signature(
    bundle_dir: str | Path, engine: DecisionEngine | None = None
) -> tuple[Any, pd.DataFrame]:
    """The version's signature and input example, of the bundle ``engine`` saved (loaded from the folder
    when no engine is at hand).

    Inputs are the applicant record of the bundle's ``fields.json`` (a field the record may leave empty is
    optional); outputs are the columns its engine decides, inferred on the example, which is the first
    golden inputs (synthetic identities, checked at every load).
    """
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    from credit_points.bundle import golden_inputs_frame, load_bundle

    if engine is None:
        engine = load_bundle(bundle_dir, check_golden=False)
    golden = json.loads((Path(bundle_dir) / "golden.json").read_text(encoding="utf-8"))
    example = golden_inputs_frame(golden["inputs"][:_EXAMPLE_ROWS])
    example = example[[f.name for f in engine.fields.fields if f.name in example.columns]]
    inputs = Schema(
        [
            ColSpec(_SIGNATURE_TYPES[f.dtype], f.name, required=f.required and not f.nullable)
            for f in engine.fields.fields
        ]
    )
    outputs = infer_signature(example, engine.decide(example, explain="none")).outputs
    params = ParamSchema([ParamSpec("explain", "string", "adverse")])  # DecisionBundleModel.predict's
    return ModelSignature(inputs=inputs, outputs=outputs, params=params), example


def register_bundle(
    bundle_dir: str | Path,
    *,
    name: str,
    artifact_hash: str,
    run_id: str,
    engine: DecisionEngine | None = None,
) -> str:
    """Log the bundle as a "models from code" pyfunc in the active run (with its signature and an input
    example) and register a new version; ``engine``, the one that saved it, spares loading it again."""
    import mlflow

    from credit_points.tracking import pyfunc_model

    signature, example = bundle_signature(bundle_dir, engine)
    info = mlflow.pyfunc.log_model(
        name="decision-bundle",
        python_model=pyfunc_model.__file__,
        artifacts={"bundle": str(bundle_dir)},
        registered_model_name=name,
        pip_requirements=[f"credit-points=={_own_version()}"],
        signature=signature,
        input_example=example,
    )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_model_version_tag(name, version, "artifact_hash", artifact_hash)
    client.set_model_version_tag(name, version, "run_id", run_id)
    return version


def _own_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("credit-points")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "0"


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``alias`` (``challenger`` / ``champion``) at a concrete version."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(name, alias, version)


def alias_version(name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias is not set."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_with_tag(name: str, tag: str, value: str) -> Any:
    """The registered version of ``name`` whose tag ``tag`` is ``value`` (what makes a job idempotent: the
    key of its inputs), or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        versions = MlflowClient().search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    return next((v for v in versions if v.tags.get(tag) == value), None)
