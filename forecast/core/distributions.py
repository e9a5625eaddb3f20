"""The distribution syntax: ``Normal(1.0, 0.5)``, ``Beta(2, 5)``, ``HalfNormal(0.4)``.

Written the same way everywhere a prior is (``priors/defaults.yaml``, a scenario's
``priors:`` block, a profile, ``--prior NAME=VALUE``, an eval's ``slope``); a plain number
fixes the parameter at that value. :func:`parse_distribution` reads one into a
:class:`Prior` (checked: known name, parameters in range), which draws samples and gives
its density, mean and spread.
"""

from __future__ import annotations

import ast
import dataclasses
import math

import numpy as np

from forecast.core.validation import suggest

# name -> (parameter names, support of the variable)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "Normal": (("mu", "sigma"), "real"),
    "HalfNormal": (("sigma",), "positive"),
    "LogNormal": (("mu", "sigma"), "positive"),
    "Gamma": (("alpha", "beta"), "positive"),
    "Exponential": (("lam",), "positive"),
    "Beta": (("alpha", "beta"), "unit"),
    "Uniform": (("lower", "upper"), "interval"),
    "Constant": (("value",), "point"),
}
SUPPORTS = {"real": (-math.inf, math.inf), "positive": (0.0, math.inf), "unit": (0.0, 1.0)}


@dataclasses.dataclass(frozen=True)
class Prior:
    """A univariate prior distribution."""

    dist: str
    params: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.dist}({', '.join(f'{p:g}' for p in self.params)})"

    @property
    def kwargs(self) -> dict[str, float]:
        return dict(zip(DISTRIBUTIONS[self.dist][0], self.params, strict=True))

    @property
    def support(self) -> tuple[float, float]:
        kind = DISTRIBUTIONS[self.dist][1]
        if kind == "interval":
            return self.params[0], self.params[1]
        if kind == "point":
            return self.params[0], self.params[0]
        return SUPPORTS[kind]

    def scipy(self):
        """The equivalent frozen scipy distribution (not for Constant)."""
        from scipy import stats  # lazy: scipy.stats costs ~0.7 s to import

        p = self.kwargs
        match self.dist:
            case "Normal":
                return stats.norm(p["mu"], p["sigma"])
            case "HalfNormal":
                return stats.halfnorm(scale=p["sigma"])
            case "LogNormal":
                return stats.lognorm(s=p["sigma"], scale=math.exp(p["mu"]))
            case "Gamma":
                return stats.gamma(a=p["alpha"], scale=1.0 / p["beta"])
            case "Exponential":
                return stats.expon(scale=1.0 / p["lam"])
            case "Beta":
                return stats.beta(p["alpha"], p["beta"])
            case "Uniform":
                return stats.uniform(p["lower"], p["upper"] - p["lower"])
        raise ValueError(f"{self.dist} has no scipy equivalent")

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        """Draws from numpy's generator (no scipy import on the warm path)."""
        p = self.kwargs
        match self.dist:
            case "Constant":
                return np.full(size, p["value"], dtype=float)
            case "Normal":
                return rng.normal(p["mu"], p["sigma"], size)
            case "HalfNormal":
                return np.abs(rng.normal(0.0, p["sigma"], size))
            case "LogNormal":
                return rng.lognormal(p["mu"], p["sigma"], size)
            case "Gamma":
                return rng.gamma(p["alpha"], 1.0 / p["beta"], size)
            case "Exponential":
                return rng.exponential(1.0 / p["lam"], size)
            case "Beta":
                return rng.beta(p["alpha"], p["beta"], size)
            case "Uniform":
                return rng.uniform(p["lower"], p["upper"], size)
        raise ValueError(f"cannot sample {self.dist}")

    # mean(), variance() and interval() are closed forms in numpy and scipy.special, written
    # with the same operations in the same order as scipy.stats' frozen distributions (of
    # :meth:`scipy`), so they give the same floats: a warm run reads them (the contraction of
    # a prior) and scipy.stats costs most of a second to import.
    # ``tests/core/test_distributions.py`` checks them against scipy.stats, bit for bit.

    def _standard(self) -> tuple[np.float64, np.float64, np.float64, np.float64]:
        """(loc, scale, mean, variance) of the standardised distribution, as scipy.stats
        parametrises it (its ``loc``, ``scale`` and ``_stats``)."""
        p, f = self.kwargs, np.float64
        match self.dist:
            case "Normal":
                return f(p["mu"]), f(p["sigma"]), f(0.0), f(1.0)
            case "HalfNormal":
                return f(0.0), f(p["sigma"]), np.sqrt(2.0 / np.pi), f(1 - 2.0 / np.pi)
            case "LogNormal":
                q = np.exp(f(p["sigma"]) * f(p["sigma"]))
                return f(0.0), f(math.exp(p["mu"])), np.sqrt(q), q * (q - 1)
            case "Gamma":
                return f(0.0), f(1.0 / p["beta"]), f(p["alpha"]), f(p["alpha"])
            case "Exponential":
                return f(0.0), f(1.0 / p["lam"]), f(1.0), f(1.0)
            case "Beta":
                a, b = f(p["alpha"]), f(p["beta"])
                a_plus_b = a + b
                return f(0.0), f(1.0), a / a_plus_b, a * b / (a_plus_b**2 * (a_plus_b + 1))
            case "Uniform":
                return f(p["lower"]), f(p["upper"] - p["lower"]), f(0.5), f(1.0 / 12)
        raise ValueError(f"{self.dist} has no moments")

    def mean(self) -> float:
        if self.dist == "Constant":
            return self.params[0]
        loc, scale, mean, _ = self._standard()
        return float(mean * scale + loc)

    def variance(self) -> float:
        if self.dist == "Constant":
            return 0.0
        _, scale, _, variance = self._standard()
        return float(variance * scale * scale)

    def ppf(self, q: float) -> float:
        """The quantile function at ``q`` (0 < q < 1)."""
        if self.dist == "Constant":
            return self.params[0]
        from scipy import special

        loc, scale, _, _ = self._standard()
        q = np.float64(q)
        p = self.kwargs
        match self.dist:
            case "Normal":
                x = special.ndtri(q)
            case "HalfNormal":
                x = special.ndtri((1 + q) / 2.0)
            case "LogNormal":
                x = np.exp(np.float64(p["sigma"]) * special.ndtri(q))
            case "Gamma":
                x = special.gammaincinv(np.float64(p["alpha"]), q)
            case "Exponential":
                x = -special.log1p(-q)
            case "Beta":  # scipy.stats' beta uses Boost's inverse (betaincinv is close)
                from scipy.special import _ufuncs

                beta_ppf = getattr(_ufuncs, "_beta_ppf", None)
                a, b = np.float64(p["alpha"]), np.float64(p["beta"])
                x = beta_ppf(q, a, b) if beta_ppf else special.betaincinv(a, b, q)
            case "Uniform":
                x = q
        return float(x * scale + loc)

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        """The central interval holding ``mass`` of the distribution."""
        if self.dist == "Constant":
            return self.params[0], self.params[0]
        return self.ppf((1.0 - mass) / 2), self.ppf((1.0 + mass) / 2)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """The log density at ``x`` (-inf outside the support).

        Closed forms in numpy (and ``scipy.special``): reweighting evaluates them for every
        draw on each warm run, where ``scipy.stats`` costs a second to import and to call;
        ``tests/core/test_distributions.py`` checks them against scipy.stats.
        """
        from scipy.special import betaln, gammaln

        x = np.asarray(x, dtype=float)
        p = self.kwargs
        with np.errstate(divide="ignore", invalid="ignore"):
            match self.dist:
                case "Constant":
                    return np.where(np.isclose(x, p["value"]), 0.0, -np.inf)
                case "Normal":
                    z = (x - p["mu"]) / p["sigma"]
                    return -0.5 * z**2 - math.log(p["sigma"]) - 0.5 * math.log(2 * math.pi)
                case "HalfNormal":
                    z = x / p["sigma"]
                    out = -0.5 * z**2 - math.log(p["sigma"]) + 0.5 * math.log(2 / math.pi)
                    return np.where(x >= 0, out, -np.inf)
                case "LogNormal":
                    safe = np.where(x > 0, x, 1.0)
                    z = (np.log(safe) - p["mu"]) / p["sigma"]
                    out = -0.5 * z**2 - np.log(safe) - math.log(p["sigma"] * math.sqrt(2 * math.pi))
                    return np.where(x > 0, out, -np.inf)
                case "Gamma":
                    a, b = p["alpha"], p["beta"]
                    safe = np.where(x > 0, x, 1.0)
                    out = a * math.log(b) - gammaln(a) + (a - 1) * np.log(safe) - b * safe
                    return np.where(x > 0, out, -np.inf)
                case "Exponential":
                    return np.where(x >= 0, math.log(p["lam"]) - p["lam"] * x, -np.inf)
                case "Beta":
                    a, b = p["alpha"], p["beta"]
                    inside = (x > 0) & (x < 1)
                    safe = np.where(inside, x, 0.5)
                    out = (a - 1) * np.log(safe) + (b - 1) * np.log1p(-safe) - betaln(a, b)
                    return np.where(inside, out, -np.inf)
                case "Uniform":
                    lo, hi = p["lower"], p["upper"]
                    inside = (x >= lo) & (x <= hi)
                    return np.where(inside, -math.log(hi - lo), -np.inf)
        raise ValueError(f"no log density for {self.dist}")


def parse_distribution(text: str | float | int) -> Prior:
    """Parse ``Beta(2, 5)``, ``Normal(mu=1, sigma=0.5)`` or a number.

    Raises
    ------
    ValueError
        With a message saying what was expected.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a number or a distribution such as Beta(2, 5), got {text!r}")
    if isinstance(text, int | float):
        return _checked("Constant", (float(text),))
    text = str(text).strip()
    if len(text) > 200:
        raise ValueError(
            f"expected a short distribution such as Beta(2, 5), got {len(text)} characters"
        )
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        node = None
    if isinstance(node, ast.Constant) and isinstance(node.value, bool | str | type(None)):
        node = None
    if isinstance(node, ast.Constant | ast.UnaryOp):
        try:
            return _checked("Constant", (_number(ast.literal_eval(node)),))
        except (ValueError, TypeError, OverflowError, RecursionError):
            pass
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError(f"expected a number or a distribution such as Beta(2, 5), got {text!r}")
    name = node.func.id
    if name not in DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {name!r}{suggest(name, list(DISTRIBUTIONS))} "
            f"(known: {', '.join(DISTRIBUTIONS)})"
        )
    names = DISTRIBUTIONS[name][0]
    try:
        args = [_number(ast.literal_eval(a)) for a in node.args]
        kwargs = {k.arg: _number(ast.literal_eval(k.value)) for k in node.keywords}
    except (ValueError, TypeError, OverflowError, RecursionError, SyntaxError):
        raise ValueError(f"{name} takes numbers: {name}({', '.join(names)})") from None
    if len(args) > len(names) or set(kwargs) - set(names[len(args) :]):
        raise ValueError(f"{name} takes {name}({', '.join(names)}), got {text!r}")
    values = dict(zip(names, args, strict=False)) | kwargs
    if set(values) != set(names):
        raise ValueError(f"{name} takes {name}({', '.join(names)}), got {text!r}")
    return _checked(name, tuple(values[n] for n in names))


def _number(value) -> float:
    """A literal as a float; booleans and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


#: Numerical guard: every prior keeps all but about 1e-9 of its mass within +-1e6. Larger
#: draws overflow (exp, 10**x, a Uniform's width) or swamp every other term and come out
#: as NaN or a meaningless buffer. It is a guard against float extremes, not a range of
#: plausible values.
MAX_PRIOR_MAGNITUDE = 1e6
#: Shape parameters (Beta's alpha and beta, Gamma's alpha) below this draw NaN or only 0.
MIN_SHAPE = 1e-3
_TAIL_SD = 6.2  # a normal's mass beyond 6.2 sd is below 1e-9


def _extent(name: str, p: dict[str, float]) -> float:
    """A bound on |x| over all but about 1e-9 of the distribution's mass."""
    match name:
        case "Constant":
            return abs(p["value"])
        case "Normal":
            return abs(p["mu"]) + _TAIL_SD * p["sigma"]
        case "HalfNormal":
            return _TAIL_SD * p["sigma"]
        case "LogNormal":
            log_top = p["mu"] + _TAIL_SD * p["sigma"]
            return math.inf if log_top > 700 else math.exp(log_top)
        case "Gamma":  # mean + 7 sd + the exponential tail of small shapes, over the rate
            return (p["alpha"] + 7 * math.sqrt(p["alpha"]) + 25) / p["beta"]
        case "Exponential":
            return 21.0 / p["lam"]
        case "Uniform":
            return max(abs(p["lower"]), abs(p["upper"]))
    return 1.0  # Beta: within [0, 1]


def _checked(name: str, params: tuple[float, ...]) -> Prior:
    if not all(math.isfinite(p) for p in params):
        raise ValueError(f"{name} parameters must be finite numbers")
    p = dict(zip(DISTRIBUTIONS[name][0], params, strict=True))
    for key in ("sigma", "alpha", "beta", "lam"):
        if key in p and p[key] <= 0:
            raise ValueError(f"{name}: {key} must be above 0, got {p[key]:g}")
    if name == "Uniform" and p["lower"] >= p["upper"]:
        raise ValueError("Uniform: lower must be below upper")
    shapes = ("alpha", "beta") if name == "Beta" else ("alpha",) if name == "Gamma" else ()
    for key in shapes:
        if not MIN_SHAPE <= p[key] <= MAX_PRIOR_MAGNITUDE:
            raise ValueError(
                f"{name}: {key} must be from {MIN_SHAPE:g} to {MAX_PRIOR_MAGNITUDE:g}, "
                f"got {p[key]:g}"
            )
    extent = _extent(name, p)
    if extent > MAX_PRIOR_MAGNITUDE:
        shown = "values that overflow" if math.isinf(extent) else f"values up to {extent:.3g}"
        raise ValueError(
            f"{name}({', '.join(f'{x:g}' for x in params)}) draws {shown}; a prior must stay "
            f"within +-{MAX_PRIOR_MAGNITUDE:g}"
        )
    return Prior(name, params)
