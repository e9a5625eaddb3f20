"""Safety-buffer recommendations (MODEL.md section 5): buffer, re-evaluation intervals,
and the side-by-side with published policy rules. Pure numerics on uplift draws."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Policy:
    """A published rule reduced to a buffer (multiplier) and a re-evaluation interval."""

    name: str
    title: str
    buffer_multiplier: float
    interval_months: float | None  # None: no time-based re-evaluation; the horizon is used
    rule: str

    @property
    def buffer_oom(self) -> float:
        return math.log10(self.buffer_multiplier)


POLICIES = (
    Policy(
        "anthropic-rsp-v1",
        "Anthropic RSP v1.0",
        6.0,
        3.0,
        "evaluate every 4x effective compute and every 3 months; 6x safety buffer; a task "
        "passes at 1 success in 10 tries, the threshold is met at 50% of tasks",
    ),
    Policy(
        "anthropic-rsp-v2",
        "Anthropic RSP v2",
        4.0,
        6.0,
        "re-evaluate at 4x effective compute or six months of accumulated post-training "
        "enhancements",
    ),
    Policy(
        "gdm-fsf-v1",
        "Google DeepMind Frontier Safety Framework v1.0",
        6.0,
        3.0,
        "evaluate every 6x effective compute and every 3 months of fine-tuning progress",
    ),
    Policy(
        "openai-pf-beta",
        "OpenAI Preparedness Framework (beta)",
        2.0,
        None,
        "evaluate at more than 2x effective compute; no time-based interval",
    ),
)
#: Buffers for which the re-evaluation interval is always reported.
STANDARD_BUFFERS = (2.0, 4.0, 6.0, 10.0)
POLICY_MONTHS = sorted({p.interval_months for p in POLICIES if p.interval_months})


def quantile_over_time(uplift_oom: np.ndarray, confidence: float) -> np.ndarray:
    return np.quantile(uplift_oom, confidence, axis=0)


def reevaluation_months(
    times: np.ndarray, uplift_oom: np.ndarray, confidence: float, buffer_oom: float
) -> dict:
    """The longest time for which ``buffer_oom`` still covers U(t) at ``confidence``.

    U is non-decreasing in t for every draw, so its quantile is too; between grid points
    the crossing month is interpolated linearly. ``beyond_horizon`` means the buffer
    covers the whole simulated horizon (the interval is at least that long).
    """
    q = quantile_over_time(uplift_oom, confidence)
    covered = q <= buffer_oom + 1e-12
    if covered.all():
        return {"months": float(times[-1]), "beyond_horizon": True}
    first_short = int(np.argmax(~covered))
    if first_short == 0:
        return {"months": 0.0, "beyond_horizon": False}
    t0, t1, q0, q1 = times[first_short - 1], times[first_short], q[first_short - 1], q[first_short]
    months = t0 + (t1 - t0) * (buffer_oom - q0) / (q1 - q0) if q1 > q0 else t0
    return {"months": float(months), "beyond_horizon": False}


def policy_comparison(
    times: np.ndarray, uplift_oom: np.ndarray, confidence: float, horizon_months: float
) -> list[dict]:
    """For each policy: does its buffer cover the uplift accumulated over its interval?"""
    out = []
    for p in POLICIES:
        period = p.interval_months if p.interval_months is not None else horizon_months
        t = int(np.argmin(np.abs(times - period)))
        at = uplift_oom[:, t]
        needed = float(np.quantile(at, confidence))
        out.append(
            {
                "name": p.name,
                "title": p.title,
                "rule": p.rule,
                "buffer_oom": p.buffer_oom,
                "buffer_multiplier": p.buffer_multiplier,
                "interval_months": p.interval_months,
                "period_checked_months": float(times[t]),
                "uplift_at_confidence_oom": needed,
                "uplift_at_confidence_multiplier": 10.0**needed,
                "covers": needed <= p.buffer_oom,
                "margin_oom": p.buffer_oom - needed,
                "p_uplift_exceeds_buffer": float((at > p.buffer_oom).mean()),
                "reevaluation": reevaluation_months(times, uplift_oom, confidence, p.buffer_oom),
            }
        )
    return out
