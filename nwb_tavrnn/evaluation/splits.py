"""Cross-validation folds for windows that are neighbours in time.

Windows of one recording are not independent samples: overlapping windows share spikes, and
neighbouring windows share slow drift. A shuffled k-fold puts a window's neighbours (often half
of its own spikes) in the training set, which lets any slowly drifting feature "decode" a label
that comes in blocks. The folds here never do that:

``blocked`` (the default)
    ``k`` contiguous runs of windows in time order; each run is tested once.
``label_blocks``
    Whole label blocks (maximal runs of one label in time order) are held out together,
    contiguous groups of blocks per fold: no block is split between training and testing.
``stratified``
    The old shuffled, stratified k-fold; only as an explicit choice, since windows next to a test
    window sit in training.

Every split is then *purged*: a training window that overlaps a test window in time, or lies
within ``purge_gap`` seconds of one, is dropped from that fold's training set. ``blocked`` folds
depend on window times only and ``label_blocks`` folds on blocks that the block-permutation null
keeps in place, so a label null can reuse them; ``stratified`` folds depend on the labels
themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputFileError

SPLITS = ("blocked", "label_blocks", "stratified")


def label_blocks(y: Sequence) -> np.ndarray:
    """Index of the label block of every window: a new block starts where the label changes.

    Shapes
    ------
    y : (windows,) labels in time order
    return : (windows,) int, 0 .. blocks - 1
    """
    y = np.asarray(y).astype(str)
    if y.size == 0:
        return np.zeros(0, dtype=int)
    return np.concatenate([[0], np.cumsum(y[1:] != y[:-1])]).astype(int)


def window_overlap(starts: Sequence[float], stops: Sequence[float]) -> float:
    """Largest time (s) any window shares with the next one in time order (0 when none overlap)."""
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    if starts.size < 2:
        return 0.0
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], stops[order]
    # the running maximum of stops catches a long window overlapping several later ones
    return float(max(0.0, np.max(np.maximum.accumulate(e)[:-1] - s[1:])))


@dataclass
class Folds:
    """Train/test indices of every fold, and how they were made (stored with the scores).

    Shapes
    ------
    train[i], test[i] : indices into the windows given to :func:`make_folds`
    """

    kind: str
    train: list[np.ndarray]
    test: list[np.ndarray]
    purge_gap: float
    purged: int

    def __iter__(self):
        return iter(zip(self.train, self.test))

    def __len__(self) -> int:
        return len(self.test)

    def describe(self) -> str:
        """One line for reports: what the folds are and what was purged."""
        what = {"blocked": "contiguous blocks of windows in time order",
                "label_blocks": "whole label blocks held out together",
                "stratified": "shuffled stratified folds (neighbouring windows may sit in training)"}[self.kind]
        gap = f"{self.purge_gap:g} s" if self.purge_gap else "0 s"
        return (f"{len(self)}-fold {self.kind} cross-validation ({what}); training windows overlapping a test "
                f"window or within {gap} of one removed ({self.purged} window-fold pairs purged)")


def make_folds(starts: Sequence[float], stops: Sequence[float], y: Sequence, kind: str = "blocked",
               n_splits: int = 5, purge_gap: float = 0.0, seed: int = 0, blocks: Sequence | None = None) -> Folds:
    """Cross-validation folds over windows (see the module docstring).

    Parameters
    ----------
    starts, stops
        Window times in seconds (any order; folds follow time order).
    y
        Labels of the windows (``label_blocks`` uses their runs; ``stratified`` their classes).
    n_splits
        Folds (fewer when there are fewer blocks or windows).
    purge_gap
        Extra seconds around every test window inside which training windows are dropped.
    blocks
        Design block of every window for ``label_blocks`` (default: the runs of equal labels).

    Shapes
    ------
    starts, stops, y : (windows,)

    Raises
    ------
    InputFileError
        When a fold would have no training window left.
    """
    if kind not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {kind!r}")
    if purge_gap < 0:
        raise ValueError(f"purge_gap must be >= 0 seconds, got {purge_gap}")
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    y = np.asarray(y).astype(str)
    n = len(y)
    if n < 2 or len(starts) != n or len(stops) != n:
        raise InputFileError(f"cross-validation needs at least 2 windows with times and labels, got {n}")
    order = np.argsort(starts, kind="stable")
    if kind == "blocked":
        tests = [order[part] for part in np.array_split(np.arange(n), min(n_splits, n))]
    elif kind == "label_blocks":
        if blocks is None:  # runs of equal labels in time order
            ids = np.empty(n, dtype=int)
            ids[order] = label_blocks(y[order])
        else:
            ids = np.asarray(blocks)
        # number the blocks in time order of their first window
        _, first = np.unique(ids[order], return_index=True)
        rank = {b: r for r, b in enumerate(ids[order][np.sort(first)])}
        blocks = np.array([rank[b] for b in ids[order]])
        n_blocks = len(rank)
        if n_blocks < 2:
            raise InputFileError("label-block folds need at least 2 label blocks")
        groups = np.array_split(np.arange(n_blocks), min(n_splits, n_blocks))
        tests = [order[np.isin(blocks, g)] for g in groups]
    else:
        from sklearn.model_selection import StratifiedKFold

        smallest = int(np.unique(y, return_counts=True)[1].min())
        k = max(2, min(n_splits, smallest))
        tests = [test for _, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y)]
    trains, purged = [], 0
    for test in tests:
        lo, hi = starts[test] - purge_gap, stops[test] + purge_gap
        # a training window is dropped if it overlaps (with the gap) any test window
        clash = ((starts[:, None] < hi[None, :]) & (stops[:, None] > lo[None, :])).any(axis=1)
        clash[test] = True
        train = np.flatnonzero(~clash)
        purged += int(clash.sum() - len(test))
        if train.size == 0:
            raise InputFileError(f"a {kind} fold has no training window left after purging windows that overlap "
                                 "its test windows; use fewer folds, shorter windows or a smaller purge gap")
        trains.append(train)
    return Folds(kind, trains, [np.sort(t) for t in tests], float(purge_gap), purged)


def holdout_blocks(starts: Sequence[float], stops: Sequence[float], test_fraction: float = 0.2,
                   blocks: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A held-out test set of contiguous blocks spread over the session.

    The items (trials, segments), in time order, are cut into ``blocks`` contiguous blocks;
    ``round(test_fraction · blocks)`` of them, evenly spaced, are the test set, so slow drifts are in
    both sets and a test item's neighbours are mostly test items too. A training item that overlaps a
    test item in time is dropped (``gap``): no spike is in both sets.

    Shapes
    ------
    starts, stops : (n,) -> train, test, gap : indices into the items
    """
    from ..errors import require

    require(0 < test_fraction < 1, f"test_fraction must be in (0, 1), got {test_fraction}")
    require(blocks >= 2, f"blocks must be >= 2, got {blocks}")
    starts, stops = np.asarray(starts, dtype=float), np.asarray(stops, dtype=float)
    n = len(starts)
    require(n >= 2, f"a held-out split needs at least 2 items, got {n}")
    order = np.argsort(starts, kind="stable")
    chunks = np.array_split(order, min(blocks, n))
    n_test = min(max(1, round(test_fraction * len(chunks))), len(chunks) - 1)
    picks = np.unique(np.round(np.linspace(0, len(chunks) - 1, n_test + 2)[1:-1]).astype(int))
    if len(picks) < n_test:  # rounding made two picks one block: take the nearest free blocks too
        free = [i for i in range(len(chunks)) if i not in set(picks)]
        centre = np.linspace(0, len(chunks) - 1, n_test)
        extra = sorted(free, key=lambda i: np.min(np.abs(centre - i)))[:n_test - len(picks)]
        picks = np.sort(np.concatenate([picks, extra]).astype(int))
    test = np.sort(np.concatenate([chunks[i] for i in picks]))
    rest = np.setdiff1d(np.arange(n), test)
    t_start, t_stop = starts[test], stops[test]
    overlap = np.array([bool(np.any((starts[j] < t_stop) & (t_start < stops[j]))) for j in rest], dtype=bool)
    return rest[~overlap], test, rest[overlap]
