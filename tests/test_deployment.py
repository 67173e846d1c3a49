"""The team deployment as files: compose.yaml, the image, its lock file and the settings example.

No container engine runs here; what the engine would do is checked on the files it reads, and the image's
entrypoints run under bash in ``tests/integration/test_deployment_entrypoints.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SERVING = ROOT / "serving"
OURS = ("mlflow", "init", "api")  # the services that run the product's image
USER = "10001:10001"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((SERVING / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    # continuation lines joined: one string per instruction
    return (SERVING / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if value is not None else []


def test_our_services_run_as_the_images_non_root_user(compose: dict, dockerfile: str) -> None:
    assert re.search(r"useradd [^\n]*--uid 10001", dockerfile)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    for name in OURS:
        assert compose["services"][name]["user"] == USER, name


def test_every_volume_mounts_on_a_folder_the_image_creates_and_the_user_owns(
    compose: dict, dockerfile: str
) -> None:
    created = {p.rstrip("/") for line in re.findall(r"mkdir -p ([^&\n]+)", dockerfile) for p in line.split()}
    owned = re.findall(r"chown -R 10001:10001 (\S+)", dockerfile)
    named = set(compose["volumes"])
    for name in OURS:
        for mount in compose["services"][name].get("volumes", []):
            source, target = mount.split(":")[:2]
            assert source in named, f"{name}: {source} is not a named volume"
            # a named volume takes the ownership of the folder it is first mounted on
            assert target in created, f"{name}: {target} is not created by the image"
            assert any(target.startswith(root) for root in owned), f"{name}: {target} is not owned by 10001"
    assert all(compose["services"][name].get("volumes") for name in ("mlflow", "init", "api"))


def test_health_checks_and_start_order(compose: dict) -> None:
    services = compose["services"]
    for name in ("postgres", "mlflow", "api"):
        assert services[name]["healthcheck"]["test"], name
    # the first model is registered by a one-shot init before the API starts; it waits for both servers
    assert services["init"]["restart"] == "no"
    api_needs = services["api"]["depends_on"]
    assert api_needs["init"]["condition"] == "service_completed_successfully"
    assert api_needs["postgres"]["condition"] == "service_healthy"
    assert api_needs["mlflow"]["condition"] == "service_healthy"
    assert services["init"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for name in OURS:
        script = services[name]["command"][0]
        assert script.startswith("/app/serving/entrypoint/")
        local = SERVING / "entrypoint" / Path(script).name
        assert local.is_file() and os.access(local, os.X_OK), script


def test_no_secret_is_on_a_command_line_or_in_the_environment(compose: dict) -> None:
    text = (SERVING / "compose.yaml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD" not in text
    for name, service in compose["services"].items():
        argv = _strings(service.get("command")) + _strings(service.get("entrypoint"))
        argv += _strings(service.get("healthcheck", {}).get("test"))
        assert not [a for a in argv if re.search(r"password|://[^/@\s]+:[^/@\s]+@", a, re.I)], name
        environment = service.get("environment", {})
        assert "POSTGRES_PASSWORD" not in environment, name
        assert not [v for v in _strings(environment) if re.search(r"://[^/@\s]+:[^/@\s]+@", v)], name
        if "POSTGRES_PASSWORD_FILE" in environment:
            assert "postgres_password" in service["secrets"], name
            assert environment["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert compose["secrets"]["postgres_password"]["file"]
    assert "secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def _lock_module():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_the_image_installs_from_a_lock_file_in_step_with_pyproject(dockerfile: str) -> None:
    lock = _lock_module()
    text = lock.LOCK.read_text(encoding="utf-8")
    # the lock was made from today's dependencies (else: `make lock`)
    assert text.splitlines()[0] == f"{lock.MARK}{lock.dependencies_digest()}", "run `make lock`"
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, re.M))
    pins = {canonicalize_name(k): v for k, v in pins.items()}
    hashes = re.findall(
        r"^[A-Za-z0-9_.\-]+==\S+ \\\n(?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+", text, re.M
    )
    assert len(hashes) == len(pins) > 50  # every pin carries its hashes
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep.name} is not in the lock"
        assert dep.specifier.contains(pins[name], prereleases=True), f"{dep.name}=={pins[name]} is not {dep}"
    assert {"uvloop", "httptools", "psycopg-binary"} <= set(pins)  # the extras the service runs with
    # and the image installs exactly that, then the package alone
    assert "pip install --require-hashes -r serving/requirements.lock" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile


def test_the_settings_example_lists_every_setting() -> None:
    from credit_points.api.settings import ApiSettings
    from credit_points.config import Settings

    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    missing = [
        f"CREDIT_POINTS_{name.upper()}"
        for cls in (Settings, ApiSettings)
        for name in cls.model_fields
        if not re.search(rf"\bCREDIT_POINTS_{name.upper()}=", example)
    ]
    assert not missing
    assert not re.search(r"^[A-Z_]*PASSWORD=", example, re.M)  # no secret in a settings file
