"""One command from outcomes to the next challenger: import → training table → train → gate → register.

``credit-points retrain`` is what a model team schedules once outcomes arrive: it imports the outcome files
given (an import of the same bytes adds nothing), builds the point-in-time training table from the audit
store (the bank's historical book plus the audited decisions, ``outcomes dataset``), trains on it with the
configured reject inference, gates the new version against the champion on its out-of-time cohort, and
gives it the ``challenger`` alias — or refuses, naming each failed criterion. The same inputs (the same
table, configurations and gate) make no new version: the earlier verdict is reported instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from credit_points.audit.store import AuditStore
from credit_points.config import Settings, get_settings
from credit_points.exceptions import DataValidationError

#: defaults a table needs before a model can learn anything from it (below: said, and the history asked for)
MIN_DEFAULTS = 100
#: the registry tag that keys a version by the inputs that trained it
KEY_TAG = "retrain.inputs_sha256"
CANDIDATE_ALIAS = "retrain-candidate"


@dataclass
class RetrainOutcome:
    """What ``retrain`` did: the version it registered (or found), the gate's verdict, the warnings."""

    version: str | None
    passed: bool
    new_version: bool
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table: Path | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def _inputs_key(table_digest: str, *hashes: str) -> str:
    return hashlib.sha256("\x1f".join([table_digest, *hashes]).encode()).hexdigest()


def run_retrain(
    store: AuditStore,
    *,
    outcomes: list[Path] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
    points_config: str = "torch-18",
    pd_config: str = "default",
    policy: str = "default",
    reject_inference: str | None = None,
    gate_config: str | Path | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
) -> RetrainOutcome:
    """Import ``outcomes``, build the training table, train, gate and register the next challenger."""
    from mlflow import MlflowClient

    from credit_points.config import CONFIG_DIR, load_config
    from credit_points.datasets.io import write_table
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.reject_inference import with_reject_inference
    from credit_points.pipelines.common import frame_digest
    from credit_points.pipelines.evaluate import run_promote
    from credit_points.pipelines.outcomes import build_dataset, dataset_manifest, import_performance
    from credit_points.pipelines.train import run_train
    from credit_points.points.config import load_points_config
    from credit_points.policy.config import load_policy
    from credit_points.tracking.gate import PromotionConfig
    from credit_points.tracking.registry import version_with_tag
    from credit_points.tracking.setup import configure_tracking

    settings = settings or get_settings()
    console = console or Console()
    warnings: list[str] = []
    for path in outcomes or []:  # 1. outcomes (the same bytes twice: nothing new)
        summary = import_performance(store, path, today=today)
        if summary.already_imported_at is not None:
            console.print(f"{path}: already imported on {summary.already_imported_at}")
        else:
            console.print(f"{path}: {summary.kept:,} row(s) stored, {summary.refused:,} refused")
            if summary.refused:
                warnings.append(f"{path}: {summary.refused} row(s) refused (see `outcomes import --errors`)")
    frame = build_dataset(store, since=since, until=until)  # 2. the point-in-time table
    if not len(frame):
        raise DataValidationError(
            "holds no decisions and no historical book to learn from", field="audit store"
        )
    matured = frame[frame["outcome"] == "matured"]
    defaults = int(matured["default_12m"].astype(int).sum()) if len(matured) else 0
    audited = matured["source"].eq("audit")
    console.print(
        f"training table: {len(frame):,} application(s), {len(matured):,} matured loans with {defaults:,} "
        f"default(s) ({int((~audited).sum()):,} from the historical book, {int(audited.sum()):,} audited)"
    )
    if len(matured) and audited.all():
        warnings.append(
            f"only audited decisions have matured outcomes ({defaults} default(s) among {len(matured)} loans): one "
            "audited year alone has too few defaults to learn from — import the bank's historical book "
            "(`outcomes import --history`)"
        )
    if defaults < MIN_DEFAULTS:
        warnings.append(
            f"{defaults} default(s) in the table, fewer than {MIN_DEFAULTS}: the model will be weak"
        )
    for warning in warnings:
        console.print(f"[yellow]{warning}[/yellow]")
    table_dir = settings.home / "data" / "retrain"
    table_dir.mkdir(parents=True, exist_ok=True)
    digest = frame_digest(frame)
    table = table_dir / f"training-{digest[:12]}.parquet"
    write_table(frame, table)
    manifest = dataset_manifest(store, frame)
    table.with_name(table.name + ".manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    pd_cfg = with_reject_inference(load_pd_config(pd_config), reject_inference)
    gate_cfg = load_config(gate_config or CONFIG_DIR / "promotion.yaml", PromotionConfig)
    key = _inputs_key(
        digest,
        load_points_config(points_config).content_hash,
        pd_cfg.content_hash,
        pd_cfg.reject_inference.method,
        load_policy(policy).content_hash,
        gate_cfg.content_hash,
    )
    configure_tracking(settings)
    name = settings.registry_model_name
    earlier = version_with_tag(name, KEY_TAG, key)  # 3. the same inputs: no new version
    if earlier is not None:
        passed = earlier.tags.get("retrain.gate") == "passed"
        failed = [f for f in earlier.tags.get("retrain.failed", "").split(",") if f]
        console.print(
            f"no new version: version {earlier.version} was trained on the same inputs "
            f"(table {digest[:12]}, configurations and gate) and {'passed' if passed else 'failed'} the gate"
            + (f": {', '.join(failed)}" if failed else "")
        )
        return RetrainOutcome(str(earlier.version), passed, False, failed, warnings, table)
    trained = run_train(  # 4. train (registered under a working alias until the gate speaks)
        table,
        points_config=points_config,
        pd_config=pd_config,
        policy=policy,
        alias=CANDIDATE_ALIAS,
        reject_inference=reject_inference,
        settings=settings,
        console=console,
    )
    client = MlflowClient()
    client.set_model_version_tag(name, trained.version, KEY_TAG, key)
    client.set_model_version_tag(name, trained.version, "retrain.table_sha256", digest)
    gate = run_promote(  # 5. the gate against the champion; a pass makes it the challenger
        table,
        challenger=CANDIDATE_ALIAS,
        config=gate_config,
        settings=settings,
        console=console,
        promote_to="challenger",
    )
    client.delete_registered_model_alias(name, CANDIDATE_ALIAS)
    failed = [c.name for c in gate.gate.failures]
    client.set_model_version_tag(
        name, trained.version, "retrain.gate", "passed" if gate.promoted else "failed"
    )
    client.set_model_version_tag(name, trained.version, "retrain.failed", ",".join(failed))
    if gate.promoted:
        console.print(f"[green]version {trained.version} is the new @challenger[/green]")
    else:
        details = "; ".join(f"{c.name} ({c.detail})" for c in gate.gate.failures)
        console.print(f"[red]version {trained.version} refused by the gate: {details}[/red]")
    return RetrainOutcome(trained.version, gate.promoted, True, failed, warnings, table)
