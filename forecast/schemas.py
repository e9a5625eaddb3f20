"""Every file format the tool reads, as pydantic models (one place for all schemas).

All models reject unknown keys (``extra="forbid"``); :func:`forecast.files.validate`
turns their errors into located messages with the nearest valid name.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from forecast.errors import LocatedValueError

CATEGORIES = ("tool", "prompting", "scaffolding", "solution_choice", "data")
ACCESS_LEVELS = ("prompt", "finetune_api", "weights")
ACTORS = ("public_api", "finetune_api", "open_weights", "stolen_weights", "developer")

Category = Literal["tool", "prompting", "scaffolding", "solution_choice", "data"]
Access = Literal["prompt", "finetune_api", "weights"]
Actor = Literal["public_api", "finetune_api", "open_weights", "stolen_weights", "developer"]


def _not_bool(value):
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
Number = Annotated[float, BeforeValidator(_not_bool)]
Count = Annotated[int, BeforeValidator(_not_bool)]
Date = Annotated[dt.date, BeforeValidator(_not_number), _date_within(EARLIEST_DATE, LATEST_DATE)]
ReferenceDate = Annotated[
    dt.date, BeforeValidator(_not_number), _date_within(EARLIEST_REFERENCE_DATE, LATEST_DATE)
]


def _whole_number(value):
    """``true`` and ``1.0`` are not the version 1 (pydantic would read both as 1)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"expected the whole number 1, got {value!r}")
    return value


#: ``schema_version: 1``.
SchemaVersion = Annotated[Literal[1], BeforeValidator(_whole_number)]
PositiveFinite = Annotated[Number, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[Number, Field(ge=0, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- catalogue


class Bound(Strict):
    """A figure as published: a point value, a lower bound, an upper bound, or both bounds."""

    point: NonNegativeFinite | None = None
    lower: NonNegativeFinite | None = None
    upper: NonNegativeFinite | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Bound:
        if self.point is None and self.lower is None and self.upper is None:
            raise ValueError("give one of 'point', 'lower' or 'upper' (a number)")
        if self.point is not None and (self.lower is not None or self.upper is not None):
            raise ValueError("give either 'point' or 'lower'/'upper', not both")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(
                f"'lower' ({self.lower}) must be below 'upper' ({self.upper}); "
                "for a single value write 'point'"
            )
        return self

    @property
    def kind(self) -> Literal["point", "lower", "upper", "interval"]:
        if self.point is not None:
            return "point"
        if self.lower is not None and self.upper is not None:
            return "interval"
        return "lower" if self.lower is not None else "upper"

    def describe(self) -> str:
        """``~8``, ``>20``, ``<9`` or ``5-50``, the way the seed prints it."""

        def num(x: float) -> str:
            return f"{x:,.4g}" if x < 1e6 else f"{x:.3g}"

        if self.kind == "point":
            return f"~{num(self.point)}"
        if self.kind == "interval":
            return f"{num(self.lower)}-{num(self.upper)}"
        return f">{num(self.lower)}" if self.kind == "lower" else f"<{num(self.upper)}"


#: A CEG figure is a multiplier from 1e-6 to 1e12 (-6 to 12 OOM): beyond, it is a typo or
#: a float extreme (1e308, 5e-324) that would wreck the fit.
CEG_RANGE = (1e-6, 1e12)


class CegBound(Bound):
    """A compute-equivalent gain (a multiplier on training compute, so above zero)."""

    @model_validator(mode="after")
    def _positive(self) -> CegBound:
        lo, hi = CEG_RANGE
        for name in ("point", "lower", "upper"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"'{name}' must be a CEG multiplier above 0, got {value}")
            if value is not None and not lo <= value <= hi:
                raise ValueError(
                    f"'{name}' must be a CEG multiplier from {lo:g} to {hi:g}, got {value:g}"
                )
        return self


class ObservationFields(Strict):
    benchmark: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    ceg: CegBound
    base_compute_flop: Annotated[Number, Field(gt=1e15, lt=1e30)] | None = None
    where: str = Field(min_length=1, description="where the figure stands in its source")
    notes: str = ""
    in_fit: bool = Field(True, description="false: recorded, but restates another figure")


class Observation(ObservationFields):
    """One CEG figure for one enhancement on one benchmark."""


class Combination(ObservationFields):
    """A CEG figure for several enhancements applied together.

    ``members`` are applied in the enhanced model; ``baseline`` lists those already
    present in the model the gain is measured against (cumulative steps).
    """

    id: Identifier
    members: list[Identifier] = Field(min_length=1)
    baseline: list[Identifier] = []

    @model_validator(mode="after")
    def _members(self) -> Combination:
        if len(set(self.members)) != len(self.members):
            raise ValueError("'members' lists an enhancement twice")
        if not set(self.baseline) <= set(self.members):
            raise ValueError("every 'baseline' enhancement must also be in 'members'")
        if len(self.members) - len(self.baseline) < 1 or len(self.members) < 2:
            raise ValueError("a combination needs two or more members and one not in baseline")
        return self


class Enhancement(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    category: Category
    published: Date
    access: Access
    one_time_cost: Bound | None = Field(None, description="fraction of pre-training compute")
    inference_cost: Bound | None = Field(None, description="multiplier on inference cost")
    source: str = Field(min_length=1)
    observations: list[Observation] = []


class Catalogue(Strict):
    schema_version: SchemaVersion
    source_document: str = ""
    enhancements: list[Enhancement] = []
    combinations: list[Combination] = []


# --------------------------------------------------------------------------- measurements


class Rate(Strict):
    point: Annotated[Number, Field(ge=0, le=1)]
    plus_minus: Annotated[Number, Field(ge=0, le=1)] | None = None


class Suite(Strict):
    id: Identifier
    name: str
    n_tasks: Count = Field(gt=0)
    task_families: Count | None = None
    token_budget: Count | None = None
    where: str
    notes: str = ""


class Measurement(Strict):
    id: Identifier
    suite: Identifier
    model: str
    agent: str
    measured: Date
    success_rate: Rate
    enhancements_applied: list[str] = []
    where: str
    notes: str = ""


class Difference(Strict):
    id: Identifier
    from_: Identifier | None = Field(None, alias="from")
    to: Identifier | None = None
    points: Number | None = Field(None, description="difference in percentage points")
    description: str = ""
    where: str
    notes: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Measurements(Strict):
    schema_version: SchemaVersion
    source_document: str = ""
    suites: list[Suite] = []
    measurements: list[Measurement] = []
    differences: list[Difference] = []


# --------------------------------------------------------------------------- priors


class PriorEntry(Strict):
    """One prior in ``priors/defaults.yaml``: a distribution written as ``Beta(2, 5)``."""

    distribution: str
    units: str
    meaning: str
    justification: str
    drives: Literal["fit", "forecast"]
    support: Literal["real", "positive", "unit"] | None = Field(
        None, description="range overrides may cover (default: the default's support)"
    )

    @field_validator("distribution")
    @classmethod
    def _parses(cls, value: str) -> str:
        from forecast.priors import parse_distribution

        parse_distribution(value)
        return value


class PriorsFile(Strict):
    schema_version: SchemaVersion
    priors: dict[Identifier, PriorEntry]


# --------------------------------------------------------------------------- scenarios

Fraction = Annotated[Number, Field(gt=0, lt=1, allow_inf_nan=False)]
ScenarioName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class BaseModelSpec(Strict):
    name: str = Field(min_length=1)
    training_compute_flop: Annotated[Number, Field(ge=1e18, le=1e30)]
    reference_date: ReferenceDate
    weights: Literal["open", "closed"]


class Elicited(Strict):
    """What the evaluation already applied: these add no uplift."""

    categories: list[Category] = []
    enhancements: list[Identifier] = []


class EvalSpec(Strict):
    """A dangerous-capability evaluation and its threshold.

    Give the current state either as an aggregate ``score`` (fraction of tasks or points
    in (0, 1), with ``n_tasks`` for its binomial uncertainty) or as a per-task results
    ``tasks_file`` (CSV: task_id, successes, attempts), relative to the scenario file.
    """

    name: ScenarioName
    description: str = ""
    score: Fraction | None = None
    n_tasks: Annotated[Count, Field(gt=0, le=10_000_000)] | None = None
    threshold: Fraction | None = Field(None, description="dangerous aggregate score")
    tasks_file: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    task_pass_rate: Fraction = Field(0.10, description="a task counts as passed at this rate")
    tasks_fraction: Fraction = Field(0.50, description="threshold met at this share of tasks")
    slope: str = Field("default", description="logits per OOM: a distribution or 'default'")
    compare_with: list[Identifier] = Field(
        [], description="measurement ids (priors/measurements.yaml) for backtests"
    )

    @model_validator(mode="after")
    def _one_state(self) -> EvalSpec:
        if (self.score is None) == (self.tasks_file is None):
            raise ValueError("give either 'score' (aggregate) or 'tasks_file' (per task)")
        if self.score is not None and self.threshold is None:
            raise ValueError("an aggregate 'score' needs a 'threshold'")
        if self.score is not None and self.threshold <= 0:
            raise ValueError("'threshold' must be above 0")
        return self

    @field_validator("slope")
    @classmethod
    def _slope(cls, value: str) -> str:
        if value != "default":
            from forecast.priors import parse_distribution

            parse_distribution(value)
        return value


class Scenario(Strict):
    schema_version: SchemaVersion
    name: ScenarioName
    title: str = Field(min_length=1)
    description: str = ""
    base_model: BaseModelSpec
    actor: Actor
    already_elicited: Elicited = Elicited()
    horizon_months: Annotated[Count, Field(ge=0, le=120)] = 12
    step_months: Annotated[Count, Field(ge=1, le=12)] = 1
    confidence: Annotated[Number, Field(ge=0.5, le=0.999)] = 0.95
    evals: list[EvalSpec] = []
    priors: dict[str, Annotated[str | Number, BeforeValidator(_not_bool)]] = {}

    @field_validator("evals")
    @classmethod
    def _unique_eval_names(cls, evals: list[EvalSpec]) -> list[EvalSpec]:
        first: dict[str, int] = {}
        for j, spec in enumerate(evals):
            if spec.name in first:
                raise LocatedValueError(
                    f"duplicate eval name {spec.name!r} (first used by evals[{first[spec.name]}])",
                    (j, "name"),
                )
            first[spec.name] = j
        return evals
