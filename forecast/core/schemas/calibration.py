"""The calibration and backtest documents a bundle summarises (``export --calibration``):
the JSON of ``forecast check sbc``, ``forecast check figures`` and ``forecast backtest``.

Every field a summary reads is checked here before any work (its type, range and length);
other fields are kept as they are (a document of another version may carry more). The
reader (:func:`forecast.report.export.read_calibration`) also bounds the file's size and
nesting and refuses NaN and infinity anywhere in it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from forecast.core.schemas.common import not_bool

# --------------------------------------------------------------------------- calibration


class Part(BaseModel):
    """A part of a document: the fields below are checked, others are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


Finite = Annotated[float, BeforeValidator(not_bool), Field(strict=True, allow_inf_nan=False)]
Tally = Annotated[int, BeforeValidator(not_bool), Field(strict=True, ge=0, le=10**9)]
#: A name or a verdict (a figure's label, a quantity, a pair's id).
Label = Annotated[str, Field(max_length=500)]
#: A sentence or two (a method, a score's definition).
Prose = Annotated[str, Field(max_length=2000)]
#: Rows of a document's table.
Rows = Field(max_length=100_000)


class SbcQuantity(Part):
    quantity: Label
    mean_rank_fraction: Finite | None = None
    outer_fifths_share: Finite | None = None
    p_value: Finite | None = None
    verdict: Label = ""


class SbcDocument(Part):
    """``forecast check sbc --json`` (or ``sbc.json`` of ``--out``)."""

    n_fits: Tally
    quantities: Annotated[list[SbcQuantity], Rows]
    all_uniform: bool = False
    n_ranks: Tally | None = None
    failed_fits: Tally = 0
    seed: Tally | None = None
    method: Prose = ""


class PitFigure(Part):
    label: Label
    pit: Finite | None = None
    pareto_k: Finite | None = None
    unexplained: bool = False
    reasons: Annotated[list[Label], Field(max_length=100)] = []


class PitSummary(Part):
    mean_pit: Finite | None
    share_below_half: Finite | None = None
    n_figures: Tally = 0
    n_unexplained: Tally = 0
    n_high_pareto_k: Tally = 0
    pit_inside_band: bool | None = None
    pit_band_p_value: Finite | None = None


class LooPitDocument(Part):
    """``forecast check figures --json`` (or ``loo_pit.json`` of ``--out``)."""

    figures: Annotated[list[PitFigure], Rows]
    summary: PitSummary
    method: Prose = ""


class Comparison(Part):
    eval: Label
    measurement: Label
    months_after: Finite | None = None
    measured: Finite | None = None
    forecast_q05: Finite | None = None
    forecast_q50: Finite | None = None
    forecast_q95: Finite | None = None
    inside_90: bool | None = None
    verdict: Label = ""


class ScenarioBacktest(Part):
    """``forecast backtest SCENARIO --as-of DATE --json``."""

    comparisons: Annotated[list[Comparison], Rows]
    scenario: Label = "-"
    as_of: Label = "-"
    catalogue_enhancements: Tally | None = None


class PairRow(Part):
    pair: Label
    as_of: Label = "-"
    months_after: Finite | None = None
    measured: Finite | None = None
    pit: Finite | None = None
    crps: Finite | None = None
    verdict: Label = ""


class Totals(Part):
    n: Tally = 0
    inside_90: Tally | None = None
    mean_crps: Finite | None = None
    mean_crps_no_change: Finite | None = None
    mean_pit: Finite | None = None


class PairsBacktest(Part):
    """``forecast backtest --json`` (every measurement pair)."""

    pairs: Annotated[list[PairRow], Rows]
    totals: Totals
    skipped: Annotated[list, Rows] = []
    score: Prose = ""


class SchemeResult(Part):
    title: Label = "-"
    folds: Annotated[list, Rows] = []
    failed_folds: Annotated[list, Rows] = []
    totals: Totals
    rows: Annotated[list, Rows] = []


class CrossValidation(Part):
    schemes: dict[Label, SchemeResult]


class CutResult(Part):
    cut: Label
    totals: Totals
    rows: Annotated[list, Rows] = []


class HistoriesBacktest(Part):
    """``forecast backtest --json`` (the uplift model's cross-validation over the measured
    histories and its time cuts)."""

    crossval: CrossValidation
    cuts: Annotated[list[CutResult], Rows] = []
    score: Prose = ""
    created: Label = "-"


#: The model of each kind of document (:func:`forecast.report.calibration.calibration_kind`;
#: a backtest of one scenario has ``comparisons``, one of every pair ``pairs``).
MODELS: dict[str, type[BaseModel]] = {
    "sbc": SbcDocument,
    "loo_pit": LooPitDocument,
    "backtest": ScenarioBacktest,
    "backtest_pairs": PairsBacktest,
    "backtest_histories": HistoriesBacktest,
}
