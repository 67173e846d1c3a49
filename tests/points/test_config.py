"""Profiles load; bad profiles are rejected at load naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from credit_points.config import CONFIG_DIR, deep_merge, load_config
from credit_points.exceptions import ConfigError
from credit_points.points.config import PointsConfig, load_points_config, profile_names

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("name", ["torch-18", "changsha-38", "wuxi-42"])
def test_shipped_profiles_load_with_their_declared_shape(name):
    cfg = load_points_config(name)
    n_indicators = int(name.split("-")[1])
    assert len(cfg.indicators) == n_indicators
    assert len(cfg.categories) == (3 if name == "torch-18" else 4)
    assert cfg.provenance and "Reconstruction" in cfg.provenance and "Published facts" in cfg.provenance
    np.testing.assert_allclose(cfg.stage_weight_matrix.sum(axis=1), cfg.scale)
    assert {v.id for v in cfg.vetoes} == {"serious_dishonesty", "licence_revoked", "pboc_npl", "tax_grade_d"}


def test_profile_names_lists_the_shipped_files():
    assert {"torch-18", "changsha-38", "wuxi-42"} <= set(profile_names())


def test_wuxi_has_reverse_indicators():
    cfg = load_points_config("wuxi-42")
    reverse = [i for i in cfg.indicators if i.category == "reverse"]
    assert reverse and all(i.direction == "lower" for i in reverse)


def test_generic_loader_validates_by_kind():
    cfg = load_config(CONFIG_DIR / "points" / "torch-18.yaml")
    assert isinstance(cfg, PointsConfig)


def test_the_hash_ignores_formatting(tmp_path):
    # given the same profile re-serialised with other key order and layout
    data = yaml.safe_load((CONFIG_DIR / "points" / "torch-18.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(dict(reversed(list(data.items()))), allow_unicode=True), encoding="utf-8")
    assert load_points_config(path).content_hash == load_points_config("torch-18").content_hash


def test_an_overlay_changes_the_hash_but_not_the_reference_key():
    base = load_points_config("torch-18")
    bank = load_points_config("torch-18", overlays=[HERE / "valid" / "overlay-partner-bank.yaml"])
    assert bank.bonus.cap == 20 and bank.scoring.full_at == 0.95
    assert bank.content_hash != base.content_hash
    assert bank.reference_key == base.reference_key


def test_a_whole_zone_is_one_yaml_file():
    cfg = load_points_config(HERE / "valid" / "minimal-zone.yaml")
    assert cfg.scale == 200
    assert {i.kind for i in cfg.indicators} == {"percentile", "tier", "banded", "boolean"}


def _materialise(spec_path: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    data: dict[str, Any] = yaml.safe_load(
        (CONFIG_DIR / "points" / f"{spec['base']}.yaml").read_text(encoding="utf-8")
    )
    data = deep_merge(data, spec.get("patch", {}))
    if "indicator_patch" in spec:
        k = spec["indicator_patch"]["index"]
        data["indicators"][k] = {**data["indicators"][k], **spec["indicator_patch"]["set"]}
    path = tmp_path / spec_path.name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path, spec["expect"]


@pytest.mark.parametrize("spec_path", INVALID, ids=[p.stem for p in INVALID])
def test_bad_profiles_are_rejected_naming_file_and_key(spec_path, tmp_path):
    # given a profile broken as described in the example file
    path, expected = _materialise(spec_path, tmp_path)
    # when it is loaded, then the error names the file and the key
    with pytest.raises(ConfigError) as info:
        load_points_config(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert info.value.location is not None
    assert info.value.location.split(".")[0] == expected[0].split(".")[0]


def test_an_unknown_profile_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="file not found"):
        load_points_config("no-such-zone")
