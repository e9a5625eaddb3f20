"""The evidence catalogue's format (``priors/catalogue*.yaml``, a user's ``--evidence``):
enhancements, their CEG figures as points or bounds, and combinations (docs/catalogue.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from forecast.core.schemas.common import (
    Access,
    Category,
    Date,
    Identifier,
    Name,
    NonNegativeFinite,
    Number,
    SchemaVersion,
    Strict,
    Text,
)

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


def check_origin(record, what: str = "record") -> None:
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
    benchmark: Name = Field(min_length=1)
    domain: Name = Field(min_length=1)
    ceg: CegBound
    base_compute_flop: Annotated[Number, Field(gt=1e15, lt=1e30)] | None = None
    where: Text = Field(min_length=1, description="where the figure stands in its source")
    notes: Text = ""
    in_fit: bool = Field(True, description="false: recorded, but restates another figure")
    independent: bool = Field(
        False,
        description="measured by someone other than the method's authors, on tasks not "
        "chosen to show the method off",
    )
    origin: Origin = "seed"
    reference: Text = Field("", description="the primary source (needed for outside_seeds)")
    quote: Text = Field("", description="the exact sentence(s) the figure stands on")
    published: Date | None = Field(
        None,
        description="when this figure was first printed, if later than its enhancement's "
        "publication (a fit cut at an earlier date does not see it)",
    )

    @model_validator(mode="after")
    def _origin(self) -> ObservationFields:
        check_origin(self, "figure")
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
    name: Name = Field(min_length=1)
    category: Category
    published: Date
    access: Access
    one_time_cost: Bound | None = Field(None, description="fraction of pre-training compute")
    inference_cost: Bound | None = Field(None, description="multiplier on inference cost")
    source: Text = Field(min_length=1)
    origin: Origin = "seed"
    observations: list[Observation] = []


class Catalogue(Strict):
    schema_version: SchemaVersion
    source_document: Text = ""
    enhancements: list[Enhancement] = []
    combinations: list[Combination] = []
