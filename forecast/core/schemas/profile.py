"""The assumption profile format (``profiles/*.yaml``): a documented set of prior overrides
and extrapolation modes (docs/profiles.md).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from forecast.core.distributions import parse_distribution
from forecast.core.schemas.common import Identifier, Name, SchemaVersion, Strict, Text
from forecast.core.schemas.scenario import (
    REMOVED_EXTRAPOLATION_KEYS,
    ScenarioName,
    TrendMode,
    refuse_removed,
)

# --------------------------------------------------------------------------- profiles


class ProfileOverride(Strict):
    """One prior a profile changes, with the reason."""

    distribution: Name
    why: Text = Field(min_length=1, description="the basis for this value")

    @field_validator("distribution")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_distribution(value)
        return value


class ProfileModes(Strict):
    trend: TrendMode | None = None
    why: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data):
        return refuse_removed(data, REMOVED_EXTRAPOLATION_KEYS)


class ProfileFile(Strict):
    """An assumption profile: a documented set of prior overrides (``profiles/*.yaml``)."""

    schema_version: SchemaVersion
    name: ScenarioName
    title: Name = Field(min_length=1)
    description: Text = Field(min_length=1)
    priors: dict[Identifier, ProfileOverride] = {}
    extrapolation: ProfileModes = ProfileModes()
