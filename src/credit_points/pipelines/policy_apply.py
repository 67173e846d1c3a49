"""Put a policy change in force: the model in force, registered again with the new policy, through the gate.

The policy is frozen in the bundle (what decided is what replays), so a policy change is a new bundle
version: the same booster, points rules and reference population, the new policy, golden decisions
recomputed under it. The run and the version record the old and new policy hashes, the policy file's
digest, the version it was built from and who applied it. The version goes through the promotion gate like
any challenger (the PDs are the model's own, so the gate judges that the model still holds on the latest
outcomes) and the gate moves ``@champion`` on a pass; decisions from then on carry the new policy hash,
and every earlier decision still replays under the version, and so the policy, it recorded. The same model
and policy make no new version.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from credit_points.config import Settings, get_settings
from credit_points.exceptions import ConfigError, ModelError

#: version tag: the model artifact and the policy it was registered with (one version per pair)
KEY_TAG = "policy.apply_key"
#: the alias the new version holds while the gate judges it
CANDIDATE_ALIAS = "policy-candidate"


@dataclass
class PolicyApplyOutcome:
    """What ``policy apply`` did."""

    version: str
    created: bool
    promoted: bool
    old_hash: str
    new_hash: str
    failed: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.promoted else 1


def run_policy_apply(
    policy_file: str | Path,
    *,
    model_uri: str = "models:/credit-points@champion",
    data: str | Path | None = None,
    applied_by: str | None = None,
    gate_config: str | Path | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
) -> PolicyApplyOutcome:
    """Register the model of ``model_uri`` with the policy of ``policy_file`` (a policy file or an overlay of
    the one in force), gate it on the outcomes in ``data`` and make it ``@champion`` on a pass."""
    import mlflow
    from mlflow import MlflowClient

    from credit_points.bundle import golden_inputs_frame, save_bundle
    from credit_points.pd_model.oot import read_training_firms
    from credit_points.pipelines.evaluate import run_promote
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.policy_sim import load_proposed_policy
    from credit_points.tracking.registry import register_bundle, set_alias, version_with_tag
    from credit_points.tracking.runs import training_run
    from credit_points.tracking.setup import configure_tracking

    settings = settings or get_settings()
    console = console or Console()
    configure_tracking(settings)
    name = settings.registry_model_name
    engine, resolved = load_engine(model_uri, settings, allow_cached=False)
    if not resolved.registered:
        raise ModelError(
            f"--model takes a registry version (models:/NAME/VERSION or @ALIAS), not {model_uri!r}"
        )
    proposed = load_proposed_policy(policy_file, engine.policy)
    old_hash, new_hash = engine.policy.content_hash, proposed.content_hash
    if old_hash == new_hash:
        raise ConfigError(
            f"{policy_file} is the policy version {resolved.version} already has (hash {new_hash[:12]}): nothing to apply"
        )
    key = hashlib.sha256(f"{resolved.artifact_hash}\x1f{new_hash}".encode()).hexdigest()
    client = MlflowClient()
    earlier = version_with_tag(name, KEY_TAG, key)
    if earlier is not None:
        passed = earlier.tags.get("policy.gate") == "passed"
        console.print(
            f"no new version: version {earlier.version} is version {resolved.version}'s model with this policy "
            f"({new_hash[:12]}) and {'passed' if passed else 'failed'} the gate"
        )
        failed = [f for f in earlier.tags.get("policy.failed", "").split(",") if f]
        return PolicyApplyOutcome(str(earlier.version), False, passed, old_hash, new_hash, failed)

    who = applied_by or _user()
    file_sha = hashlib.sha256(Path(policy_file).read_bytes()).hexdigest()
    change = {
        "from_version": resolved.version,
        "from_artifact_hash": resolved.artifact_hash,
        "old_policy": {"version": engine.policy.version, "hash": old_hash},
        "new_policy": {"version": proposed.version, "hash": new_hash},
        "file": str(policy_file),
        "file_sha256": file_sha,
        "applied_by": who,
        "applied_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    card = {**dict(engine.model_card), "policy_change": change}
    new_engine = engine.with_policy(proposed)
    golden = golden_inputs_frame(_golden_inputs(resolved.bundle_dir))
    tags = {
        "run_kind": "policy_apply",
        "policy.old_hash": old_hash,
        "policy.new_hash": new_hash,
        "policy.applied_by": who,
        "policy.from_version": resolved.version,
        "policy.file_sha256": file_sha,
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        training_run(f"policy {proposed.version} {new_hash[:12]}", tags) as run,
    ):
        mlflow.log_artifact(str(policy_file), "policy")
        mlflow.log_dict(change, "policy/policy_change.json")
        bundle_dir = Path(tmp) / "bundle"
        artifact = save_bundle(
            new_engine,
            bundle_dir,
            golden_inputs=golden,
            model_card=card,
            training_firms=read_training_firms(resolved.bundle_dir),  # same model, same OOT rows
        )
        version = register_bundle(
            bundle_dir, name=name, artifact_hash=artifact, run_id=run.info.run_id, engine=new_engine
        )
        set_alias(name, CANDIDATE_ALIAS, version)
    for tag, value in {**tags, KEY_TAG: key}.items():
        if tag != "run_kind":
            client.set_model_version_tag(name, version, tag, value)
    console.print(
        f"registered {name} version {version}: version {resolved.version}'s model with policy {proposed.version} "
        f"({old_hash[:12]} -> {new_hash[:12]}), applied by {who}"
    )
    gate = run_promote(
        data or settings.data_dir / "raw",
        challenger=CANDIDATE_ALIAS,
        config=gate_config,
        settings=settings,
        console=console,
    )
    client.delete_registered_model_alias(name, CANDIDATE_ALIAS)
    failed = [c.name for c in gate.gate.failures]
    client.set_model_version_tag(name, version, "policy.gate", "passed" if gate.promoted else "failed")
    client.set_model_version_tag(name, version, "policy.failed", ",".join(failed))
    if gate.promoted:
        console.print(
            f"[green]version {version} is @champion: the next decisions carry policy {new_hash[:12]}[/green]"
        )
    else:
        details = "; ".join(f"{c.name} ({c.detail})" for c in gate.gate.failures)
        console.print(f"[red]version {version} refused by the gate: {details}[/red]")
    return PolicyApplyOutcome(str(version), True, gate.promoted, old_hash, new_hash, failed)


def _golden_inputs(bundle_dir: str) -> list[Mapping[str, Any]]:
    import json

    return list(json.loads((Path(bundle_dir) / "golden.json").read_text(encoding="utf-8"))["inputs"])


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without one): say so
        return "unknown"
