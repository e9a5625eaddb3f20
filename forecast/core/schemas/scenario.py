"""The scenario format (``scenarios/*.yaml``): the base model, the actor, what the
evaluation applied, extrapolation past the histories, horizon, evals and their thresholds,
priors and policies (docs/scenarios.md).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, Field, field_validator, model_validator

from forecast.core.distributions import parse_distribution
from forecast.core.errors import LocatedValueError
from forecast.core.schemas.common import (
    Actor,
    Category,
    Count,
    Identifier,
    Name,
    Number,
    ReferenceDate,
    SchemaVersion,
    Strict,
    Text,
    not_bool,
)

# --------------------------------------------------------------------------- scenarios

Fraction = Annotated[Number, Field(gt=0, lt=1, allow_inf_nan=False)]
#: The longest horizon a forecast looks ahead (a scenario's, --horizon, a backtest's).
MAX_HORIZON_MONTHS = 120
ScenarioName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class BaseModelSpec(Strict):
    name: Name = Field(min_length=1)
    training_compute_flop: Annotated[Number, Field(ge=1e18, le=1e30)] = Field(
        description="descriptive: the histories show no dependence on it (docs/method.md)"
    )
    reference_date: ReferenceDate = Field(description="the date of the evaluation")
    released: ReferenceDate | None = Field(
        None, description="when the model was released (default: the reference date)"
    )
    weights: Literal["open", "closed"]

    @model_validator(mode="after")
    def _released(self) -> BaseModelSpec:
        if self.released is not None and self.released > self.reference_date:
            raise LocatedValueError(
                f"'released' ({self.released}) is after 'reference_date' "
                f"({self.reference_date}): a model is evaluated after its release",
                ("released",),
            )
        return self

    @property
    def age_months(self) -> float:
        """Months from the release to the reference date (0 when not given)."""
        if self.released is None:
            return 0.0
        return (self.reference_date - self.released).days / 30.44


class Elicited(Strict):
    """What the evaluation already applied: these add no uplift."""

    categories: list[Category] = []
    enhancements: list[Identifier] = []


#: How the calendar trend of the rate of improvements is carried past the histories
#: (:class:`Extrapolation`).
TrendMode = Literal["frozen", "damped", "linear"]
TREND_MODES: tuple[str, ...] = get_args(TrendMode)
#: Keys of earlier model versions, with what replaced them (a clear error, not "unknown key").
REMOVED_KEYS = {
    "absorbed": (
        "'absorbed' was removed in model 5: what a model has built in is part of its "
        "measured score, and the forecast starts from that score (docs/scenarios.md)"
    ),
}
REMOVED_EXTRAPOLATION_KEYS = {
    "scale": (
        "'extrapolation.scale' was removed in model 5: base-model compute does not enter the "
        "forecast (docs/method.md, 'What base-model compute does')"
    ),
}


def refuse_removed(data, removed: dict[str, str]):
    """``data`` unchanged, unless it holds a key of ``removed``: then the located message
    that says what became of it (a key removed in model 5)."""
    if isinstance(data, dict):
        for key, message in removed.items():
            if key in data:
                raise LocatedValueError(message, (key,))
    return data


class Extrapolation(Strict):
    """How the rate of improvements is carried past the histories' dates (docs/method.md).

    ``trend``: within the histories' span the fitted calendar trend of the rate
    (``rate_trend``) applies; past it the rate is ``frozen`` at its last value (the
    default), ``damped`` (the trend fades with time constant ``trend_fade_years``) or
    ``linear`` (the trend continues).
    """

    trend: TrendMode = "frozen"

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data):
        return refuse_removed(data, REMOVED_EXTRAPOLATION_KEYS)


class EvalSpec(Strict):
    """A dangerous-capability evaluation and its threshold.

    Give the current state either as an aggregate ``score`` (fraction of tasks or points
    in (0, 1), with ``n_tasks`` for its binomial uncertainty) or as a per-task results
    ``tasks_file`` (CSV: task_id, successes, attempts), relative to the scenario file.
    """

    name: ScenarioName
    description: Text = ""
    score: Fraction | None = None
    n_tasks: Annotated[Count, Field(gt=0, le=10_000_000)] | None = None
    threshold: Fraction | None = Field(None, description="dangerous aggregate score")
    tasks_file: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    task_pass_rate: Fraction = Field(0.10, description="a task counts as passed at this rate")
    tasks_fraction: Fraction = Field(0.50, description="threshold met at this share of tasks")
    slope: Name = Field("default", description="logits per OOM: a distribution or 'default'")
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

    @field_validator("compare_with")
    @classmethod
    def _unique_measurements(cls, ids: list[str]) -> list[str]:
        first: dict[str, int] = {}
        for k, mid in enumerate(ids):
            if mid in first:
                raise LocatedValueError(
                    f"measurement {mid!r} is named twice (first at compare_with[{first[mid]}]): "
                    "a backtest would count it twice",
                    (k,),
                )
            first[mid] = k
        return ids

    @field_validator("slope")
    @classmethod
    def _slope(cls, value: str) -> str:
        if value != "default":
            parse_distribution(value)
        return value


class Scenario(Strict):
    schema_version: SchemaVersion
    name: ScenarioName
    title: Name = Field(min_length=1)
    description: Text = ""
    base_model: BaseModelSpec
    actor: Actor
    already_elicited: Elicited = Elicited()
    extrapolation: Extrapolation = Extrapolation()
    horizon_months: Annotated[Count, Field(ge=0, le=MAX_HORIZON_MONTHS)] = 12
    step_months: Annotated[Count, Field(ge=1, le=12)] = 1
    confidence: Annotated[Number, Field(ge=0.5, le=0.999)] = 0.95
    evals: list[EvalSpec] = []
    priors: dict[
        Annotated[str, Field(max_length=64)], Annotated[Name | Number, BeforeValidator(not_bool)]
    ] = {}
    # Shipped policy names, policy files (relative to the scenario) or inline policies
    # (validated by forecast.inputs.policies, which locates errors in this file; docs/policies.md).
    policies: list[Annotated[str, Field(min_length=1, max_length=1000)] | dict] = []

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data):
        if isinstance(data, dict):
            for key, message in REMOVED_KEYS.items():
                if key in data:
                    raise LocatedValueError(message, (key,))
        return data

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
