"""Figures of an evaluation report, each saved as PNG and PDF.

- ``scores``: classification accuracy per method with confidence intervals, and the null controls;
- ``embeddings``: node embeddings of example windows (first two principal components), coloured
  by node group;
- ``connectivity``: edge density over windows, with the window labels;
- ``attention``: the temporal attention matrix;
- ``alignment``: subregion alignment per window, with the window labels (and the behavioural
  values the labels came from, when numeric).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (imported when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, works headless and in CI
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, folder: Path, stem: str) -> list[Path]:
    """Save ``fig`` as ``folder/stem.png`` and ``.pdf``, close it, and return the two paths."""
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def _label_colours(classes) -> dict:
    """A distinct colour per class: tab10 up to 10 classes, tab20 up to 20, then a continuous map."""
    plt = pyplot()
    names = sorted(set(classes))
    if len(names) <= 10:
        cmap = plt.get_cmap("tab10")
        return {c: cmap(i) for i, c in enumerate(names)}
    if len(names) <= 20:
        cmap = plt.get_cmap("tab20")
        return {c: cmap(i) for i, c in enumerate(names)}
    cmap = plt.get_cmap("turbo")
    return {c: cmap(i / (len(names) - 1)) for i, c in enumerate(names)}


#: Most node groups a figure tells apart by colour; the smaller groups beyond them share one.
MAX_GROUPS_SHOWN = 10


def legible_groups(groups: np.ndarray | None, limit: int = MAX_GROUPS_SHOWN) -> np.ndarray | None:
    """Node groups as a figure shows them: the ``limit - 1`` largest as they are, the rest merged
    into one ``"other (k groups)"``, so colours stay distinct and the legend short (a probe
    recording grouped by wire has dozens of groups of a few units).

    Shapes
    ------
    groups, return : (nodes,)
    """
    if groups is None:
        return None
    groups = np.asarray(groups).astype(str)
    names, counts = np.unique(groups, return_counts=True)
    if len(names) <= limit:
        return groups
    keep = set(names[np.lexsort((names, -counts))][: limit - 1])  # largest first, ties by name
    other = f"other ({len(names) - len(keep)} groups)"
    return np.array([g if g in keep else other for g in groups])


def scores_figure(report, folder: Path) -> list[Path]:
    """Accuracy per method with its block-bootstrap interval, each method's label-null 95th
    percentile (a tick) and p-value, and every time-shuffle refit as a dot."""
    plt = pyplot()
    head = report.headline()
    acc = head[head.analysis == "classification"].reset_index(drop=True)
    shuffle = head[head.analysis == "time_shuffle"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * (len(acc) + len(shuffle)), 3.8))
    names = list(acc.method) + [f"{m}\n(time-shuffled)" for m in shuffle.method]
    means = np.r_[acc["mean"].to_numpy(float), shuffle["mean"].to_numpy(float)]
    err = np.zeros((2, len(names)))
    err[0, :len(acc)] = acc["mean"] - acc["ci_low"]
    err[1, :len(acc)] = acc["ci_high"] - acc["mean"]
    colours = ["tab:blue"] + ["tab:gray"] * (len(acc) - 1) + ["tab:red"] * len(shuffle)
    # a percentile interval need not contain its point estimate: never draw a negative error bar
    ax.bar(range(len(names)), means, yerr=np.clip(np.nan_to_num(err), 0.0, None), color=colours, capsize=3)
    sc = report.scores
    for k, method in enumerate(shuffle.method):
        values = sc[(sc.analysis == "time_shuffle") & (sc.metric == "accuracy") & (sc.method == method)]["value"]
        ax.plot(np.full(len(values), len(acc) + k), values.to_numpy(float), "o", color="k", ms=3,
                label="time-shuffle refits" if k == 0 else None)
    for k, row in acc.iterrows():
        null95 = sc[(sc.method == row.method) & (sc.analysis == "label_permutation") & (sc.metric == "null_accuracy_95")]
        if len(null95):
            ax.plot([k - 0.4, k + 0.4], [float(null95["value"].iloc[0])] * 2, "k--", lw=1,
                    label="label null, 95th pct" if k == 0 else None)
            text = "n.t." if not np.isfinite(row.p_value) else f"p={row.p_value:.3g}"
            ax.text(k, 1.07, text, ha="center", fontsize=7)
    # with blocked folds, chance is not 1 / classes (0.33-0.58 measured): the null's mean is the chance level
    null_mean = sc[(sc.method == acc.method.iloc[0]) & (sc.analysis == "label_permutation")
                   & (sc.metric == "null_accuracy_mean")]["value"] if len(acc) else []
    if len(null_mean):
        ax.axhline(float(null_mean.iloc[0]), ls=":", color="gray", lw=1, label="chance (label null mean)")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("cross-validated accuracy")
    test = report.protocol.get("label_test", "")
    note = "" if test in ("valid", "") else "\nlabel test not possible (n.t.): too few label blocks"
    ax.set_title(f"Window classification ({report.labels.spec}); bars: 95 % block bootstrap{note}", fontsize=8)
    return save_figure(fig, folder, "scores")


def embeddings_figure(report, folder: Path) -> list[Path]:
    """One window per class (the first of each, panels in time order): every node's embedding on
    that window's first two principal components, coloured by node group."""
    plt = pyplot()
    mean, groups = report.extras["mean"], legible_groups(report.extras["groups"])
    idx, y = report.extras["window_index"], report.extras["window_classes"]
    if len(y):
        picks = sorted((int(idx[np.flatnonzero(y == c)[0]]), c) for c in sorted(set(y)))[:4]
    else:  # no labels: four windows spread over the session, named by their start
        starts = report.extras["starts"]
        picks = [(int(w), f"{starts[w]:.0f} s") for w in np.unique(np.linspace(0, len(mean) - 1, 4).round().astype(int))]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.0 * len(picks) + 1.6, 3.3), squeeze=False)
    group_names = sorted(set(groups)) if groups is not None else ["nodes"]
    colours = _label_colours(group_names)
    colours.update({g: (0.6, 0.6, 0.6, 1.0) for g in group_names if g.startswith("other (")})
    sizes = {g: int(np.sum(groups == g)) if groups is not None else len(mean[0]) for g in group_names}
    for ax, (w, c) in zip(axes[0], picks):
        z = mean[w] - mean[w].mean(axis=0)
        _, sv, vt = np.linalg.svd(z, full_matrices=False)
        xy = z @ vt[:2].T
        share = sv[:2] ** 2 / max(float((sv ** 2).sum()), 1e-12)
        for g in sorted(group_names, key=lambda g: -sizes[g]):  # large groups first: small ones stay visible
            m = (groups == g) if groups is not None else slice(None)
            ax.scatter(xy[m, 0], xy[m, 1], s=7, color=colours[g], label=f"{g} ({sizes[g]})", alpha=0.75, lw=0)
        ax.set_title(f"window {w}: {c}", fontsize=9)
        ax.set_xlabel(f"PC1 ({100 * share[0]:.0f} %)", fontsize=8)
        ax.set_ylabel(f"PC2 ({100 * share[1]:.0f} %)", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    order = np.argsort(labels)
    fig.legend([handles[k] for k in order], [labels[k] for k in order], loc="center right", fontsize=6,
               markerscale=2, ncol=1 if len(labels) <= 12 else 2, title="node group (nodes)", title_fontsize=7,
               frameon=False)
    fig.suptitle("Node embeddings on each window's first two principal components", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / fig.get_figwidth() * (1 if len(labels) <= 12 else 1.8), 0.95))
    return save_figure(fig, folder, "embeddings")


def _shade_labels(ax, report) -> None:
    starts, stops = report.extras["starts"], report.extras["stops"]
    colours = _label_colours([c for c in report.labels.labels if c is not None])
    centre = (starts + stops) / 2
    for w, c in enumerate(report.labels.labels):
        if c is not None:
            ax.axvspan(centre[w] - 0.5 * (stops[w] - starts[w]) / 2, centre[w] + 0.5 * (stops[w] - starts[w]) / 2,
                       color=colours[c], alpha=0.15, lw=0)
    for c, col in colours.items():
        ax.plot([], [], color=col, alpha=0.4, lw=6, label=str(c))


def connectivity_figure(report, folder: Path) -> list[Path]:
    """How the graphs change: the mean |r| of the kept edges (and the density, which a density
    threshold holds constant), and how many edges each window shares with the previous one."""
    plt = pyplot()
    starts, stops = report.extras["starts"], report.extras["stops"]
    centre = (starts + stops) / 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.4), sharex=True)
    _shade_labels(top, report)
    top.plot(centre, report.extras["edge_strength"], "o-", color="k", ms=3, label="mean |r| of kept edges")
    top.set_ylabel("mean |r|\nof kept edges")
    density = np.asarray(report.extras["adjacency_density"], dtype=float)
    twin = top.twinx()
    twin.plot(centre, density, "--", color="tab:grey", lw=1)
    twin.set_ylabel("edge density", color="tab:grey", fontsize=8)
    if np.ptp(density) == 0:
        twin.set_ylim(0, max(2 * float(density[0]), 1e-3))  # constant by construction: say so, no noise
    top.plot([], [], "--", color="tab:grey", lw=1, label="edge density (right axis)")
    top.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=3, frameon=False)
    fig.suptitle("Dynamic connectivity over time", fontsize=10)
    bottom.plot(centre, report.extras["edge_similarity"], "o-", color="tab:blue", ms=3)
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("edges shared with\nprevious window\n(Jaccard)")
    bottom.set_xlabel("window centre (s)")
    fig.tight_layout()
    return save_figure(fig, folder, "connectivity")


def attention_figure(report, folder: Path) -> list[Path]:
    att = report.extras.get("attention")
    if att is None:
        return []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    im = ax.imshow(att, cmap="viridis", vmin=0, origin="upper")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xlabel("key window")
    ax.set_ylabel("query window")
    ax.set_title("Temporal attention", fontsize=10)
    return save_figure(fig, folder, "attention")


def alignment_figure(report, folder: Path) -> list[Path]:
    if not np.isfinite(report.alignment).any():
        return []
    plt = pyplot()
    starts, stops = report.extras["starts"], report.extras["stops"]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    _shade_labels(ax, report)
    ax.axhline(0, color="k", lw=0.8, ls=":")  # silhouette 0: groups no more separated than by chance
    ax.plot((starts + stops) / 2, report.alignment, "o-", color="tab:purple", ms=3, label="alignment")
    ax.set_xlabel("window centre (s)")
    ax.set_ylabel("subregion alignment\n(silhouette by group)")
    if report.labels.values is not None:
        twin = ax.twinx()
        twin.plot((starts + stops) / 2, report.labels.values, "s--", color="tab:orange", ms=3)
        twin.set_ylabel("behaviour", color="tab:orange")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Do nodes cluster by group as behaviour changes?", fontsize=10)
    return save_figure(fig, folder, "alignment")


def report_figures(report, folder: Path) -> list[Path]:
    """Write every figure of ``report`` into ``folder``; return the paths."""
    folder = Path(folder)
    paths: list[Path] = []
    makers = (scores_figure, embeddings_figure, connectivity_figure, attention_figure, alignment_figure)
    for make in makers[0 if len(report.scores) else 1:]:  # without labels nothing was scored
        paths += make(report, folder)
    return paths
