"""The uplift model's log density and its gradient, written out in numba (stage 2).

The same density as :func:`forecast.fit.uplift_model.build_uplift_model` (its PyMC form,
which documents the model and serves the cross-checks), in the sampler's unconstrained
space: PyMC's transforms (log for positive priors, log-odds for Beta, a scaled log-odds for
Uniform) with their Jacobians, the priors' normalised densities, the standard normal
``z_suite`` and ``z_series``, the histories' interval likelihood (16 Gauss-Hermite nodes)
and the scaling groups. The gradient is the reverse-mode derivative written by hand (numpy's error
model: a division by zero gives inf or nan, which the callback reports as a rejected
point, instead of raising inside a C callback);
``tests/fit/test_uplift_density.py`` holds both to PyMC's at random points for every prior
family and to finite differences.

Why by hand: the PyMC graph costs about 30 s to compile in every new process (numba
compiles nutpie's callbacks, which are not cached), so a refit after a change of evidence
or of a prior that reweighting cannot serve took a minute or more. These kernels take
their data as arguments (one packed float64 buffer: no shapes, sizes or index arrays are
compiled in), so numba compiles them once per machine (``cache=True``: a few seconds) and
every later process, evidence, prior and cross-validation fold loads them from disk.

Buffer layout (float64): a header ``[length, n_inc, n_scale, n_suite, n_series, n_free]``,
then per prior of :data:`~forecast.fit.uplift_model.UPLIFT_PRIORS` ``[family, p0, p1,
slot]`` (``slot`` the position in the unconstrained vector, -1 for a fixed value ``p0``),
then the arrays of :data:`INC_ARRAYS` (``n_inc`` each) and :data:`SCALE_ARRAYS`
(``n_scale`` each). Parameter vector: the free priors in that order, then ``z_suite``, then
``z_series``.

Importing this module imports numba (a fit imports it; the warm path never does).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from forecast.fit.sampler import callback_signatures
from forecast.fit.uplift_model import ELICITED_CENTER, GH_LOG_W, GH_X, UPLIFT_PRIORS, YEAR_CENTER

#: Family codes of the packed buffer.
FAMILIES = ("Normal", "HalfNormal", "LogNormal", "Gamma", "Exponential", "Beta", "Uniform",
            "Constant")  # fmt: skip
HEADER = 6
N_PRIORS = len(UPLIFT_PRIORS)
PRIOR_FIELDS = 4
INC_ARRAYS = ("inc_y", "inc_v", "inc_record", "inc_months", "inc_age", "inc_year",
              "inc_elicited", "inc_access", "inc_weight", "inc_suite", "inc_series")  # fmt: skip
SCALE_ARRAYS = ("scale_y", "scale_v", "scale_oom", "scale_weight", "scale_suite")

_LOG_2PI = math.log(2.0 * math.pi)
_GH_X = np.ascontiguousarray(GH_X)
_GH_LOG_W = np.ascontiguousarray(GH_LOG_W)
_CONSTANT = FAMILIES.index("Constant")

# Prior positions (UPLIFT_PRIORS order) used by the kernel.
(_GAIN, _RATE, _DECAY, _TREND, _ELICIT, _ACCESS, _SHARE, _JUMP_SD, _ATTENTION_SD, _SLOPE,
 _SLOPE_SD, _HARNESS, _SCALING) = range(N_PRIORS)  # fmt: skip
assert UPLIFT_PRIORS[_SCALING] == "scaling_noise" and UPLIFT_PRIORS[_GAIN] == "catalogue_gain"


@numba.njit(cache=True, error_model="numpy")
def _log1pexp(u):
    """log(1 + e^u), stable both ways."""
    return u + math.log1p(math.exp(-u)) if u > 0 else math.log1p(math.exp(u))


@numba.njit(cache=True, error_model="numpy")
def _sigmoid(u):
    if u >= 0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


@numba.njit(cache=True, error_model="numpy")
def constrain(code, p0, p1, u):
    """``(theta, log_jacobian, dtheta_du, dlogjac_du)`` of PyMC's transform for the family."""
    if code == 0:  # Normal: identity
        return u, 0.0, 1.0, 0.0
    if code <= 4:  # positive: log
        theta = math.exp(u)
        return theta, u, theta, 1.0
    s = _sigmoid(u)
    log_jac = -_log1pexp(-u) - _log1pexp(u)  # log s + log(1 - s)
    if code == 5:  # Beta: log-odds
        return s, log_jac, s * (1.0 - s), 1.0 - 2.0 * s
    width = p1 - p0  # Uniform: interval
    return p0 + width * s, math.log(width) + log_jac, width * s * (1.0 - s), 1.0 - 2.0 * s


@numba.njit(cache=True, error_model="numpy")
def prior_logpdf(code, p0, p1, theta):
    """``(log p(theta), d log p / d theta)`` of the family, normalised as PyMC's."""
    if code == 0:
        z = (theta - p0) / p1
        return -0.5 * z * z - math.log(p1) - 0.5 * _LOG_2PI, -z / p1
    if code == 1:
        z = theta / p0
        return math.log(2.0) - 0.5 * _LOG_2PI - math.log(p0) - 0.5 * z * z, -z / p0
    if code == 2:
        lt = math.log(theta)
        z = (lt - p0) / p1
        value = -lt - math.log(p1) - 0.5 * _LOG_2PI - 0.5 * z * z
        return value, (-1.0 - z / p1) / theta
    if code == 3:
        value = p0 * math.log(p1) - math.lgamma(p0) + (p0 - 1.0) * math.log(theta) - p1 * theta
        return value, (p0 - 1.0) / theta - p1
    if code == 4:
        return math.log(p0) - p0 * theta, -p0
    if code == 5:
        betaln = math.lgamma(p0) + math.lgamma(p1) - math.lgamma(p0 + p1)
        value = (p0 - 1.0) * math.log(theta) + (p1 - 1.0) * math.log1p(-theta) - betaln
        return value, (p0 - 1.0) / theta - (p1 - 1.0) / (1.0 - theta)
    return -math.log(p1 - p0), 0.0  # Uniform


@numba.njit(cache=True, error_model="numpy")
def integrated_intensity(months, age, year, decay, trend):
    """``(I, dI/d decay, dI/d trend)`` of
    :func:`forecast.fit.uplift_model.integrated_intensity` (the same small-rate branch)."""
    c = trend / 12.0 - 1.0 / decay
    cd = c * months
    pre = math.exp(-age / decay + trend * (year - YEAR_CENTER))
    if abs(cd) < 1e-6:
        ratio = months * (1.0 + cd / 2.0)
        dratio = months * months / 2.0
    else:
        em1 = math.expm1(cd)
        ratio = em1 / c
        dratio = (months * (em1 + 1.0) * c - em1) / (c * c)
    value = pre * ratio
    d_decay = pre * (age / (decay * decay)) * ratio + pre * dratio / (decay * decay)
    d_trend = pre * (year - YEAR_CENTER) * ratio + pre * dratio / 12.0
    return value, d_decay, d_trend


@numba.njit(cache=True, error_model="numpy")
def interval_loglik(y, v, record, big_l, m, sig, b, h):
    """An interval's log-likelihood (:func:`forecast.fit.uplift_model.increment_log_likelihood`)
    and its derivatives in the integrated intensity ``big_l``, the jump mean ``m``, the
    jump log-sd ``sig``, the suite's slope ``b`` and the harness noise ``h``."""
    if not record:
        return -big_l, -1.0, 0.0, 0.0, 0.0, 0.0
    q1 = -math.expm1(-big_l)
    mu_u = big_l * m
    es2 = math.exp(sig * sig)
    second = big_l * m * m * es2 + mu_u * mu_u
    cm = mu_u / q1
    cs = second / q1
    raw = cs - cm * cm
    clamped = raw < 1e-12
    vr = 1e-12 if clamped else raw
    r = vr / (cm * cm)
    s2 = math.log1p(r)
    mu = math.log(cm) - s2 / 2.0
    sd = math.sqrt(s2)
    var = v + h * h
    n = _GH_X.shape[0]
    per = np.empty(n)
    expo = np.empty(n)
    means = np.empty(n)
    top = -np.inf
    for k in range(n):
        expo[k] = math.exp(mu + sd * _GH_X[k])
        means[k] = b * expo[k]
        d = y - means[k]
        per[k] = -0.5 * d * d / var - 0.5 * math.log(2.0 * math.pi * var) + _GH_LOG_W[k]
        top = max(top, per[k])
    total = 0.0
    for k in range(n):
        per[k] = math.exp(per[k] - top)
        total += per[k]
    value = math.log(q1) + math.log(total) + top
    # reverse pass
    g_b = g_mu = g_sd = g_var = 0.0
    for k in range(n):
        pi = per[k] / total
        d = y - means[k]
        g_mean = pi * d / var
        g_b += g_mean * expo[k]
        g_mu += g_mean * means[k]
        g_sd += g_mean * means[k] * _GH_X[k]
        g_var += pi * (0.5 * d * d / (var * var) - 0.5 / var)
    g_h = g_var * 2.0 * h
    g_s2 = g_sd / (2.0 * sd) - g_mu / 2.0
    g_cm = g_mu / cm
    g_r = g_s2 / (1.0 + r)
    g_vr = g_r / (cm * cm)
    g_cm += -2.0 * g_r * vr / (cm * cm * cm)
    g_cs = 0.0
    if not clamped:
        g_cs = g_vr
        g_cm += -2.0 * cm * g_vr
    g_mu_u = g_cm / q1
    g_q1 = -g_cm * mu_u / (q1 * q1) - g_cs * second / (q1 * q1) + 1.0 / q1
    g_second = g_cs / q1
    g_l = g_second * m * m * es2
    g_m = g_second * 2.0 * big_l * m * es2
    g_sig = g_second * big_l * m * m * es2 * 2.0 * sig
    g_mu_u += g_second * 2.0 * mu_u
    g_l += g_mu_u * m
    g_m += g_mu_u * big_l
    g_l += g_q1 * math.exp(-big_l)
    return value, g_l, g_m, g_sig, g_b, g_h


@numba.njit(cache=True, error_model="numpy")
def logp_grad(x, buf, grad):
    """The log density at the unconstrained point ``x``; its gradient is written to ``grad``."""
    n_inc = int(buf[1])
    n_scale = int(buf[2])
    n_suite = int(buf[3])
    n_series = int(buf[4])
    n_free = int(buf[5])
    theta = np.empty(N_PRIORS)
    dtheta = np.zeros(N_PRIORS)
    slots = np.empty(N_PRIORS, dtype=np.int64)
    g_theta = np.zeros(N_PRIORS)
    for i in range(x.shape[0]):
        grad[i] = 0.0
    lp = 0.0
    for i in range(N_PRIORS):
        base = HEADER + PRIOR_FIELDS * i
        code = int(buf[base])
        p0 = buf[base + 1]
        p1 = buf[base + 2]
        slot = int(buf[base + 3])
        slots[i] = slot
        if slot < 0:
            theta[i] = p0
            continue
        value, log_jac, dth, dlj = constrain(code, p0, p1, x[slot])
        prior, dprior = prior_logpdf(code, p0, p1, value)
        theta[i] = value
        dtheta[i] = dth
        lp += prior + log_jac
        grad[slot] += dlj
        g_theta[i] += dprior
    # standard normal z_suite and z_series
    for j in range(n_suite + n_series):
        z = x[n_free + j]
        lp += -0.5 * z * z - 0.5 * _LOG_2PI
        grad[n_free + j] = -z
    slope = np.empty(n_suite)
    g_slope = np.zeros(n_suite)
    for s in range(n_suite):
        slope[s] = theta[_SLOPE] * math.exp(theta[_SLOPE_SD] * x[n_free + s])
    attention = np.empty(n_series)
    g_log_att = np.zeros(n_series)
    for g in range(n_series):
        attention[g] = math.exp(theta[_ATTENTION_SD] * x[n_free + n_suite + g])
    m = theta[_SHARE] * theta[_GAIN]
    g_m = 0.0
    off = HEADER + PRIOR_FIELDS * N_PRIORS
    for k in range(n_inc):
        w = buf[off + 8 * n_inc + k]
        if w == 0.0:
            continue
        e = buf[off + 6 * n_inc + k] - ELICITED_CENTER
        q = buf[off + 7 * n_inc + k]
        s = int(buf[off + 9 * n_inc + k])
        g = int(buf[off + 10 * n_inc + k])
        intensity, di_decay, di_trend = integrated_intensity(
            buf[off + 3 * n_inc + k], buf[off + 4 * n_inc + k], buf[off + 5 * n_inc + k],
            theta[_DECAY], theta[_TREND],
        )  # fmt: skip
        shift = math.exp(-theta[_ELICIT] * e + theta[_ACCESS] * q)
        rate = theta[_RATE] * shift
        big_l = attention[g] * rate * intensity
        value, g_l, gm, gsig, gb, gh = interval_loglik(
            buf[off + k], buf[off + n_inc + k], buf[off + 2 * n_inc + k] > 0.0,
            big_l, m, theta[_JUMP_SD], slope[s], theta[_HARNESS],
        )  # fmt: skip
        lp += w * value
        g_big_l = w * g_l  # derivative in L = attention * rate * intensity
        g_log_l = g_big_l * big_l  # ... and in log L
        g_theta[_RATE] += g_big_l * attention[g] * shift * intensity
        g_theta[_ELICIT] += -g_log_l * e
        g_theta[_ACCESS] += g_log_l * q
        g_theta[_DECAY] += g_big_l * attention[g] * rate * di_decay
        g_theta[_TREND] += g_big_l * attention[g] * rate * di_trend
        g_log_att[g] += g_log_l
        g_m += w * gm
        g_theta[_JUMP_SD] += w * gsig
        g_slope[s] += w * gb
        g_theta[_HARNESS] += w * gh
    off2 = off + len(INC_ARRAYS) * n_inc
    noise = theta[_SCALING]
    for k in range(n_scale):
        w = buf[off2 + 3 * n_scale + k]
        if w == 0.0:
            continue
        s = int(buf[off2 + 4 * n_scale + k])
        oom = buf[off2 + 2 * n_scale + k]
        sd = math.sqrt(buf[off2 + n_scale + k] + noise * noise)
        r = (buf[off2 + k] - slope[s] * oom) / sd
        lp += w * (-0.5 * r * r - math.log(sd) - 0.5 * _LOG_2PI)
        g_slope[s] += w * r * oom / sd
        g_theta[_SCALING] += w * (r * r / sd - 1.0 / sd) * noise / sd
    g_theta[_GAIN] += g_m * theta[_SHARE]
    g_theta[_SHARE] += g_m * theta[_GAIN]
    for s in range(n_suite):
        gs = g_slope[s] * slope[s]  # derivative in log slope
        g_theta[_SLOPE] += g_slope[s] * math.exp(theta[_SLOPE_SD] * x[n_free + s])
        g_theta[_SLOPE_SD] += gs * x[n_free + s]
        grad[n_free + s] += gs * theta[_SLOPE_SD]
    for g in range(n_series):
        z = x[n_free + n_suite + g]
        g_theta[_ATTENTION_SD] += g_log_att[g] * z
        grad[n_free + n_suite + g] += g_log_att[g] * theta[_ATTENTION_SD]
    for i in range(N_PRIORS):
        if slots[i] >= 0:
            grad[slots[i]] += g_theta[i] * dtheta[i]
    return lp


@numba.njit(cache=True, error_model="numpy")
def expand(x, buf, out):
    """The stored variables at ``x``: every prior's value (a fixed one too), ``increment_mean``,
    ``z_suite``, ``z_series`` (:data:`EXPANDED`' order)."""
    n_suite = int(buf[3])
    n_series = int(buf[4])
    n_free = int(buf[5])
    for i in range(N_PRIORS):
        base = HEADER + PRIOR_FIELDS * i
        slot = int(buf[base + 3])
        if slot < 0:
            out[i] = buf[base + 1]
        else:
            out[i] = constrain(int(buf[base]), buf[base + 1], buf[base + 2], x[slot])[0]
    out[N_PRIORS] = out[_SHARE] * out[_GAIN]
    for j in range(n_suite + n_series):
        out[N_PRIORS + 1 + j] = x[n_free + j]


LOGP_SIGNATURE, EXPAND_SIGNATURE = callback_signatures()


@numba.cfunc(LOGP_SIGNATURE, cache=True)
def logp_callback(dim, x_, out_, logp_, user_data_):
    """nutpie's C callback (the same return codes as its PyMC callbacks)."""
    head = numba.carray(user_data_, (HEADER,), np.float64)
    buf = numba.carray(user_data_, (int(head[0]),), np.float64)
    x = numba.carray(x_, (dim,))
    grad = numba.carray(out_, (dim,))
    logp = numba.carray(logp_, (1,))
    value = logp_grad(x, buf, grad)
    logp[0] = value
    for i in range(dim):
        if not math.isfinite(grad[i]):
            return 3
    if not math.isfinite(value):
        return 4
    return 0


@numba.cfunc(EXPAND_SIGNATURE, cache=True)
def expand_callback(dim, expanded, x_, out_, user_data_):
    head = numba.carray(user_data_, (HEADER,), np.float64)
    buf = numba.carray(user_data_, (int(head[0]),), np.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    expand(x, buf, out)
    return 0
