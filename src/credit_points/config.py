"""Configuration: strict frozen pydantic models, YAML loading with overlays, content hashes, env settings.

Every file under ``configs/`` carries a ``kind`` (which model validates it) and a ``version``. Its
SHA-256 over canonical JSON is what decisions record, so two files that mean the same thing hash the same
whatever their formatting.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from credit_points.exceptions import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "configs"

T = TypeVar("T", bound="VersionedConfig")


class StrictModel(BaseModel):
    """Base of every configuration model: immutable, and a typo in a key fails at load."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionedConfig(StrictModel):
    """A top-level configuration file.

    Attributes:
        kind: which model validates the file (``points``, ``pd_model``, ``policy``, ``fields`` ...).
        version: the version a decision records beside the hash.
        provenance: which parts are published facts and which are reconstruction.
    """

    kind: str
    version: str = Field(min_length=1)
    provenance: str | None = None

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of this configuration."""
        return config_hash(self)


# kind -> "module:Class"; imported lazily so that loading one kind never imports the others.
CONFIG_KINDS: dict[str, str] = {
    "fields": "credit_points.datasets.fields:FieldsConfig",
    "generator": "credit_points.datasets.generator_config:GeneratorConfig",
    "points": "credit_points.points.config:PointsConfig",
    "pd_model": "credit_points.pd_model.config:PDModelConfig",
    "policy": "credit_points.policy.config:PolicyConfig",
    "product": "credit_points.policy.config:ProductConfig",
    "reason_codes": "credit_points.explain.config:ReasonCodesConfig",
    "promotion": "credit_points.tracking.gate:PromotionConfig",
    "monitoring": "credit_points.pipelines.monitor:MonitoringConfig",
    "messages": "credit_points.reports.messages:MessagesConfig",
    "whatif": "credit_points.explain.whatif:WhatIfConfig",
    "override_policy": "credit_points.policy.overrides:OverridePolicy",
}
#: checks beyond a file's own schema, run by ``validate_file`` exactly as loading runs them: a policy with
#: its products embedded and every expression compiled against the record and the upstream columns, a
#: product file in the context of each policy that lists it
CONFIG_CHECKS: dict[str, str] = {
    "policy": "credit_points.policy.config:check_policy_file",
    "product": "credit_points.policy.config:check_product_file",
}


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed.

    Examples:
        >>> canonical_json({"b": 1, "a": [1.5, "x"]})
        '{"a":[1.5,"x"],"b":1}'
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str | bytes) -> str:
    """Hex SHA-256 of text (UTF-8) or bytes."""
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of a model or a plain mapping.

    Examples:
        >>> config_hash({"a": 1}) == config_hash({"a": 1.0 if False else 1})
        True
    """
    return sha256_text(canonical_json(data))


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` over ``base``: mappings merge key by key, anything else is replaced.

    Examples:
        >>> deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}})
        {'a': {'x': 1, 'y': 3}, 'b': 1}
    """
    merged: dict[str, Any] = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping, with errors that name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror})", path=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", path=str(path), location=where
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level; got {type(data).__name__}", path=str(path))
    return data


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem, as ``location: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{loc}: {err['msg']}")
    return lines


def model_for_kind(kind: str) -> type[VersionedConfig]:
    """The configuration model class registered for ``kind``."""
    try:
        target = CONFIG_KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown kind {kind!r}; expected one of {sorted(CONFIG_KINDS)}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def resolve_config_path(name_or_path: str | Path, subdir: str) -> Path:
    """A path as given, or a profile name looked up as ``configs/<subdir>/<name>.yaml``.

    Examples:
        >>> resolve_config_path("torch-18", "points").name
        'torch-18.yaml'
    """
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return path
    return CONFIG_DIR / subdir / f"{name_or_path}.yaml"


def validate_mapping(data: Mapping[str, Any], model: type[T], *, path: str | None = None) -> T:
    """Validate a mapping against ``model``; every problem is listed in one :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc)
        raise ConfigError("; ".join(problems), path=path) from None


def load_config(
    path: str | Path,
    model: type[T] | None = None,
    *,
    overlays: list[str | Path] | tuple[str | Path, ...] = (),
) -> T:
    """Load a YAML config, merge overlays over it (a partner bank's changes) and validate it.

    Args:
        path: the base file.
        model: the model class; by default the one registered for the file's ``kind``.
        overlays: files merged over the base in order.

    Raises:
        ConfigError: naming the file and the key of every problem.
    """
    data = read_yaml(path)
    for overlay in overlays:
        data = deep_merge(data, read_yaml(overlay))
    if model is None:
        kind = data.get("kind")
        if not isinstance(kind, str):
            raise ConfigError(
                "missing 'kind' (which configuration this file is)", path=str(path), location="kind"
            )
        try:
            model = model_for_kind(kind)  # type: ignore[assignment]
        except ConfigError as exc:
            raise ConfigError(str(exc), path=str(path), location="kind") from None
    return validate_mapping(data, model, path=str(path))  # type: ignore[arg-type]


def validate_file(path: str | Path) -> list[str]:
    """Every problem in one config file, as ``file: location: message`` lines (empty when valid)."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        return [str(exc)]
    kind = data.get("kind")
    if not isinstance(kind, str):
        return [f"{path}: kind: missing 'kind' (which configuration this file is)"]
    try:
        model = model_for_kind(kind)
    except ConfigError as exc:
        return [f"{path}: kind: {exc}"]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [f"{path}: {line}" for line in format_validation_error(exc)]
    except ConfigError as exc:
        return [f"{path}: {exc}"]
    if kind in CONFIG_CHECKS:
        module_name, _, function = CONFIG_CHECKS[kind].partition(":")
        try:
            getattr(importlib.import_module(module_name), function)(path)
        except ConfigError as exc:
            return [str(exc)]
    return []


class Settings(BaseSettings):
    """Deployment settings from the environment (``CREDIT_POINTS_*``) or a ``.env`` file; never business numbers."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_POINTS_", env_file=".env", extra="ignore")

    home: Path = Field(default=PROJECT_ROOT, description="Where data/, mlruns/ and models/ live.")
    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default SQLite under home."
    )
    registry_model_name: str = "credit-points"
    model_uri: str = "models:/credit-points@champion"
    shadow_model_uri: str | None = Field(
        default=None,
        description="A challenger that decides every served request again in shadow, after the answer "
        "(e.g. models:/credit-points@challenger); its decisions go to the shadow table only.",
    )
    shadow_max_cpu_busy: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="The shadow decides only while the machine's CPUs are at most this busy (0-1), at idle "
        "priority; 1: whenever it has work, at nice 19 (it keeps up, at some cost to the answers when the CPUs "
        "are saturated).",
    )
    audit_url: str | None = Field(default=None, description="SQLAlchemy URL of the audit store.")
    points_config: str = "torch-18"
    pd_config: str = "default"
    lightgbm_threads: int = 1
    max_body_bytes: int = 1_000_000
    max_concurrency: int = 64
    registry_timeout_s: float = 5.0
    log_level: str = "INFO"
    pdf_engine: Literal["auto", "chromium", "weasyprint"] = Field(
        default="auto",
        description="What prints PDF reports: headless Chromium (one browser per process, pages printed in "
        "parallel), WeasyPrint, or auto: Chromium when it is installed, else WeasyPrint.",
    )
    chromium_path: str | None = Field(
        default=None,
        description="The Chromium executable; default: chromium, chromium-browser or google-chrome on PATH.",
    )

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def mlflow_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.home / 'mlruns' / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.home / "mlruns" / "artifacts"

    @property
    def audit_db_url(self) -> str:
        return self.audit_url or f"sqlite:///{self.data_dir / 'audit.db'}"


#: settings earlier releases defined and no longer read, and what replaces them (README, "Upgrade notes")
RETIRED_SETTINGS = {
    "CREDIT_POINTS_POLICY_CONFIG": "the policy in force is the one registered with the model: preview a change "
    "with `credit-points policy simulate FILE`, put it in force with `credit-points policy apply FILE`",
}


def get_settings() -> Settings:
    """Settings read now from the environment (not cached: tests change the environment). A retired
    setting still set is named in a warning with what replaces it (it would otherwise be ignored silently)."""
    import logging

    for name, instead in RETIRED_SETTINGS.items():
        if os.environ.get(name):
            logging.getLogger("credit_points.config").warning(
                "%s is set but no longer read: %s", name, instead
            )
    return Settings()
