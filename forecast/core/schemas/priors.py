"""The priors file's format (``priors/defaults.yaml``): each prior's distribution, units,
meaning, justification and what it drives (docs/priors.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from forecast.core.distributions import parse_distribution
from forecast.core.schemas.common import Identifier, Name, SchemaVersion, Strict, Text

# --------------------------------------------------------------------------- priors


class PriorEntry(Strict):
    """One prior in ``priors/defaults.yaml``: a distribution written as ``Beta(2, 5)``."""

    distribution: Name
    units: Name
    meaning: Text
    justification: Text
    drives: Literal["catalogue", "histories", "forecast"]
    support: Literal["real", "positive", "unit"] | None = Field(
        None, description="range overrides may cover (default: the default's support)"
    )

    @field_validator("distribution")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_distribution(value)
        return value


class PriorsFile(Strict):
    schema_version: SchemaVersion
    priors: dict[Identifier, PriorEntry]
