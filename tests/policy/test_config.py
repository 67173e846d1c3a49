"""Policy and product configuration: loading, embedding, hashing, overlays and rejected configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from credit_points.config import CONFIG_DIR, validate_file
from credit_points.exceptions import ConfigError
from credit_points.policy.config import PolicyConfig, load_policy


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of configs/policy and configs/products."""
    for sub in ("policy", "products"):
        shutil.copytree(CONFIG_DIR / sub, tmp_path / sub)
    return tmp_path


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_default_policy_embeds_the_four_products(policy: PolicyConfig) -> None:
    assert [p.id for p in policy.products] == [
        "keji_dai",
        "shanxin_dai",
        "jifen_dai",
        "renewal_without_principal",
    ]
    assert all(p.cap == 10_000_000 and p.rounding_unit == 10_000 for p in policy.products)
    assert all("econstruction" in (p.provenance or "") for p in policy.products)
    assert "econstruction" in (policy.provenance or "")
    assert policy.grades[-1] == "D"


def test_every_shipped_file_validates_by_its_kind() -> None:
    files = [*sorted((CONFIG_DIR / "products").glob("*.yaml")), CONFIG_DIR / "policy" / "default.yaml"]
    files.append(CONFIG_DIR / "reason_codes.yaml")
    for path in files:
        assert validate_file(path) == [], path


def test_hash_is_stable_and_covers_the_products(config_copy: Path) -> None:
    # given two loads of the same files
    first = load_policy(config_copy / "policy" / "default.yaml")
    again = load_policy(config_copy / "policy" / "default.yaml")
    assert first.content_hash == again.content_hash
    # when one product file changes
    _edit(config_copy / "products" / "jifen_dai.yaml", cap=9_000_000)
    changed = load_policy(config_copy / "policy" / "default.yaml")
    # then the policy hash changes with it
    assert changed.content_hash != first.content_hash
    assert changed.product("jifen_dai").cap == 9_000_000


def test_a_policy_default_every_product_overrides_is_an_error_naming_both_places(config_copy: Path) -> None:
    # given the one product that follows the policy's PD cut-off setting its own
    _edit(config_copy / "products" / "jifen_dai.yaml", pd_cutoff=0.07)
    # when the policy is loaded, then the dead default is refused, naming the policy key and every product
    with pytest.raises(ConfigError) as refused:
        load_policy(config_copy / "policy" / "default.yaml")
    message = str(refused.value)
    assert "decision.pd_cutoff is never used" in message and "default.yaml" in message
    assert all(
        f"{p}.yaml" in message for p in ("keji_dai", "shanxin_dai", "jifen_dai", "renewal_without_principal")
    )
    # and `config validate` says the same, of the policy file and of the product file
    for path in (config_copy / "policy" / "default.yaml", config_copy / "products" / "jifen_dai.yaml"):
        assert any("decision.pd_cutoff is never used" in line for line in validate_file(path)), path
    # and without the policy's value every product's own applies
    text = (config_copy / "policy" / "default.yaml").read_text(encoding="utf-8")
    (config_copy / "policy" / "default.yaml").write_text(
        text.replace("  pd_cutoff: 0.08", "  # pd_cutoff: every product sets its own"), encoding="utf-8"
    )
    policy = load_policy(config_copy / "policy" / "default.yaml")
    assert policy.decision.pd_cutoff is None
    assert [policy.product_pd_cutoff(p) for p in policy.products] == [0.06, 0.06, 0.07, 0.10]


def test_a_product_with_no_value_and_no_policy_default_is_an_error(config_copy: Path) -> None:
    # given no policy cut-off and a product without its own
    text = (config_copy / "policy" / "default.yaml").read_text(encoding="utf-8")
    (config_copy / "policy" / "default.yaml").write_text(
        text.replace("  pd_cutoff: 0.08", "  # no default"), encoding="utf-8"
    )
    # then loading names the product and the missing setting
    with pytest.raises(
        ConfigError, match="'jifen_dai' sets no pd_cutoff and the policy has no decision.pd_cutoff"
    ):
        load_policy(config_copy / "policy" / "default.yaml")


def test_overlay_changes_a_product_through_product_overrides(tmp_path: Path, policy: PolicyConfig) -> None:
    # given a partner bank's overlay lowering 科技贷's cut-off and the LPR
    overlay = tmp_path / "bank.yaml"
    overlay.write_text(
        "version: 1.0.0-bank-a\npricing: {lpr_1y: 0.029}\nproduct_overrides: {keji_dai: {pd_cutoff: 0.05}}\n",
        encoding="utf-8",
    )
    # when
    bank = load_policy("default", overlays=[overlay])
    # then only those numbers move
    assert bank.pricing.lpr_1y == 0.029 and bank.pricing.cost_spread == policy.pricing.cost_spread
    assert bank.product("keji_dai").pd_cutoff == 0.05
    assert bank.product("jifen_dai") == policy.product("jifen_dai")
    assert bank.version == "1.0.0-bank-a" and bank.content_hash != policy.content_hash


@pytest.mark.parametrize(
    ("file", "changes", "message"),
    [
        (
            "products/jifen_dai.yaml",
            {
                "points_multipliers": [
                    {"min_points": 100, "multiplier": 0.8},
                    {"min_points": 60, "multiplier": 1.0},
                ]
            },
            "must not increase as points fall",
        ),
        (
            "products/keji_dai.yaml",
            {"risk_multipliers": [{"grade": "1", "multiplier": 0.5}, {"grade": "2", "multiplier": 1.0}]},
            "must not increase from the best grade",
        ),
        ("products/keji_dai.yaml", {"cap": 10_005_000}, "not a multiple of rounding_unit"),
        ("products/keji_dai.yaml", {"pd_cutoff": 0.05, "refer_pd_above": 0.06}, "above pd_cutoff"),
        ("products/keji_dai.yaml", {"capacity": "min(0.3 * revenue,"}, "not valid"),
        ("products/keji_dai.yaml", {"capacity": "0.3 * revenu"}, "unknown field"),
        ("products/keji_dai.yaml", {"capacity_formula": "revenue"}, "capacity_formula"),
        ("products/shanxin_dai.yaml", {"id": "shanxin"}, "catalogue says"),
        ("policy/default.yaml", {"catalogue": ["keji_dai", "no_such_product"]}, "file not found"),
        ("policy/default.yaml", {"decision": {"pd_cutoff": 0.05, "refer_pd_above": 0.2}}, "refer_pd_above"),
        (
            "policy/default.yaml",
            {"risk_multipliers": [{"grade": "1", "multiplier": 1.0}, {"grade": "1", "multiplier": 0.5}]},
            "duplicate grades",
        ),
    ],
)
def test_bad_configs_are_rejected_naming_file_and_key(
    config_copy: Path, file: str, changes: dict[str, object], message: str
) -> None:
    # given one broken file in a copy of the configs
    _edit(config_copy / file, **changes)
    # when / then
    with pytest.raises(ConfigError, match=message) as info:
        load_policy(config_copy / "policy" / "default.yaml")
    assert Path(file).stem in str(info.value) or "no_such_product" in str(info.value)


def test_unknown_field_error_names_the_location(config_copy: Path) -> None:
    _edit(config_copy / "products" / "keji_dai.yaml", capacity="0.3 * revenu")
    with pytest.raises(ConfigError) as info:
        load_policy(config_copy / "policy" / "default.yaml")
    assert info.value.location == "products.keji_dai.capacity"
    assert "revenu" in str(info.value)


def test_products_are_not_accepted_inline(config_copy: Path) -> None:
    _edit(config_copy / "policy" / "default.yaml", products=[{"id": "x"}])
    with pytest.raises(ConfigError, match="catalogue"):
        load_policy(config_copy / "policy" / "default.yaml")


def test_reserved_rule_ids_are_rejected(config_copy: Path) -> None:
    path = config_copy / "products" / "jifen_dai.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["eligibility"].append(
        {"id": "pd_cutoff", "expression": "prob_default < 0.1", "text_zh": "x", "text_en": "x"}
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="reserved"):
        load_policy(config_copy / "policy" / "default.yaml")


def test_embedded_policy_round_trips_through_json_with_the_same_hash(policy: PolicyConfig) -> None:
    # given the policy as the decision bundle stores it (plain JSON, products embedded)
    text = json.dumps(policy.model_dump(mode="json"), ensure_ascii=False)
    # when read back without the YAML files
    again = PolicyConfig.model_validate(json.loads(text))
    # then it is the same policy, with the same hash
    assert again == policy
    assert again.content_hash == policy.content_hash


def test_products_share_named_risk_compensation_schemes(config_copy: Path, policy: PolicyConfig) -> None:
    # given 积分贷 and the renewal in the same zone pool
    assert policy.product("jifen_dai").risk_compensation == "tech_sme_pool"
    assert policy.product_scheme(policy.product("renewal_without_principal")) == policy.product_scheme(
        policy.product("jifen_dai")
    )
    # when a product names a scheme the policy does not have
    _edit(config_copy / "products" / "jifen_dai.yaml", risk_compensation="no_such_pool")
    # then the load fails naming it
    with pytest.raises(ConfigError, match="no_such_pool"):
        load_policy(config_copy / "policy" / "default.yaml")
    # and an inline scheme is accepted
    _edit(
        config_copy / "products" / "jifen_dai.yaml",
        risk_compensation={"scheme": "zone pool", "loss_share": 0.4, "max_compensation_per_loan": 500000},
    )
    inline = load_policy(config_copy / "policy" / "default.yaml")
    assert inline.product_scheme(inline.product("jifen_dai")).loss_share == 0.4
