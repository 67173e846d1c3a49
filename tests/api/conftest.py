"""API fixtures: an app over a throwaway SQLite audit store, the fake decision service, keys per scope."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from credit_points.api.app import create_app
from credit_points.api.redaction import uninstall_log_redaction
from credit_points.api.settings import ApiSettings
from credit_points.audit.keys import SCOPES, ApiKeyStore
from credit_points.audit.store import AuditStore
from credit_points.datasets.record import example_applicant

HERE = Path(__file__).parent
CANARY_NAME = "金丝雀测试科技有限公司"
CANARY_FIRM_ID = "91430100MA4L0XQJ35"


def load_fake_module() -> ModuleType:
    """tests/api/fake_service.py, loaded by path (test folders are not packages)."""
    name = "api_fake_service"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "fake_service.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(autouse=True)
def _restore_log_records() -> Iterator[None]:
    """Apps install a process-wide log scrubber; take it away again so other areas' tests see raw logs."""
    yield
    uninstall_log_redaction()


@pytest.fixture(scope="session")
def fake() -> ModuleType:
    return load_fake_module()


def applicant(**changes: Any) -> dict[str, Any]:
    """A valid applicant carrying the canary name and credit code, with ``changes`` applied."""
    data = copy.deepcopy(example_applicant())
    data["name"] = CANARY_NAME
    data["firm_id"] = CANARY_FIRM_ID
    data.update(changes)
    return data


@dataclass
class Api:
    """A running in-process app with its store, service and one key per scope (plus an all-scopes key)."""

    client: TestClient
    store: AuditStore
    service: Any
    keys: dict[str, str]

    def headers(self, scope: str = "all", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}", **extra}


@pytest.fixture
def make_api(tmp_path: Path, fake: ModuleType) -> Iterator[Callable[..., Api]]:
    """Build an app; keyword arguments override settings; ``service=`` replaces the fake."""
    opened: list[TestClient] = []
    stores: list[AuditStore] = []

    def build(
        *,
        service: Any = None,
        audit_url: str | None = None,
        writable_url: str | None = None,
        prefix: str = "",
        **settings: Any,
    ) -> Api:
        """``audit_url`` is what the app uses; keys are created through ``writable_url`` (default: the same)."""
        db = f"sqlite:///{tmp_path / 'audit.db'}"
        writable = AuditStore(writable_url or audit_url or db, table_prefix=prefix)
        writable.create_schema()
        stores.append(writable)
        keys = ApiKeyStore(writable)
        plain = {scope: keys.create(f"test-{scope}", [scope])[1] for scope in SCOPES}
        plain["all"] = keys.create("test-all", SCOPES)[1]
        service = service if service is not None else fake.FakeDecisionService()
        app = create_app(
            ApiSettings(audit_url=audit_url or db, audit_table_prefix=prefix, **settings), service=service
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return Api(client, writable, service, plain)

    yield build
    for client in opened:
        client.__exit__(None, None, None)
    for store in stores:
        if store.dialect == "postgresql":
            store.drop_schema()
        store.dispose()


@pytest.fixture
def new_applicant() -> Callable[..., dict[str, Any]]:
    """Builds valid applicants (canary name and credit code) with changes applied."""
    return applicant
