"""The service factory named by ``CREDIT_POINTS_SERVICE_FACTORY``: resolved, refused with a reason, renamed."""

from __future__ import annotations

import pytest

from credit_points.api.service import RENAMED_FACTORIES, import_factory
from credit_points.api.settings import DEFAULT_SERVICE_FACTORY
from credit_points.exceptions import ConfigError
from credit_points.pipelines.engine_service import create_service


def test_the_default_factory_is_the_engine_service() -> None:
    assert import_factory(DEFAULT_SERVICE_FACTORY) is create_service


def test_a_factory_name_of_an_earlier_release_still_resolves() -> None:
    # given the default factory as deployments of the previous release set it
    old = "credit_points.pipelines.service:create_service"
    # then it names the same callable as today's default
    assert RENAMED_FACTORIES[old] == DEFAULT_SERVICE_FACTORY
    assert import_factory(old) is create_service


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("credit_points.pipelines.engine_service", "must look like"),
        ("credit_points.no_such_module:create_service", "cannot import"),
        ("credit_points.pipelines.engine_service:no_such_callable", "cannot import"),
        ("credit_points.api.settings:DEFAULT_SERVICE_FACTORY", "is not callable"),
    ],
)
def test_a_bad_factory_name_is_refused_with_the_reason(target: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        import_factory(target)
