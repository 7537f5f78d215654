"""Figures of point-process models, each saved as PNG and PDF (matplotlib, Agg backend).

* :func:`plot_intensities`: each region's per-neuron intensity curves per condition, per model,
  beside the PSTH;
* :func:`plot_rt_distributions`: observed reaction times against each model's RT law given a response;
* :func:`plot_ks`: the time-rescaling KS plot of each region, with its 95 % band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...plots import pyplot, save_figure
from .metrics import KS_95, RescalingKS

#: Line styles of successive models (the PSTH is always dashed).
_STYLES = ("-", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))

#: Points drawn per KS curve at most: quantiles in between add nothing visible, only file size.
_KS_POINTS = 2000


def _figure_folder(folder: str | Path) -> Path:
    """Where a figure's files go, created (with its parents) if needed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _condition_colours(n: int) -> list:
    plt = pyplot()
    cmap = plt.get_cmap("coolwarm")  # diverging: signed stimuli from one side to the other, in order
    return [cmap(0.5)] if n == 1 else [cmap(i / (n - 1)) for i in range(n)]


def plot_intensities(curves_by_model: Mapping[str, np.ndarray], grid: np.ndarray, regions: Sequence[str],
                     conditions: Sequence[str], folder: str | Path, *, psth: np.ndarray | None = None,
                     stem: str = "intensities") -> list[Path]:
    """One panel per region: each model's per-neuron intensity of every condition, the PSTH dashed.

    Parameters
    ----------
    curves_by_model
        Model name → :meth:`IntensityModel.intensity_curves` on ``grid`` for the conditions (one
        line style per model, in order; one colour per condition).
    grid
        Times after onset (s).
    regions, conditions
        Names of the regions and labels of the conditions (e.g. ``TrialSpikes.condition_labels()``).
    folder
        Where the files go (created if needed).
    psth
        The PSTH baseline's curves on ``grid``, drawn dashed; optional.
    stem
        File name without extension.

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Shapes
    ------
    curves_by_model[name], psth : (C, regions, m)
    grid : (m,)
    """
    plt = pyplot()
    folder = _figure_folder(folder)
    grid = np.asarray(grid, dtype=np.float64)
    colours = _condition_colours(len(conditions))
    fig, axes = plt.subplots(1, len(regions), figsize=(3.6 * len(regions) + 1.8, 3.2), squeeze=False, sharex=True)
    for k, (ax, region) in enumerate(zip(axes[0], regions)):
        for style, (name, curves) in zip(_STYLES * 4, curves_by_model.items()):
            curves = np.asarray(curves)
            for c in range(len(conditions)):
                ax.plot(grid, curves[c, k], ls=style, color=colours[c], lw=1.4)
        if psth is not None:
            for c in range(len(conditions)):
                ax.plot(grid, np.asarray(psth)[c, k], ls="--", color=colours[c], lw=0.9, alpha=0.8)
        ax.set_title(str(region), fontsize=9)
        ax.set_xlabel("time after onset (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
    axes[0][0].set_ylabel("rate per neuron (Hz)", fontsize=8)
    # two legends' worth in one: models by line style (in black), conditions by colour
    handles = [plt.Line2D([], [], color="k", ls=style, label=name)
               for style, name in zip(_STYLES * 4, curves_by_model)]
    if psth is not None:
        handles.append(plt.Line2D([], [], color="k", ls="--", lw=0.9, label="PSTH"))
    handles += [plt.Line2D([], [], color=colours[c], lw=3, label=str(label)) for c, label in enumerate(conditions)]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.suptitle("Per-neuron intensity λ(t | stimulus) of each region", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.7 / fig.get_figwidth(), 0.94))
    return save_figure(fig, folder, stem)


def plot_rt_distributions(observed_rts: np.ndarray, model_cdfs: Mapping[str, np.ndarray], grid: np.ndarray,
                          folder: str | Path, *, stem: str = "rt_distributions") -> list[Path]:
    """Observed reaction times against each model's RT distribution given a response within W.

    Left: the empirical CDF of the observed RTs and each model's CDF; right: their histogram and
    each model's density (the CDF's derivative on the grid).

    Parameters
    ----------
    observed_rts
        RTs of the responded trials (s); NaN (no response) are left out.
    model_cdfs
        Model name → CDF on ``grid``, e.g. :func:`~.metrics.rt_mixture_cdf`. Each is divided by its
        last value, so an unconditional P(respond by t) on a grid ending at W is shown given a response.
    grid
        Times after onset (s), increasing.
    folder, stem
        Where the files go (created if needed), and their name without extension.

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Shapes
    ------
    observed_rts : (n,)
    model_cdfs[name], grid : (m,)
    """
    plt = pyplot()
    folder = _figure_folder(folder)
    grid = np.asarray(grid, dtype=np.float64)
    rts = np.sort(np.asarray(observed_rts, dtype=np.float64))
    rts = rts[np.isfinite(rts)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    if len(rts):
        left.step(np.r_[grid[0], rts], np.r_[0.0, np.arange(1, len(rts) + 1) / len(rts)], where="post", color="k",
                  lw=1.4, label=f"observed ({len(rts)})")
        right.hist(rts, bins=min(40, max(5, len(rts) // 10)), range=(grid[0], grid[-1]), density=True,
                   color="0.8", label="observed")
    for colour, (name, cdf) in zip(plt.get_cmap("tab10").colors, model_cdfs.items()):
        cdf = np.asarray(cdf, dtype=np.float64)
        cdf = cdf / cdf[-1] if cdf[-1] > 0 else cdf
        left.plot(grid, cdf, color=colour, lw=1.2, label=name)
        right.plot(grid, np.gradient(cdf, grid), color=colour, lw=1.2, label=name)
    left.set_ylabel("P(RT ≤ t | response)", fontsize=8)
    right.set_ylabel("density (1/s)", fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("time after onset (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle("Reaction times given a response within the window", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, folder, stem)


def plot_ks(ks_results: Mapping[str, Sequence[RescalingKS]], regions: Sequence[str], folder: str | Path, *,
            stem: str = "time_rescaling_ks") -> list[Path]:
    """The time-rescaling KS plot of each region: empirical quantiles of the rescaled values u
    against the uniform's, one line per model, with the 95 % band ±1.36/√n around the diagonal.

    With tens of thousands of intervals the band is too narrow to see on the unit square, so a
    second row shows the same curves as their difference from the diagonal, band included.

    Parameters
    ----------
    ks_results
        Model name → :func:`~.metrics.time_rescaling_ks` result (one per region, in ``regions``' order).
    regions
        Region names (panel titles).
    folder, stem
        Where the files go (created if needed), and their name without extension.

    Returns
    -------
    list of Path
        The PNG and PDF written.
    """
    plt = pyplot()
    folder = _figure_folder(folder)
    fig, axes = plt.subplots(2, len(regions), figsize=(3.0 * len(regions) + 0.4, 5.6), squeeze=False,
                             gridspec_kw={"height_ratios": (3, 2)})
    for k, region in enumerate(regions):
        square, diff = axes[0][k], axes[1][k]
        ns = [res[k].n for res in ks_results.values() if res[k].n > 0]
        square.plot([0, 1], [0, 1], color="k", lw=0.8)
        diff.axhline(0.0, color="k", lw=0.8)
        if ns:  # the band of the smallest sample: the widest, so no model is shown inside it unfairly
            band = KS_95 / np.sqrt(min(ns))
            square.fill_between([0, 1], [-band, 1 - band], [band, 1 + band], color="0.85", lw=0, label="95 % band")
            diff.axhspan(-band, band, color="0.85", lw=0)
        for colour, (name, res) in zip(plt.get_cmap("tab10").colors, ks_results.items()):
            r = res[k]
            if r.n == 0:
                continue
            pick = np.unique(np.linspace(0, r.n - 1, min(r.n, _KS_POINTS)).astype(np.int64))
            uniform = (pick + 0.5) / r.n
            square.plot(uniform, r.u[pick], color=colour, lw=1.2,
                        label=f"{name} (KS {r.statistic:.3f}, p {r.p_value:.2g})")
            diff.plot(uniform, r.u[pick] - uniform, color=colour, lw=1.0)
        square.set_xlim(0, 1)
        square.set_ylim(0, 1)
        square.set_aspect("equal")
        square.set_title(str(region), fontsize=9)
        square.legend(fontsize=6, loc="upper left", frameon=False)
        diff.set_xlim(0, 1)
        diff.set_xlabel("uniform quantile", fontsize=8)
        for ax in (square, diff):
            ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("empirical quantile of u", fontsize=8)
    axes[1][0].set_ylabel("empirical − uniform", fontsize=8)
    fig.suptitle("Time-rescaling KS plot", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, folder, stem)


__all__ = ["plot_intensities", "plot_ks", "plot_rt_distributions"]
