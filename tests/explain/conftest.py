"""Fixtures of the explain tests: the default policy, the reason-code table and the policy frame builder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from credit_points.explain.config import ReasonCodesConfig, load_reason_codes
from credit_points.policy.config import PolicyConfig, load_policy


@pytest.fixture(scope="session")
def frames() -> ModuleType:
    """tests/policy/frames.py (``make_frame``, ``grade_for``), loaded by path: test folders are not packages."""
    path = Path(__file__).resolve().parents[1] / "policy" / "frames.py"
    spec = importlib.util.spec_from_file_location("explain_test_frames", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="session")
def policy() -> PolicyConfig:
    return load_policy("default")


@pytest.fixture(scope="session")
def codes() -> ReasonCodesConfig:
    return load_reason_codes()
