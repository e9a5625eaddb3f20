"""Forward simulation of the uplift U(t) in OOM (stage 3 of the pipeline).

For each draw of the uplift model's posterior (docs/method.md section 7): improvement events
arrive as a Poisson process whose intensity falls with the model's age, follows the calendar
trend within the histories' span (and the scenario's trend mode past it), is lower the more
elicitation the evaluation applied and higher the more access the actor has, all times the
draw's attention factor (LogNormal, median 1, held over the horizon); each event adds a
LogNormal jump of effective compute.
``U(t)`` is the sum of the jumps of the events up to month ``t``.

Random numbers are drawn in a fixed layout so that comparisons hold draw by draw: event j of a
draw uses row j of every stream whatever the horizon, and events are first drawn for the most
permissive state (no elicitation applied, weights access) and then kept with probability
``exp(-elicitation_effect * e + access_effect * (q - 2))``, so more access or less elicitation
keeps a superset of the events. A draw simulates at most :data:`MAX_ROWS` events exactly;
events past that add their mean jump each (in the default run about 2.6% of draws at twelve
months get there, all in the upper tail where the buffer sits; with 512 jumps summed the
sum's relative spread is a few percent, so the mean is a close stand-in). Pure numpy; no
sampler is called.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from forecast.fit.uplift_model import ELICITED_CENTER
from forecast.inputs.policies import policy_months
from forecast.inputs.priors import PriorSet
from forecast.inputs.resolve import RunInputs
from forecast.simulate.setup import MAX_ACCESS, ForecastSetup, calendar_offset, setup_forecast

#: Draws are simulated in chunks of this size; results do not depend on the total.
CHUNK = 4000
#: Priors the forward simulation draws itself (they do not enter a fit).
FORECAST_PRIORS = ("trend_fade_years",)
#: Resolution of the cumulative intensity (months).
FINE_STEP_MONTHS = 0.25
#: Rows of random numbers are drawn in blocks of this many (row j never depends on how many).
BLOCK = 16
#: Events simulated one by one per draw; past this each adds the mean jump.
MAX_ROWS = 512
#: The event streams (arrival times, keep and jump numbers) of the last seed and number of
#: draws are kept for the next simulation with the same ones, up to this many bytes: a run
#: simulates its scenario several times with one seed (the posterior, the priors alone, each
#: profile, the sensitivity), and drawing the streams is half of a simulation's cost. The
#: default 6,000 draws need at most 74 MB.
STREAM_CACHE_BYTES = 96 << 20


@dataclasses.dataclass(frozen=True)
class Uplift:
    """Simulated uplift: ``oom[n, t]`` for draw n at ``times_months[t]``.

    ``events[n, t]`` counts the draw's improvement events up to ``t``; ``drivers`` holds
    per-draw quantities that explain the draw (:mod:`forecast.explain.decompose`): its
    attention factor, the rate at the reference date, its mean jump, the forecast-only
    priors' values and the posterior draw it came from.
    """

    times_months: np.ndarray
    oom: np.ndarray  # (N, T)
    events: np.ndarray  # (N, T)
    drivers: dict = dataclasses.field(default_factory=dict, repr=False)

    def quantiles(self, probs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
        """(len(probs), T) quantiles of U(t) in OOM."""
        return np.quantile(self.oom, probs, axis=0)

    def upto(self, end: int) -> Uplift:
        """The first ``end`` time steps."""
        return dataclasses.replace(
            self,
            times_months=self.times_months[:end],
            oom=self.oom[:, :end],
            events=self.events[:, :end],
        )


def simulate_uplift(
    draws: dict[str, np.ndarray],
    setup: ForecastSetup,
    priors: PriorSet,
    n_draws: int | None = None,
    seed: int = 0,
) -> Uplift:
    """Simulate U(t) for ``n_draws`` draws (default: one per posterior draw).

    Parameters
    ----------
    draws
        The uplift model's posterior draws (``Fit.draws``), the draw on the first axis.
    priors
        Supplies the forecast-only priors (:data:`FORECAST_PRIORS`).
    seed
        Same seed, same inputs: identical output. The random streams of the last seed and
        number of draws are kept for the next call with the same ones (up to
        :data:`STREAM_CACHE_BYTES`; :func:`clear_stream_cache` drops them); they only save
        drawing them again.
    """
    n_post = len(draws["event_rate"])
    n_draws = n_post if n_draws is None else int(n_draws)
    if n_draws == n_post:
        posterior_index = np.arange(n_post)
    else:
        posterior_index = np.random.default_rng([seed, 1]).integers(0, n_post, n_draws)
    parts = []
    _use_streams_of(seed, n_draws)
    for c, start in enumerate(range(0, n_draws, CHUNK)):
        index = posterior_index[start : start + CHUNK]
        p = {name: values[index] for name, values in draws.items() if values.ndim == 1}
        parts.append(_simulate_chunk(p, setup, priors, seed, c))
    drivers = {key: np.concatenate([part[2][key] for part in parts]) for key in parts[0][2]}
    drivers["posterior_index"] = posterior_index
    return Uplift(
        setup.times_months,
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        drivers,
    )


def _simulate_chunk(p: dict, setup: ForecastSetup, priors: PriorSet, seed: int, chunk: int):
    n = len(p["event_rate"])

    def stream(purpose: int) -> np.random.Generator:
        return np.random.default_rng([seed, chunk, purpose])

    fp = {
        name: priors.prior(name).sample(stream(100 + i), n)
        for i, name in enumerate(FORECAST_PRIORS)
    }
    # The intensity at the most permissive state, on a fine grid of months (the lead shifts
    # the grid: the developer sees what others publish lead_months later).
    end = float(setup.times_months[-1]) + setup.lead_months
    fine = np.arange(0.0, end + FINE_STEP_MONTHS, FINE_STEP_MONTHS)
    spread = p["attention_spread"]
    attention = np.exp(spread * stream(10).standard_normal(n))
    top = (
        attention
        * p["event_rate"]
        * np.exp(p["elicitation_effect"] * ELICITED_CENTER + p["access_effect"] * MAX_ACCESS)
    )
    calendar = calendar_offset(
        setup.year + fine[None, :] / 12.0, setup, fp["trend_fade_years"][:, None]
    )
    rate = top[:, None] * np.exp(
        -(setup.age_months + fine[None, :]) / p["rate_decay_months"][:, None]
        + p["rate_trend"][:, None] * calendar
    )
    steps = (rate[:, 1:] + rate[:, :-1]) * (FINE_STEP_MONTHS / 2.0)
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    total = cumulative[:, -1]

    # Unit-rate arrival times, in blocks of rows until every draw has passed its total.
    arrivals = _stream(seed, chunk, 20, n, "arrivals")
    rows, last = 0, np.zeros(n)
    while (last <= total).any() and rows < MAX_ROWS:
        rows += BLOCK
        last = arrivals.rows(rows)[-1]
    unit = arrivals.rows(rows)

    at = np.clip(setup.times_months + setup.lead_months, 0.0, end)
    cumulative_at = _interp_rows(at, fine, cumulative)  # (n, T)
    index = _count_below(unit, cumulative_at)  # events among the drawn rows by each time
    s = p["increment_spread"]
    oom, events = _kept_sums(
        index,
        _stream(seed, chunk, 30, n, "random"),
        _stream(seed, chunk, 40, n, "standard_normal"),
        _kept_share(p, setup),
        np.log(p["increment_mean"]) - s**2 / 2.0,
        s,
    )
    # Past the last row: the expected further events, thinned, each adding the mean jump.
    beyond = np.where(index >= rows, np.maximum(cumulative_at - last[:, None], 0.0), 0.0)
    beyond = beyond * _kept_share(p, setup)[:, None]
    oom = oom + beyond * p["increment_mean"][:, None]
    events = events + beyond
    h = int(np.searchsorted(setup.times_months, setup.horizon_months))
    kept_share = _kept_share(p, setup)
    expected_events = cumulative_at[:, h] * kept_share  # given the parameters and attention
    drivers = {
        **{f"prior:{name}": fp[name] for name in FORECAST_PRIORS},
        "attention": attention,
        "rate_at_reference": rate[:, 0] * kept_share,
        "increment_mean": p["increment_mean"],
        "expected_oom": expected_events * p["increment_mean"],
        "expected_oom_typical_attention": np.divide(
            expected_events, attention, out=np.zeros(n), where=attention > 0
        )
        * p["increment_mean"],
        "beyond_rows": (last <= total).astype(float),
    }
    return oom, events, drivers


def _kept_share(p: dict, setup: ForecastSetup) -> np.ndarray:
    """The share of the most permissive state's events this scenario keeps (at most 1)."""
    return np.exp(
        -p["elicitation_effect"] * setup.elicited + p["access_effect"] * (setup.access - MAX_ACCESS)
    )


class _Stream:
    """One random stream of a chunk as (rows, n) numbers drawn in blocks of :data:`BLOCK` rows
    (row j is the same whatever the number of rows asked for), kept as drawn.

    ``kind`` is a :class:`numpy.random.Generator` method, or ``arrivals``: unit-rate Poisson
    arrival times (each block the cumulative sum of its exponentials from the last row of the
    block before).
    """

    def __init__(self, seed: int, chunk: int, purpose: int, n: int, kind: str):
        self.generator = np.random.default_rng([seed, chunk, purpose])
        self.kind = kind
        self.drawn = 0
        self.values = np.empty((MAX_ROWS, n))  # pages past the rows drawn are never touched

    @property
    def nbytes(self) -> int:
        return self.values.nbytes

    def rows(self, count: int) -> np.ndarray:
        """The first ``count`` rows (a multiple of BLOCK, at most MAX_ROWS), read-only."""
        with _STREAMS_LOCK:
            while self.drawn < count:
                block = self.values[self.drawn : self.drawn + BLOCK]
                n = block.shape[1]
                if self.kind == "arrivals":
                    last = self.values[self.drawn - 1] if self.drawn else np.zeros(n)
                    np.add(last, np.cumsum(self.generator.exponential(size=(BLOCK, n)), axis=0),
                           out=block)  # fmt: skip
                else:
                    getattr(self.generator, self.kind)(out=block)  # as size=(BLOCK, n) draws
                self.drawn += BLOCK
        out = self.values[:count]
        out.flags.writeable = False
        return out


_STREAMS_LOCK = threading.RLock()
_STREAMS: dict[tuple, _Stream] = {}
_streams_of: tuple[int, int] | None = None  # the (seed, draws) whose streams are kept


def _use_streams_of(seed: int, n_draws: int) -> None:
    """Keep the streams of this seed and number of draws (drop any others)."""
    global _streams_of
    with _STREAMS_LOCK:
        if _streams_of != (seed, n_draws):
            _STREAMS.clear()
            _streams_of = (seed, n_draws)


def clear_stream_cache() -> None:
    """Drop the kept event streams (:data:`STREAM_CACHE_BYTES`)."""
    global _streams_of
    with _STREAMS_LOCK:
        _STREAMS.clear()
        _streams_of = None


def _stream(seed: int, chunk: int, purpose: int, n: int, kind: str) -> _Stream:
    """The stream ``purpose`` of chunk ``chunk``: the kept one, or a new one (kept while
    the streams kept stay within :data:`STREAM_CACHE_BYTES`)."""
    key = (seed, chunk, purpose, n, kind)
    with _STREAMS_LOCK:
        found = _STREAMS.get(key)
        if found is not None:
            return found
        new = _Stream(seed, chunk, purpose, n, kind)
        if sum(s.nbytes for s in _STREAMS.values()) + new.nbytes <= STREAM_CACHE_BYTES:
            _STREAMS[key] = new
        return new


def _kept_sums(
    index: np.ndarray,
    keep_stream: _Stream,
    z_stream: _Stream,
    share: np.ndarray,
    log_center: np.ndarray,
    spread: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The sum of the kept jumps and the count of kept events among each draw's first
    ``index[n, t]`` rows: ``(oom, events)``, both (N, T).

    Row j of draw n is kept when entry (j, n) of ``keep_stream`` (uniforms) is below
    ``share[n]``, and its jump is ``exp(log_center[n] + spread[n] z)`` with z the same entry
    of ``z_stream`` (standard normals). Jumps are computed and summed only for the rows a
    draw reads (most draws read a few dozen of the hundreds of rows the busiest draw needs),
    adding row after row as a cumulative sum over all rows does: the same numbers, bit for
    bit, for less work.
    """
    n, times = index.shape
    oom = np.zeros((n, times))
    events = np.zeros((n, times))
    need = index.max(axis=1) if times else np.zeros(n, dtype=int)
    if n == 0 or need.max() == 0:
        return oom, events
    order = np.argsort(-need, kind="stable")  # draws reading the most rows first
    active_desc = -need[order]  # ascending
    slot = np.empty(n, dtype=np.intp)
    slot[order] = np.arange(n)
    # The (draw, time) cells by the row after which they are read (index 0 reads nothing).
    flat = index.ravel()
    cells = np.flatnonzero(flat > 0)
    cells = cells[np.argsort(flat[cells], kind="stable")]
    read_after = flat[cells] - 1  # the cell's sum covers rows 0 .. read_after
    cell_draw, cell_time = np.divmod(cells, times)
    cell_slot = slot[cell_draw]

    sums = np.zeros(n)  # by slot: the draw's sum over the rows so far
    counts = np.zeros(n, dtype=np.int64)
    for start in range(0, int(need.max()), BLOCK):
        keep_block = keep_stream.rows(start + BLOCK)[start:]
        z_block = z_stream.rows(start + BLOCK)[start:]
        live = int(np.searchsorted(active_desc, -start, side="left"))  # draws with need > start
        draws = order[:live]
        keep = keep_block[:, draws] < share[draws]
        jumps = np.exp(log_center[draws] + spread[draws] * z_block[:, draws])
        jumps = np.where(keep, jumps, 0.0)
        running = np.cumsum(np.concatenate([sums[None, :live], jumps]), axis=0)
        kept = np.cumsum(np.concatenate([counts[None, :live], keep]), axis=0)
        sums[:live] = running[-1]
        counts[:live] = kept[-1]
        lo, hi = np.searchsorted(read_after, [start, start + BLOCK], side="left")
        if hi > lo:
            row = read_after[lo:hi] - start + 1
            at_draw, at_time, at_slot = cell_draw[lo:hi], cell_time[lo:hi], cell_slot[lo:hi]
            oom[at_draw, at_time] = running[row, at_slot]
            events[at_draw, at_time] = kept[row, at_slot]
    return oom, events


def _interp_rows(x: np.ndarray, grid: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each row of ``rows`` (values on ``grid``) interpolated linearly at the points ``x``."""
    i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    w = (x - grid[i]) / (grid[i + 1] - grid[i])
    return rows[:, i] * (1.0 - w) + rows[:, i + 1] * w


def _count_below(sorted_columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each draw n (a column, ascending), how many of its entries are <= values[n, k].

    Entries and values are compared after adding the draw's offset ``n * top`` (top above
    every entry and value), as a search of all columns laid end to end would; a binary
    search per (draw, time) finds the count without building that array.
    """
    rows, n = sorted_columns.shape
    if rows == 0:
        return np.zeros(values.shape, dtype=int)
    top = max(float(sorted_columns.max()), float(values.max())) + 1.0
    offset = (np.arange(n) * top)[:, None]
    target = values + offset
    flat = np.ravel(sorted_columns)  # entry (row, draw) at row * n + draw
    draw = np.broadcast_to(np.arange(n)[:, None], values.shape)
    lo = np.zeros(values.shape, dtype=np.intp)
    hi = np.full(values.shape, rows, dtype=np.intp)
    for _ in range(int(rows).bit_length()):  # halves every open interval: enough to close all
        mid = (lo + hi) >> 1
        probe = flat.take(np.minimum(mid, rows - 1) * n + draw) + offset
        right = (probe <= target) & (lo < hi)
        np.copyto(lo, mid + 1, where=right)
        np.copyto(hi, mid, where=~right & (lo < hi))
    return lo


def simulate(
    inputs: RunInputs, posterior_draws: dict, *, seed: int = 0, draws: int | None = None,
    priors: PriorSet | None = None, months=None, **overrides,
) -> Uplift:  # fmt: skip
    """U(t) for the inputs' scenario from the uplift model's posterior draws (the policies'
    periods included in the grid).

    ``priors`` replaces the inputs' forecast priors (sensitivity, profiles); ``months``
    replaces the time grid (e.g. the horizon alone); ``overrides`` go to
    :func:`forecast.simulate.setup.setup_forecast` (``actor``, ``trend_mode``, ...).
    """
    setup = setup_forecast(
        inputs.scenario,
        inputs.histories,
        extra_months=policy_months(inputs.policies),
        **overrides,
    )
    if months is not None:
        setup = dataclasses.replace(setup, times_months=np.asarray(months, dtype=float))
    return simulate_uplift(posterior_draws, setup, priors or inputs.priors, draws, seed)
