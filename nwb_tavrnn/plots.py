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

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, works headless and in CI
    import matplotlib.pyplot as plt

    return plt


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def _label_colours(classes) -> dict:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return {c: cmap(i % 10) for i, c in enumerate(sorted(set(classes)))}


def scores_figure(report, folder: Path) -> list[Path]:
    """Accuracy per method with its block-bootstrap interval, each method's label-null 95th
    percentile (a tick) and p-value, and every time-shuffle refit as a dot."""
    plt = _pyplot()
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
    return _save(fig, folder, "scores")


def embeddings_figure(report, folder: Path) -> list[Path]:
    plt = _pyplot()
    mean, groups = report.extras["mean"], report.extras["groups"]
    idx, y = report.extras["window_index"], report.extras["window_classes"]
    picks = []
    for c in sorted(set(y)):
        picks.append((int(idx[np.flatnonzero(y == c)[0]]), c))
    picks = picks[:4]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 3.2), squeeze=False)
    group_names = sorted(set(groups)) if groups is not None else ["nodes"]
    colours = _label_colours(group_names)
    for ax, (w, c) in zip(axes[0], picks):
        z = mean[w] - mean[w].mean(axis=0)
        u, sv, vt = np.linalg.svd(z, full_matrices=False)
        xy = z @ vt[:2].T
        for g in group_names:
            m = (groups == g) if groups is not None else slice(None)
            ax.scatter(xy[m, 0], xy[m, 1], s=6, color=colours[g], label=g)
        ax.set_title(f"window {w} ({c})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=6, markerscale=2, loc="best")
    fig.suptitle("Node embeddings (PC1-PC2), coloured by group", fontsize=10)
    return _save(fig, folder, "embeddings")


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
    plt = _pyplot()
    starts, stops = report.extras["starts"], report.extras["stops"]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    _shade_labels(ax, report)
    ax.plot((starts + stops) / 2, report.extras["adjacency_density"], "o-", color="k", ms=3)
    ax.set_xlabel("window centre (s)")
    ax.set_ylabel("edge density")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Dynamic connectivity over time", fontsize=10)
    return _save(fig, folder, "connectivity")


def attention_figure(report, folder: Path) -> list[Path]:
    att = report.extras.get("attention")
    if att is None:
        return []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    im = ax.imshow(att, cmap="viridis", vmin=0, origin="upper")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xlabel("key window")
    ax.set_ylabel("query window")
    ax.set_title("Temporal attention", fontsize=10)
    return _save(fig, folder, "attention")


def alignment_figure(report, folder: Path) -> list[Path]:
    if not np.isfinite(report.alignment).any():
        return []
    plt = _pyplot()
    starts, stops = report.extras["starts"], report.extras["stops"]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    _shade_labels(ax, report)
    ax.plot((starts + stops) / 2, report.alignment, "o-", color="tab:purple", ms=3, label="alignment")
    ax.set_xlabel("window centre (s)")
    ax.set_ylabel("subregion alignment\n(silhouette by group)")
    if report.labels.values is not None:
        twin = ax.twinx()
        twin.plot((starts + stops) / 2, report.labels.values, "s--", color="tab:orange", ms=3)
        twin.set_ylabel("behaviour", color="tab:orange")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Do nodes cluster by group as behaviour changes?", fontsize=10)
    return _save(fig, folder, "alignment")


def report_figures(report, folder: Path) -> list[Path]:
    """Write every figure of ``report`` into ``folder``; return the paths."""
    folder = Path(folder)
    paths: list[Path] = []
    for make in (scores_figure, embeddings_figure, connectivity_figure, attention_figure, alignment_figure):
        paths += make(report, folder)
    return paths
