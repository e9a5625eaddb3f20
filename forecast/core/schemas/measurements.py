"""The measurements format (``priors/measurements*.yaml``, ``priors/histories/*.yaml``,
``priors/eval-slopes.yaml``, a user's ``--measurements``): suites, measured scores, elicitation
gains (a fixed model before and after later elicitation) and scaling groups (one model family
at several training computes) (docs/catalogue.md, "Measurements").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from forecast.core.schemas.catalogue import Origin, check_origin
from forecast.core.schemas.common import (
    Actor,
    Category,
    Count,
    Date,
    Identifier,
    Name,
    NonNegativeFinite,
    Number,
    PositiveFinite,
    Strict,
    Text,
    whole_number,
)

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
    description: Text = ""


class Suite(Strict):
    id: Identifier
    name: Name = Field(min_length=1)
    n_tasks: Annotated[Count, Field(gt=0)] | None = Field(
        None, description="number of tasks; null where the source does not say"
    )
    task_families: Annotated[Count, Field(gt=0)] | None = None
    token_budget: Annotated[Count, Field(gt=0)] | None = None
    where: Text = Field(min_length=1)
    quote: Text = ""
    notes: Text = ""
    origin: Origin = "seed"
    reference: Text = ""

    @model_validator(mode="after")
    def _origin(self) -> Suite:
        check_origin(self, "suite")
        return self


class Measurement(Strict):
    """A fixed model's score on a suite at a date, with what had been applied to it."""

    id: Identifier
    suite: Identifier
    model: Name = Field(min_length=1, description="the model version measured")
    agent: Name = Field("", description="the agent or scaffold as the source names it")
    base_model: Name | None = Field(None, description="the pre-trained model a series shares")
    base_compute_flop: Annotated[Number, Field(gt=1e15, lt=1e30)] | None = None
    base_compute_basis: Text = Field("", description="quoted basis or arithmetic")
    model_date: Date | None = Field(None, description="when this model version existed")
    model_date_precision: DatePrecision = "day"
    measured: Date | None = Field(None, description="when the score was measured")
    date_precision: DatePrecision = "day"
    published: Date | None = Field(
        None,
        description="when the figure first became public (paper, post, leaderboard row): "
        "a fit cut at an earlier date does not see it",
    )
    publisher: Name = Field(
        "", description="who published the figure (an organisation): groups held out together"
    )
    metric: Metric
    k: Annotated[Count, Field(ge=1)] | None = None
    time_budget_hours: PositiveFinite | None = None
    score: Score | None = Field(..., description="null where the source prints no number")
    applied: Applied = Applied()
    effort: Text = ""
    basis: Basis = "measured"
    independent: bool = False
    origin: Origin = "seed"
    reference: Text = ""
    where: Text = Field(min_length=1)
    quote: Text = ""
    notes: Text = ""

    @model_validator(mode="after")
    def _checks(self) -> Measurement:
        check_origin(self, "measurement")
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
    where: Text = Field(min_length=1)
    quote: Text = Field(min_length=1)


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
    reason: Text = Field("", description="why not, when backtest is false")
    difference: Difference | None = None
    origin: Origin = "seed"
    reference: Text = ""
    where: Text = Field(min_length=1)
    quote: Text = ""
    notes: Text = ""

    @model_validator(mode="after")
    def _checks(self) -> ElicitationGain:
        check_origin(self, "pair")
        if self.before == self.after:
            raise ValueError("'before' and 'after' name the same measurement")
        if not self.backtest and not self.reason.strip():
            raise ValueError("'backtest: false' needs a 'reason'")
        if self.backtest and self.as_of is None:
            raise ValueError("'backtest: true' needs 'as_of' (when the BEFORE state existed)")
        if not (self.added.categories or self.added.enhancements or self.added.description):
            raise ValueError("'added' must say what the later elicitation added")
        return self


class ScalingGroup(Strict):
    """Models of one family and one training recipe, evaluated with one setup on one suite,
    at increasing training compute: their logit differences per OOM of compute measure the
    suite's eval slope (docs/method.md, "From uplift to scores")."""

    id: Identifier
    suite: Identifier
    family: str = Field(min_length=1, max_length=200)
    setup: str = Field(min_length=1, max_length=500, description="prompt, shots, harness")
    measurements: list[Identifier] = Field(
        min_length=2, description="from the smallest training compute to the largest"
    )
    notes: str = ""

    @model_validator(mode="after")
    def _distinct(self) -> ScalingGroup:
        if len(set(self.measurements)) != len(self.measurements):
            raise ValueError("'measurements' lists a measurement twice")
        return self


class Measurements(Strict):
    schema_version: Annotated[Literal[2], BeforeValidator(whole_number)]
    source_document: Text = ""
    suites: list[Suite] = []
    measurements: list[Measurement] = []
    elicitation_gains: list[ElicitationGain] = []
    scaling_groups: list[ScalingGroup] = []
