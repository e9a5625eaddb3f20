"""The policy format (``policies/*.yaml``, ``--policy FILE``, a scenario's inline rules):
who published a rule, its quoted text, and this tool's reading of it (docs/policies.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from forecast.core.errors import LocatedValueError
from forecast.core.schemas.common import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    Count,
    Date,
    Number,
    SchemaVersion,
    Strict,
)

# --------------------------------------------------------------------------- policies

PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
#: A few words of this tool's (a summary, what recurs): shown in tables.
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Multiplier = Annotated[Number, Field(gt=1, le=1e6, allow_inf_nan=False)]
Months = Annotated[Number, Field(gt=0, le=120, allow_inf_nan=False)]


def _page_text(value):
    """``page: 17`` is the page "17" (YAML reads it as a number); true/false are not pages."""
    if isinstance(value, bool):
        raise ValueError("expected a page number or range such as 17 or 5-6, got a boolean")
    return str(value) if isinstance(value, int) else value


def _ascending(value: str) -> str:
    first, _, last = value.partition("-")
    if last and int(last) <= int(first):
        raise ValueError(f"a page range runs upward (such as 5-6), got {value}")
    return value


#: A page or a range of pages as the document numbers them: ``17``, ``5-6``.
PageRef = Annotated[
    str,
    BeforeValidator(_page_text),
    Field(pattern=r"^[1-9][0-9]{0,3}(-[1-9][0-9]{0,3})?$"),
    AfterValidator(_ascending),
]

#: The words every policy file must carry: the reading is this tool's, not the publisher's.
READING_IS_OURS = "this tool's reading, not the publisher's"

#: How an exception changes the period over which uplift accumulates (docs/policies.md).
EXCEPTION_EFFECTS = ("extends_period", "suspends_cadence", "shortens_period")


class PolicyQuote(Strict):
    """A sentence of the rule, copied exactly, with where it stands in the source.

    ``page`` is the page as printed on it and ``pdf_page`` the page of the PDF file, for
    documents where the two differ (a cover and contents before page 1, a number printed
    twice); ``where`` may also say the page in words, as older files do.
    """

    text: Text
    where: Text = Field(description="section (and page) in the source document")
    page: PageRef | None = Field(None, description="the printed page number(s)")
    pdf_page: PageRef | None = Field(None, description="the page(s) of the PDF file")


class PolicyException(PolicyQuote):
    """An exception to the cadence, or a qualification of it, quoted, with its effect on
    the period over which uplift accumulates before the next assessment:

    - ``extends_period`` by ``months`` (the next report may come that much later);
    - ``suspends_cadence`` (no periodic assessment is due while it applies: the period
      becomes the scenario's horizon);
    - ``shortens_period`` (an assessment may come sooner, at someone's discretion: no
      number, shown in words).
    """

    summary: ShortText = Field(description="the exception in a few words (this tool's)")
    effect: Literal["extends_period", "suspends_cadence", "shortens_period"]
    months: Months | None = Field(None, description="for extends_period: how much longer")

    @model_validator(mode="after")
    def _months_only_to_extend(self) -> PolicyException:
        if self.effect == "extends_period" and self.months is None:
            raise LocatedValueError(
                "an exception with effect extends_period needs 'months' (how much longer "
                "the period may run)",
                ("effect",),
            )
        if self.effect != "extends_period" and self.months is not None:
            raise LocatedValueError(
                f"'months' belongs to effect extends_period only (this exception is {self.effect})",
                ("months",),
            )
        return self


class PolicyEventTrigger(PolicyQuote):
    """An event that calls for an assessment or a report off the calendar, quoted (shown
    beside the verdict, not modelled as a number)."""

    summary: ShortText = Field(description="the event in a few words (this tool's)")
    deadline_days: Annotated[Count, Field(ge=0, le=3650)] | None = Field(
        None, description="days the text allows after the event, if it says"
    )


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
    unquantified_buffer: ShortText | None = Field(
        None,
        description='the words the text uses for a margin it gives no number ("a safety '
        'margin", "headroom")',
    )
    compute_multiplier: Multiplier | None = Field(
        None, description="re-evaluate at this multiple of effective compute"
    )
    calendar_months: Months | None = Field(None, description="re-evaluate at least this often")
    calendar_months_range: tuple[Months, Months] | None = Field(
        None,
        description="a stated range (every 3-6 months: [3, 6]); calendar_months is the end read",
    )
    cadence_of: ShortText | None = Field(
        None, description='what recurs at the cadence ("Risk Report"); default an evaluation'
    )
    exceptions: list[PolicyException] = []
    event_triggers: list[PolicyEventTrigger] = []
    crossing: Text = Field(description="what the rule counts as crossing")
    notes: Text = Field(description="why the rule is read this way, and what is left out")

    @model_validator(mode="after")
    def _consistent(self) -> PolicyReading:
        if self.buffer_multiplier is not None and self.unquantified_buffer is not None:
            raise LocatedValueError(
                "give buffer_multiplier (a stated number) or unquantified_buffer (words "
                "without one), not both",
                ("unquantified_buffer",),
            )
        if self.calendar_months_range is not None:
            low, high = self.calendar_months_range
            if not low < high:
                raise LocatedValueError(
                    f"a range runs upward (such as [3, 6]), got [{low:g}, {high:g}]",
                    ("calendar_months_range",),
                )
            if self.calendar_months is None or not low <= self.calendar_months <= high:
                raise LocatedValueError(
                    f"calendar_months must be the value read from the range [{low:g}, "
                    f"{high:g}] (usually its end, {high:g})",
                    ("calendar_months",) if self.calendar_months else ("calendar_months_range",),
                )
        if self.calendar_months is None:
            for i, exc in enumerate(self.exceptions):
                if exc.effect != "shortens_period":
                    raise LocatedValueError(
                        f"effect {exc.effect} changes a calendar cadence, and this reading has "
                        "no calendar_months",
                        ("exceptions", i, "effect"),
                    )
        return self


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


class InlinePolicies(Strict):
    """A scenario's inline rules keyed by their index in its ``policies:`` block: validating
    ``{"policies": {i: rule}}`` locates every problem as ``policies[i].field`` in the
    scenario file (the block's other entries are names and files, read elsewhere)."""

    policies: dict[int, PolicyFields]
