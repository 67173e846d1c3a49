"""Fixtures of the policy tests: the default policy, the reason-code table and the frame builder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from credit_points.explain.config import ReasonCodesConfig, load_reason_codes
from credit_points.policy.config import PolicyConfig, load_policy


def load_frames_module() -> ModuleType:
    """tests/policy/frames.py, loaded by path (test folders are not packages)."""
    path = Path(__file__).with_name("frames.py")
    spec = importlib.util.spec_from_file_location("policy_test_frames", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="session")
def frames() -> ModuleType:
    """The frame builder module: ``make_frame``, ``grade_for``, ``BASE_FIRM``."""
    return load_frames_module()


@pytest.fixture(scope="session")
def policy() -> PolicyConfig:
    return load_policy("default")


@pytest.fixture(scope="session")
def codes() -> ReasonCodesConfig:
    return load_reason_codes()
