"""Every file format the tool reads, as pydantic models (one place for all schemas).

All models reject unknown keys (``extra="forbid"``); :func:`forecast.core.validation.validate`
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

from forecast.core.errors import LocatedValueError

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


#: Where a record comes from: the seed documents, or a primary source published after them.
Origin = Literal["seed", "outside_seeds"]


def _check_origin(record, what: str = "record") -> None:
    """A record from outside the seeds must name its primary source and quote it."""
    if record.origin == "outside_seeds":
        missing = [k for k in ("reference", "quote") if not getattr(record, k).strip()]
        if missing:
            raise ValueError(
                f"a {what} with origin 'outside_seeds' needs "
                + " and ".join(f"'{k}'" for k in missing)
                + " (the primary source, and the exact sentence the figure stands on)"
            )


class ObservationFields(Strict):
    benchmark: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    ceg: CegBound
    base_compute_flop: Annotated[Number, Field(gt=1e15, lt=1e30)] | None = None
    where: str = Field(min_length=1, description="where the figure stands in its source")
    notes: str = ""
    in_fit: bool = Field(True, description="false: recorded, but restates another figure")
    independent: bool = Field(
        False,
        description="measured by someone other than the method's authors, on tasks not "
        "chosen to show the method off",
    )
    origin: Origin = "seed"
    reference: str = Field("", description="the primary source (needed for outside_seeds)")
    quote: str = Field("", description="the exact sentence(s) the figure stands on")

    @model_validator(mode="after")
    def _origin(self) -> ObservationFields:
        _check_origin(self, "figure")
        return self

    @property
    def no_gain(self) -> bool:
        """The seed's encoding of "no gain": exactly ``{point: 1}``."""
        return self.ceg.kind == "point" and self.ceg.point == 1


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
    origin: Origin = "seed"
    observations: list[Observation] = []


class Catalogue(Strict):
    schema_version: SchemaVersion
    source_document: str = ""
    enhancements: list[Enhancement] = []
    combinations: list[Combination] = []


# --------------------------------------------------------------------------- measurements

#: How precisely a date is known: to the day, to the month, or only roughly.
DatePrecision = Literal["day", "month", "approximate"]

#: What a measured score counts (see docs/catalogue.md, "Measurements").
METRICS = {
    "success_rate": "fraction of tasks solved, one attempt each",
    "pass_at_k": "fraction of problems solved by at least one of k samples (needs k)",
    "preference_rate": "fraction of comparisons in which raters preferred the model's output",
    "ratio_to_reference": "the model's score divided by a reference's score (named in notes)",
    "share": "a fraction of some population named in notes (e.g. of failures); not a score",
}
Metric = Literal["success_rate", "pass_at_k", "preference_rate", "ratio_to_reference", "share"]
#: Who stands behind a number: a measurement, an informal estimate, or a reader's gloss.
Basis = Literal["measured", "estimate", "commenter_reading"]


class Score(Strict):
    """A measured score as printed: a point (with ``plus_minus`` at level ``interval``) or
    bounds ("humans narrowly exceed the agent": a ratio below 1 is ``{upper: 1}``)."""

    point: NonNegativeFinite | None = None
    lower: NonNegativeFinite | None = None
    upper: NonNegativeFinite | None = None
    plus_minus: NonNegativeFinite | None = None
    interval: Annotated[Number, Field(gt=0, lt=1)] | None = Field(
        None, description="the level of plus_minus, e.g. 0.95 for a 95% interval"
    )

    @model_validator(mode="after")
    def _shape(self) -> Score:
        if self.point is None and self.lower is None and self.upper is None:
            raise ValueError("give 'point', or 'lower'/'upper' (or write 'score: null')")
        if self.point is not None and (self.lower is not None or self.upper is not None):
            raise ValueError("give either 'point' or 'lower'/'upper', not both")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"'lower' ({self.lower}) must be below 'upper' ({self.upper})")
        if self.plus_minus is not None and self.point is None:
            raise ValueError("'plus_minus' needs a 'point'")
        if (self.plus_minus is None) != (self.interval is None):
            raise ValueError("give 'plus_minus' and 'interval' (its level) together")
        return self

    def values(self) -> list[float]:
        return [v for v in (self.point, self.lower, self.upper) if v is not None]

    def describe(self) -> str:
        """``38% ± 6% (95%)``, ``>0.5``, ``<1``: the score the way the source prints it."""
        if self.point is not None:
            text = f"{self.point:.4g}"
            if self.plus_minus is not None:
                text += f" ± {self.plus_minus:.4g} ({self.interval:.0%})"
            return text
        if self.lower is not None and self.upper is not None:
            return f"{self.lower:.4g}-{self.upper:.4g}"
        return f">{self.lower:.4g}" if self.lower is not None else f"<{self.upper:.4g}"


class Applied(Strict):
    """Elicitation in the catalogue's vocabulary (categories and enhancement ids), plus the
    source's own words."""

    categories: list[Category] = []
    enhancements: list[Identifier] = []
    description: str = ""


class Suite(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    n_tasks: Annotated[Count, Field(gt=0)] | None = Field(
        None, description="number of tasks; null where the source does not say"
    )
    task_families: Annotated[Count, Field(gt=0)] | None = None
    token_budget: Annotated[Count, Field(gt=0)] | None = None
    where: str = Field(min_length=1)
    quote: str = ""
    notes: str = ""
    origin: Origin = "seed"
    reference: str = ""

    @model_validator(mode="after")
    def _origin(self) -> Suite:
        _check_origin(self, "suite")
        return self


class Measurement(Strict):
    """A fixed model's score on a suite at a date, with what had been applied to it."""

    id: Identifier
    suite: Identifier
    model: str = Field(min_length=1, description="the model version measured")
    agent: str = Field("", description="the agent or scaffold as the source names it")
    base_model: str | None = Field(None, description="the pre-trained model a series shares")
    base_compute_flop: Annotated[Number, Field(gt=1e15, lt=1e30)] | None = None
    base_compute_basis: str = Field("", description="quoted basis or arithmetic")
    model_date: Date | None = Field(None, description="when this model version existed")
    model_date_precision: DatePrecision = "day"
    measured: Date | None = Field(None, description="when the score was measured")
    date_precision: DatePrecision = "day"
    published: Date | None = Field(
        None,
        description="when the figure first became public (paper, post, leaderboard row): "
        "a fit cut at an earlier date does not see it",
    )
    publisher: str = Field(
        "", description="who published the figure (an organisation): groups held out together"
    )
    metric: Metric
    k: Annotated[Count, Field(ge=1)] | None = None
    time_budget_hours: PositiveFinite | None = None
    score: Score | None = Field(..., description="null where the source prints no number")
    applied: Applied = Applied()
    effort: str = ""
    basis: Basis = "measured"
    independent: bool = False
    origin: Origin = "seed"
    reference: str = ""
    where: str = Field(min_length=1)
    quote: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _checks(self) -> Measurement:
        _check_origin(self, "measurement")
        if self.metric == "pass_at_k" and self.k is None:
            raise ValueError("metric 'pass_at_k' needs 'k'")
        if self.score is not None and self.metric != "ratio_to_reference":
            high = max(self.score.values())
            if high > 1:
                raise ValueError(
                    f"a {self.metric} is a fraction in [0, 1] (write 38% as 0.38), got {high:g}"
                )
        if self.published is not None and self.measured is not None:
            if self.published < self.measured:
                raise ValueError(
                    f"'published' ({self.published}) is before 'measured' ({self.measured})"
                )
        if self.base_compute_flop is not None and not self.base_compute_basis.strip():
            raise ValueError("'base_compute_flop' needs 'base_compute_basis' (quote or arithmetic)")
        return self


class Difference(Strict):
    """A difference the source itself prints (e.g. "+8pp"), with where it stands."""

    value: Number
    unit: Literal["percentage_points", "ratio"]
    where: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class ElicitationGain(Strict):
    """A pair of measurements of one fixed model: before and after later elicitation."""

    id: Identifier
    before: Identifier
    after: Identifier
    added: Applied
    actor: Actor = Field(description="the access the eliciting party had")
    as_of: Date | None = Field(
        None, description="when the BEFORE state existed: a forecast could start here"
    )
    backtest: bool = Field(description="usable to test a forecast")
    reason: str = Field("", description="why not, when backtest is false")
    difference: Difference | None = None
    origin: Origin = "seed"
    reference: str = ""
    where: str = Field(min_length=1)
    quote: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _checks(self) -> ElicitationGain:
        _check_origin(self, "pair")
        if self.before == self.after:
            raise ValueError("'before' and 'after' name the same measurement")
        if not self.backtest and not self.reason.strip():
            raise ValueError("'backtest: false' needs a 'reason'")
        if self.backtest and self.as_of is None:
            raise ValueError("'backtest: true' needs 'as_of' (when the BEFORE state existed)")
        if not (self.added.categories or self.added.enhancements or self.added.description):
            raise ValueError("'added' must say what the later elicitation added")
        return self


class Measurements(Strict):
    schema_version: Annotated[Literal[2], BeforeValidator(_whole_number)]
    source_document: str = ""
    suites: list[Suite] = []
    measurements: list[Measurement] = []
    elicitation_gains: list[ElicitationGain] = []


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
        from forecast.inputs.priors import parse_distribution

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


class Absorbed(Strict):
    """Enhancements the base model has built in (chain of thought in a 2026 model): part of
    the measured score, no uplift."""

    categories: list[Category] = []
    enhancements: list[Identifier] = []


class Extrapolation(Strict):
    """How gains are carried past the evidence (docs/method.md, "Extrapolation").

    ``trend``: beyond the last record, the fitted date trend is ``frozen`` (0), ``damped``
    (fades with time constant ``trend_fade_years``) or ``linear`` (continues).
    ``scale``: the within-enhancement scale slope is applied only within the evidence's
    compute range and uncertainty grows beyond it (``clamp``), extrapolated (``linear``),
    or ignored (``off``).
    """

    trend: Literal["damped", "frozen", "linear"] = "damped"
    scale: Literal["clamp", "linear", "off"] = "clamp"


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
        [], description="measurement ids (shipped or --measurements) for backtests"
    )
    # Per-task evals only (docs/method.md section 7): what counts as a task passing, how the
    # task rates are estimated, and how far each task's slope may differ from the eval's.
    definition: Literal["hidden_rate", "fresh_run"] = Field(
        "hidden_rate",
        description="hidden_rate: a task passes when its per-attempt rate reaches "
        "task_pass_rate; fresh_run: when a fresh run of 'tries' attempts has at least "
        "'min_successes' successes",
    )
    tries: Annotated[Count, Field(ge=1, le=100_000)] | None = None
    min_successes: Annotated[Count, Field(ge=1, le=100_000)] = 1
    pooling: Literal["hierarchical", "independent"] = Field(
        "hierarchical", description="task rates: beta-binomial across tasks, or Jeffreys each"
    )
    slope_spread: Annotated[Number, Field(ge=0, le=3, allow_inf_nan=False)] = Field(
        0.0, description="sd of log(task slope / eval slope); 0: one slope for every task"
    )

    @model_validator(mode="after")
    def _one_state(self) -> EvalSpec:
        if (self.score is None) == (self.tasks_file is None):
            raise ValueError("give either 'score' (aggregate) or 'tasks_file' (per task)")
        if self.score is not None and self.threshold is None:
            raise ValueError("an aggregate 'score' needs a 'threshold'")
        if self.score is not None and self.threshold <= 0:
            raise ValueError("'threshold' must be above 0")
        if self.definition == "fresh_run":
            if self.tries is None:
                raise ValueError("definition 'fresh_run' needs 'tries' (attempts per task)")
            if self.min_successes > self.tries:
                raise ValueError(
                    f"'min_successes' ({self.min_successes}) cannot exceed 'tries' ({self.tries})"
                )
        elif self.tries is not None or self.min_successes != 1:
            raise ValueError("'tries' and 'min_successes' apply only to definition 'fresh_run'")
        return self

    @field_validator("slope")
    @classmethod
    def _slope(cls, value: str) -> str:
        if value != "default":
            from forecast.inputs.priors import parse_distribution

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
    absorbed: Absorbed = Absorbed()
    extrapolation: Extrapolation = Extrapolation()
    horizon_months: Annotated[Count, Field(ge=0, le=120)] = 12
    step_months: Annotated[Count, Field(ge=1, le=12)] = 1
    confidence: Annotated[Number, Field(ge=0.5, le=0.999)] = 0.95
    evals: list[EvalSpec] = []
    priors: dict[str, Annotated[str | Number, BeforeValidator(_not_bool)]] = {}
    # Shipped policy names, policy files (relative to the scenario) or inline policies
    # (validated by forecast.inputs.policies, which locates errors in this file; docs/policies.md).
    policies: list[Annotated[str, Field(min_length=1, max_length=1000)] | dict] = []

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


# --------------------------------------------------------------------------- policies

PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
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
    title: Text
    publisher: Text
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


# --------------------------------------------------------------------------- profiles


class ProfileOverride(Strict):
    """One prior a profile changes, with the reason."""

    distribution: str
    why: str = Field(min_length=1, description="the basis for this value")

    @field_validator("distribution")
    @classmethod
    def _parses(cls, value: str) -> str:
        from forecast.inputs.priors import parse_distribution

        parse_distribution(value)
        return value


class ProfileModes(Strict):
    trend: Literal["damped", "frozen", "linear"] | None = None
    scale: Literal["clamp", "linear", "off"] | None = None
    why: str = ""


class ProfileFile(Strict):
    """An assumption profile: a documented set of prior overrides (``profiles/*.yaml``)."""

    schema_version: SchemaVersion
    name: ScenarioName
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    priors: dict[Identifier, ProfileOverride] = {}
    extrapolation: ProfileModes = ProfileModes()
