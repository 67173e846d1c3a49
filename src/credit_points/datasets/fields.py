"""The applicant record's field catalogue (``configs/fields.yaml``): types, bounds and bilingual labels."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config
from credit_points.expressions import compile_expression

FieldDtype = Literal["string", "float", "int", "bool", "category", "date"]
#: the longest text a string field takes when its entry sets no ``max_length`` (catalogues before 1.1)
DEFAULT_MAX_TEXT_LENGTH = 200
FieldGroup = Literal["identity", "financials", "people", "innovation", "qualifications", "credit", "outcome"]


class FieldSpec(StrictModel):
    """One column of the applicant record."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    group: FieldGroup
    dtype: FieldDtype
    label_zh: str
    label_en: str
    nullable: bool = False
    required: bool = True
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = Field(default=None, ge=1)
    unit: Literal["yuan"] | None = None
    pii: bool = False
    check: Literal["uscc"] | None = None
    not_future: bool = False
    le_field: str | None = None
    le_unless_zero: bool = False
    levels_zh: tuple[str, ...] | None = None
    levels_en: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _enum_only_for_categories(self) -> FieldSpec:
        if (self.enum is not None) != (self.dtype == "category"):
            raise ValueError(f"field {self.name!r}: 'enum' is required for category fields and only for them")
        return self


class CrossFieldRule(StrictModel):
    """A plausibility rule across fields: an expression that must hold (``configs/fields.yaml``, ``rules``).

    Checked only where every field it reads has a value that passed its own checks; a row that breaks
    it is reported at ``field`` with ``message``.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    field: str
    check: str
    message: str


class FieldsConfig(VersionedConfig):
    """The whole applicant record."""

    kind: Literal["fields"] = "fields"
    fields: tuple[FieldSpec, ...]
    rules: tuple[CrossFieldRule, ...] = ()

    @model_validator(mode="after")
    def _names_unique_and_refs_known(self) -> FieldsConfig:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field names: {dupes}")
        for f in self.fields:
            if f.le_field is not None and f.le_field not in names:
                raise ValueError(f"field {f.name!r}: le_field {f.le_field!r} is not a field")
        for rule in self.rules:
            if rule.field not in names:
                raise ValueError(f"rule {rule.id!r}: field {rule.field!r} is not a field")
            compile_expression(rule.check).check_names(names, where=f"rules.{rule.id}.check")
        return self

    @cached_property
    def by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def input_names(self) -> list[str]:
        """Fields of an applicant (the outcome excluded)."""
        return [f.name for f in self.fields if f.group != "outcome"]

    def label(self, name: str, lang: str = "zh") -> str:
        spec = self.by_name.get(name)
        if spec is None:
            return name
        return spec.label_zh if lang == "zh" else spec.label_en


def load_fields(path: str | None = None) -> FieldsConfig:
    """The field catalogue (default ``configs/fields.yaml``)."""
    return load_config(path or CONFIG_DIR / "fields.yaml", FieldsConfig)
