"""The policy format (``policies/*.yaml``, ``--policy FILE``, a scenario's inline rules):
who published a rule, its quoted text, and this tool's reading of it (docs/policies.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from forecast.core.schemas.common import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    Date,
    Number,
    SchemaVersion,
    Strict,
)

# --------------------------------------------------------------------------- policies

PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Multiplier = Annotated[Number, Field(gt=1, le=1e6, allow_inf_nan=False)]

#: The words every policy file must carry: the reading is this tool's, not the publisher's.
READING_IS_OURS = "this tool's reading, not the publisher's"


class PolicyQuote(Strict):
    """A sentence of the rule, copied exactly, with where it stands in the source."""

    text: Text
    where: Text = Field(description="section and page in the source document")


class PolicySource(Strict):
    document: Text = Field(description="the document's title and version")
    url: Text
    section: Text = Field(description="where the rule stands in it")
    checked_in: Text = Field(
        description="where the quotes were read and compared (a stored copy of the source)"
    )


class PolicyReading(Strict):
    """How this tool turns the rule into numbers (never the publisher's own wording)."""

    interpretation: Literal["this tool's reading, not the publisher's"] = Field(
        description="a fixed phrase: the reading below is this tool's"
    )
    buffer_multiplier: Multiplier | None = Field(
        None, description="the buffer the text states, as a multiplier of effective compute"
    )
    compute_multiplier: Multiplier | None = Field(
        None, description="re-evaluate at this multiple of effective compute"
    )
    calendar_months: Annotated[Number, Field(gt=0, le=120, allow_inf_nan=False)] | None = Field(
        None, description="re-evaluate at least this often (months)"
    )
    crossing: Text = Field(description="what the rule counts as crossing")
    notes: Text = Field(description="why the rule is read this way, and what is left out")


class PolicyFields(Strict):
    """A policy rule: who published it, the quoted text, and this tool's reading of it."""

    name: PolicyName
    title: Title
    publisher: Title
    version: Annotated[str, Field(min_length=1, max_length=40)]
    date: Date
    status: Literal["current", "superseded"]
    verified: bool = Field(
        description="true: every quote was compared with a stored copy of the primary text"
    )
    source: PolicySource
    quotes: list[PolicyQuote] = []
    reading: PolicyReading

    @model_validator(mode="after")
    def _quoted_if_verified(self) -> PolicyFields:
        if self.verified and not self.quotes:
            raise ValueError("a verified policy needs at least one quote of its text")
        return self


class PolicyFile(PolicyFields):
    """One policy rule per file: ``policies/*.yaml`` or a user's ``--policy FILE``."""

    schema_version: SchemaVersion
