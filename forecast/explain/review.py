"""Everything the explain stage says about a forecast, computed once, for a reviewer.

:func:`review_documents` takes a :class:`~forecast.buffer.forecasting.ForecastResult` and
returns plain documents (dicts and lists): the explanation, the full sensitivity ranking,
the buffer under each assumption profile and the prior predictive check. The report stage
adds the run document and the calibration summaries and renders them
(:func:`forecast.report.document.bundle_documents`; :func:`forecast.api.review` does both).
Nothing prints or touches files.
"""

from __future__ import annotations

from collections.abc import Callable

from forecast.core.errors import InputError
from forecast.explain.explanation import explain
from forecast.explain.prior_check import prior_check
from forecast.explain.profiles import profile_table
from forecast.explain.sensitivity import prior_sensitivity
from forecast.inputs.profiles import load_profile, shipped_profiles


def review_documents(
    result,
    *,
    quick_sensitivity: bool = False,
    profiles: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """The explain stage's documents of a review bundle for ``result``.

    Parameters
    ----------
    quick_sensitivity
        Rank the priors by their shifts only (reweighting, seconds) instead of the full
        ranking (tighten, widen and shifts; the uplift model refitted where reweighting
        cannot serve a variation: minutes).
    profiles
        Compute the buffer under each shipped profile (a simulation each, and a refit
        where reweighting the fit is unreliable); False leaves ``profiles`` empty.

    Returns
    -------
    dict
        ``explanation`` (:func:`forecast.explain.explanation.explain`), ``sensitivity``,
        ``profiles`` (:func:`profile_rows`) and ``prior_check``.
    """
    sensitivity = prior_sensitivity(
        result, quick=quick_sensitivity, refit=not quick_sensitivity, log=log
    )
    # explain() words the quick ranking itself ("shifting it by one standard deviation").
    explanation = explain(result) if quick_sensitivity else explain(result, sensitivity)
    return {
        "explanation": explanation,
        "sensitivity": sensitivity,
        "profiles": profile_rows(result, log) if profiles else [],
        "prior_check": prior_check(result),
    }


def profile_rows(result, log=lambda message: None) -> list[dict]:
    """The buffer under each shipped profile (:func:`forecast.explain.profiles.profile_table`),
    one profile at a time: a profile whose simulation cannot run (past the arrival limit,
    say) gets a row with ``error`` (the reason) instead of stopping the whole review."""
    rows = []
    for name in shipped_profiles():
        try:
            rows += profile_table(result, names=[name], log=log)
        except InputError as exc:
            rows.append(
                {"profile": name, "title": load_profile(name).spec.title, "error": str(exc)}
            )
    return rows
