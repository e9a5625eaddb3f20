"""Figures of the calibration checks (matplotlib, Agg; imported only to draw).

- :func:`ecdf_difference`: SBC rank ECDF minus the uniform CDF, one panel per quantity,
  with the simultaneous band (Säilynoja et al. 2022);
- :func:`rank_histograms`: SBC rank histograms with a pointwise 99% binomial band per bin;
- :func:`pit_ecdf`: the leave-one-out PIT values of the catalogue's figures, as an ECDF
  difference with its simultaneous band (:func:`pit_plot` draws it from the document of
  ``forecast check figures``).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from forecast.checks.uniformity import BAND_PROB, ecdf_band  # noqa: E402
from forecast.report.plots import literal_text  # noqa: E402

BINS = 20


def _grid(n: int, width: float = 3.0, height: float = 2.2):
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), dpi=100, squeeze=False
    )
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


@literal_text
def ecdf_difference(ranks: np.ndarray, names, n_ranks: int, seed: int, verdicts, out) -> None:
    """ECDF of rank / (L + 1) minus the uniform CDF, per quantity, with its simultaneous
    band (:func:`forecast.checks.uniformity.ecdf_band`; missing ranks, -1, are left out); panels
    outside the band are drawn red."""
    bands = {}
    fig, axes = _grid(len(names))
    for j, (ax, name) in enumerate(zip(axes, names, strict=False)):
        col = ranks[ranks[:, j] >= 0, j]
        n = col.size
        if n == 0:
            ax.set_title(f"{name}: no ranks", fontsize=8)
            continue
        if n not in bands:
            bands[n] = ecdf_band(n, n_ranks, seed=seed)
        band = bands[n]
        z = band.z
        counts = np.array([(col < k).sum() for k in range(1, n_ranks + 1)])
        ax.fill_between(z, band.lower / n - z, band.upper / n - z, color="0.85", step="mid")
        bad = not verdicts[j]["inside_band"]
        ax.step(z, counts / n - z, where="mid", color="tab:red" if bad else "tab:blue", lw=1.2)
        ax.axhline(0, color="0.5", lw=0.6)
        title = name if n == ranks.shape[0] else f"{name} (n = {n})"
        ax.set_title(title, fontsize=8, color="tab:red" if bad else "black")
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"SBC: rank ECDF minus uniform, {ranks.shape[0]} fits, L = {n_ranks}; grey: "
        f"simultaneous {BAND_PROB:.0%} band",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


@literal_text
def rank_histograms(ranks: np.ndarray, names, n_ranks: int, out) -> None:
    """Histograms of the ranks in :data:`BINS` bins with a pointwise 99% binomial band."""
    from scipy.stats import binom

    n = ranks.shape[0]
    bins = min(BINS, n_ranks + 1)
    edges = np.linspace(-0.5, n_ranks + 0.5, bins + 1)
    # the share of the L + 1 rank values in each bin (bins may hold unequal numbers of them)
    p = np.histogram(np.arange(n_ranks + 1), bins=edges)[0] / (n_ranks + 1)
    lo, hi = binom.ppf(0.005, n, p), binom.ppf(0.995, n, p)
    fig, axes = _grid(len(names))
    for j, (ax, name) in enumerate(zip(axes, names, strict=False)):
        counts, _ = np.histogram(ranks[ranks[:, j] >= 0, j], bins=edges)
        centres = 0.5 * (edges[:-1] + edges[1:])
        ax.fill_between(centres, lo, hi, color="0.85", step="mid")
        ax.bar(centres, counts, width=np.diff(edges), color="tab:blue", alpha=0.7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"SBC rank histograms, {n} fits, {bins} bins; grey: pointwise 99% band", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


@literal_text
def pit_ecdf(pit: np.ndarray, band, out, title: str) -> None:
    """ECDF of PIT values minus the uniform CDF, with ``band`` (counts on the grid z)."""
    n = len(pit)
    z = band.z
    counts = np.array([(pit < zk).sum() for zk in z])
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    ax.fill_between(z, band.lower / n - z, band.upper / n - z, color="0.85", step="mid")
    ax.step(z, counts / n - z, where="mid", color="tab:blue")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel("PIT")
    ax.set_ylabel("ECDF - uniform")
    ax.set_title("ECDF difference (grey: simultaneous 95% band)", fontsize=9)
    hx.hist(pit, bins=10, range=(0, 1), color="tab:blue", alpha=0.7)
    hx.axhline(n / 10, color="0.4", lw=0.8, ls="--")
    hx.set_xlabel("PIT")
    hx.set_title("histogram (dashed: uniform)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


@literal_text
def pit_plot(doc: dict, out, title: str) -> None:
    """The PIT ECDF-difference plot and histogram of ``doc`` (from
    :func:`forecast.checks.ppc.loo_pit`) as PNG."""
    pit = np.array([f["pit"] for f in doc["figures"]])
    band = ecdf_band(len(pit), 99, seed=doc["seed"])
    pit_ecdf(pit, band, out, title)
