"""What every input format shares: the vocabularies (categories, access levels, actors),
numbers that refuse YAML's true/false, dates within a sane range, identifiers,
``schema_version: 1``, and :class:`Strict`, the base model that rejects unknown keys.

Every format is a pydantic model with ``extra="forbid"``;
:func:`forecast.core.validation.validate` turns their errors into located messages with the
nearest valid name.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

CATEGORIES = ("tool", "prompting", "scaffolding", "solution_choice", "data")
ACCESS_LEVELS = ("prompt", "finetune_api", "weights")
ACTORS = ("public_api", "finetune_api", "open_weights", "stolen_weights", "developer")

Category = Literal["tool", "prompting", "scaffolding", "solution_choice", "data"]
Access = Literal["prompt", "finetune_api", "weights"]
Actor = Literal["public_api", "finetune_api", "open_weights", "stolen_weights", "developer"]


def not_bool(value):
    """YAML's true/false are not numbers (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


def _not_number(value):
    """A date written as a number would be read as seconds since 1970."""
    if isinstance(value, bool | int | float):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


#: Dates anywhere in an input (publication, measurement, --as-of): a date outside this
#: range is a typo (0001-01-01, 9999-12-31) that would silently wreck the arrival window.
EARLIEST_DATE = dt.date(1950, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
#: A scenario's reference date (the forecast starts there): the era of the catalogue.
EARLIEST_REFERENCE_DATE = dt.date(2015, 1, 1)


def _date_within(earliest: dt.date, latest: dt.date):
    def check(value: dt.date) -> dt.date:
        if not earliest <= value <= latest:
            raise ValueError(f"expected a date from {earliest} to {latest}, got {value}")
        return value

    return AfterValidator(check)


Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
#: Longest title or name (a scenario's title, a model, a benchmark): a line's worth. A
#: megabyte title took minutes to lay out in the figures.
MAX_NAME_CHARS = 200
#: Longest description, note, quote or source: a paragraph or two.
MAX_TEXT_CHARS = 2000
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Number = Annotated[float, BeforeValidator(not_bool)]
Count = Annotated[int, BeforeValidator(not_bool)]
Date = Annotated[dt.date, BeforeValidator(_not_number), _date_within(EARLIEST_DATE, LATEST_DATE)]
ReferenceDate = Annotated[
    dt.date, BeforeValidator(_not_number), _date_within(EARLIEST_REFERENCE_DATE, LATEST_DATE)
]


def whole_number(value):
    """``true`` and ``1.0`` are not the version 1 (pydantic would read both as 1)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"expected the whole number 1, got {value!r}")
    return value


#: ``schema_version: 1``.
SchemaVersion = Annotated[Literal[1], BeforeValidator(whole_number)]
PositiveFinite = Annotated[Number, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[Number, Field(ge=0, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
