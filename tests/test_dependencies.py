"""Security floors of the serving stack hold in the installed environment (RELIABILITY.md)."""

from importlib import metadata

from packaging.version import Version


def test_starlette_has_the_host_header_fix() -> None:
    # CVE-2026-48710 (host-header path bypass) is fixed in starlette 1.0.1
    assert Version(metadata.version("starlette")) >= Version("1.0.1")


def test_pyproject_pins_the_floor_for_new_installs() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    deps = project["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("starlette>=1.0.1") for d in deps)
