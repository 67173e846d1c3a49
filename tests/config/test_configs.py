"""Configuration files: every file in valid/ loads; every file in invalid/ fails with its problem located.

Each invalid file states in its first line (``# expect: ...``) a text the reported problem must contain,
so a file that fails for another reason than the one it was written for makes the test fail. Owners of
other configuration kinds add their files to these folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from credit_points.config import CONFIG_DIR, config_hash, load_config, validate_file
from credit_points.exceptions import ConfigError

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.yaml"))
INVALID = sorted((HERE / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <text>'"
    return first.removeprefix("# expect: ").strip()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_load(path: Path) -> None:
    assert validate_file(path) == []
    config = load_config(path)
    assert len(config.content_hash) == 64


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_files_report_the_problem_with_file_and_location(path: Path) -> None:
    # When
    problems = validate_file(path)
    # Then every problem line names the file, and the expected problem is among them
    assert problems
    assert all(str(path) in line for line in problems)
    assert any(_expected(path) in line for line in problems), problems
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["fields.yaml", "generator.yaml"])
def test_shipped_data_configs_are_valid(name: str) -> None:
    assert validate_file(CONFIG_DIR / name) == []


def test_hash_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    # Given the same catalogue in flow and block style
    flow = load_config(HERE / "valid" / "fields_minimal.yaml")
    block = load_config(HERE / "valid" / "fields_block_style.yaml")
    # Then the hashes agree; a changed bound changes the hash
    assert flow.content_hash == block.content_hash == config_hash(flow)
    changed = (
        (HERE / "valid" / "fields_minimal.yaml").read_text(encoding="utf-8").replace("max: 1,", "max: 2,")
    )
    (tmp_path / "changed.yaml").write_text(changed, encoding="utf-8")
    assert load_config(tmp_path / "changed.yaml").content_hash != flow.content_hash


def test_configs_are_frozen() -> None:
    config = load_config(HERE / "valid" / "fields_minimal.yaml")
    with pytest.raises(Exception, match="frozen"):
        config.version = "2"  # type: ignore[misc]


def test_config_validate_compiles_product_rules_as_loading_does(tmp_path: Path) -> None:
    # given a copy of the shipped configs with a typo in one product rule
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, copy)
    product = copy / "products" / "renewal_without_principal.yaml"
    product.write_text(product.read_text(encoding="utf-8").replace("points_total >= 60", "points_totl >= 60"))
    # when the command checks the folder
    result = subprocess.run(
        [sys.executable, "-m", "credit_points.cli", "config", "validate", str(copy)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # then it fails naming the product file, the rule, the unknown name and the policy it was checked in
    assert result.returncode == 1, result.stdout
    line = next(x for x in result.stderr.splitlines() if x.startswith(str(product)))
    assert "eligibility.points_min_60" in line and "points_totl" in line and "policy default.yaml" in line
    # and the policy that lists the product fails too, as train --policy would
    assert any(x.startswith(str(copy / "policy" / "default.yaml")) for x in result.stderr.splitlines())
    # and the other product files stay ok
    assert f"{copy / 'products' / 'keji_dai.yaml'}: ok" in result.stdout
    # and the untouched configs pass
    assert validate_file(CONFIG_DIR / "products" / "renewal_without_principal.yaml") == []
