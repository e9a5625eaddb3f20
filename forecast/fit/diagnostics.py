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
        if self.chains < 2:
            out.append("R-hat needs at least 2 chains (this fit ran 1)")
        elif not math.isfinite(self.r_hat_max) or self.r_hat_max > R_HAT_MAX:
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
        """As JSON: an undefined statistic (R-hat of one chain) is null."""
        d = dataclasses.asdict(self)
        for key in ("r_hat_max", "ess_bulk_min", "ess_tail_min"):
            if not math.isfinite(d[key]):
                d[key] = None
        return d | {"ok": self.ok, "problems": self.problems}

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        """From ``to_dict`` output; wrong types raise TypeError or ValueError."""
        return cls(
            r_hat_max=_number(d["r_hat_max"]),
            ess_bulk_min=_number(d["ess_bulk_min"]),
            ess_tail_min=_number(d["ess_tail_min"]),
            divergences=int(d["divergences"]),
            chains=int(d["chains"]),
            draws=int(d["draws"]),
            worst_r_hat=d.get("worst_r_hat"),
            worst_ess=d.get("worst_ess"),
        )


def _number(value) -> float:
    """A statistic from JSON: null (undefined) is NaN."""
    return math.nan if value is None else float(value)


def combined(by_model: dict[str, Diagnostics]) -> dict:
    """The diagnostics of several fits as one record: the worst of each statistic, every
    model's problems (prefixed with its name), and each model's own record under
    ``by_model``. ``ok`` only if every fit passes."""
    worst_r = max(by_model.items(), key=lambda kv: _nan_high(kv[1].r_hat_max))
    worst_e = min(by_model.items(), key=lambda kv: _nan_low(kv[1].ess_bulk_min))
    worst_t = min(d.ess_tail_min for d in by_model.values())
    problems = [f"{name}: {p}" for name, d in by_model.items() for p in d.problems]
    r_hat = worst_r[1].r_hat_max
    return {
        "r_hat_max": r_hat if math.isfinite(r_hat) else None,
        "ess_bulk_min": worst_e[1].ess_bulk_min,
        "ess_tail_min": worst_t,
        "divergences": sum(d.divergences for d in by_model.values()),
        "worst_r_hat": f"{worst_r[0]}: {worst_r[1].worst_r_hat}",
        "worst_ess": f"{worst_e[0]}: {worst_e[1].worst_ess}",
        "ok": not problems,
        "problems": problems,
        "by_model": {name: d.to_dict() for name, d in by_model.items()},
    }


def _nan_high(x: float) -> float:
    return math.inf if not math.isfinite(x) else x


def _nan_low(x: float) -> float:
    return -math.inf if not math.isfinite(x) else x
