"""Convergence diagnostics that travel with every fit, and the thresholds they must meet."""

from __future__ import annotations

import dataclasses
import math

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400
DIVERGENCES_MAX = 0


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    chains: int
    draws: int
    worst_r_hat: str | None = None
    worst_ess: str | None = None

    @property
    def problems(self) -> list[str]:
        """What failed, in words; empty when the fit passes."""
        out = []
        if not math.isfinite(self.r_hat_max) or self.r_hat_max > R_HAT_MAX:
            out.append(f"R-hat {self.r_hat_max:.3f} > {R_HAT_MAX} ({self.worst_r_hat})")
        if not math.isfinite(self.ess_bulk_min) or self.ess_bulk_min < ESS_BULK_MIN:
            out.append(f"bulk ESS {self.ess_bulk_min:.0f} < {ESS_BULK_MIN} ({self.worst_ess})")
        if self.divergences > DIVERGENCES_MAX:
            out.append(f"{self.divergences} divergent transitions")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ok": self.ok, "problems": self.problems}

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        """From ``to_dict`` output; wrong types raise TypeError or ValueError."""
        return cls(
            r_hat_max=float(d["r_hat_max"]),
            ess_bulk_min=float(d["ess_bulk_min"]),
            ess_tail_min=float(d["ess_tail_min"]),
            divergences=int(d["divergences"]),
            chains=int(d["chains"]),
            draws=int(d["draws"]),
            worst_r_hat=d.get("worst_r_hat"),
            worst_ess=d.get("worst_ess"),
        )
