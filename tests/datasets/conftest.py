"""Shared fixtures for the applicant-data tests: the catalogue and one small generated panel."""

from __future__ import annotations

import pandas as pd
import pytest

from credit_points.datasets.fields import FieldsConfig, load_fields
from credit_points.datasets.generator import generate_panel

PANEL_FIRMS = 3000
PANEL_SEED = 11
TODAY = "2026-01-15"


@pytest.fixture(scope="session")
def fields() -> FieldsConfig:
    return load_fields()


@pytest.fixture(scope="session")
def panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(applicants, truth) for 3,000 firms over 2019-2024."""
    return generate_panel(PANEL_FIRMS, years=(2019, 2024), seed=PANEL_SEED)


@pytest.fixture
def clean(panel: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    """Forty valid applicant rows as plain objects (as if parsed from JSON or a loose CSV)."""
    return panel[0].head(40).astype(object).reset_index(drop=True)
