"""PD model configuration: the default profile loads; mistakes fail at load naming the key."""

from __future__ import annotations

import pytest
import yaml

from credit_points.config import config_hash
from credit_points.exceptions import ConfigError
from credit_points.pd_model.config import PDModelConfig, load_pd_config


def _write(tmp_path, data):
    path = tmp_path / "pd.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture()
def raw(pd_config: PDModelConfig) -> dict:
    return pd_config.model_dump(mode="json")


def test_default_profile_has_the_required_parts(pd_config: PDModelConfig) -> None:
    # given the shipped profile / when loaded / then scale, floor, threads and constraints are as the domain asks
    assert pd_config.kind == "pd_model"
    assert len(pd_config.master_scale.grades) >= 7
    assert pd_config.master_scale.default_grade == "D"
    assert pd_config.master_scale.pd_floor == pytest.approx(0.0003)
    assert pd_config.lightgbm.deterministic and pd_config.lightgbm.num_threads >= 1
    mono = dict(zip(pd_config.feature_names, pd_config.monotone_constraints, strict=True))
    assert mono["max_overdue_days_24m"] == 1
    assert mono["points_total"] == -1


def test_profile_round_trips_through_yaml_with_the_same_hash(tmp_path, raw) -> None:
    loaded = load_pd_config(_write(tmp_path, raw))
    assert config_hash(loaded) == config_hash(raw)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["features"].append(dict(d["features"][0])), "duplicate feature names"),
        (lambda d: d["features"][0].update(source="default_12m"), "point-in-time"),
        (lambda d: d["features"][0].update(source="true_pd * 2"), "point-in-time"),
        (lambda d: d["features"][0].update(encoding="nope"), "encoding 'nope'"),
        (lambda d: d["features"][0].update(monotone=2), "monotone"),
        (lambda d: d["master_scale"]["grades"].reverse(), "pd_max must increase"),
        (lambda d: d["master_scale"].update(grades=d["master_scale"]["grades"][:6]), "grades"),
        (lambda d: d["lightgbm"].update(num_leafs=3), "num_leafs"),
        (lambda d: d["selection"].update(weights=[0.0, 1.5]), "weights must lie"),
    ],
)
def test_invalid_profiles_fail_at_load_naming_the_problem(tmp_path, raw, mutate, needle) -> None:
    # given a profile with one mistake
    mutate(raw)
    # when loaded / then one ConfigError names it
    with pytest.raises(ConfigError, match=needle):
        load_pd_config(_write(tmp_path, raw))
