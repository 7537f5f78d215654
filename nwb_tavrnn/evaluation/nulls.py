"""Label nulls that keep the label sequence's temporal structure, and their p-values.

When labels come in contiguous blocks (run/rest, task periods, alternating conditions), shuffling
single windows breaks the blocks: any slow drift of the network then separates the real blocks
far better than it separates the shuffled labels, and the test rejects with p ≈ 1/(B+1) although
the label changes nothing. The nulls here move whole blocks:

``block_permutation`` (the default)
    The label blocks (maximal runs of one label in time order) keep their places and lengths; which
    label each block carries is permuted. Exact when labels were assigned to blocks at random
    (a randomised or counterbalanced design); with few blocks there are few distinct assignments,
    and every distinct one is enumerated when they number at most ``n_permutations``.
``circular_shift``
    The whole label sequence rotated by every (or a random sample of) offset: keeps the label
    autocorrelation exactly; powerless for periodic designs (a shift by one period is the design).
``iid``
    Single windows shuffled: valid only for labels that do not come in blocks (kept as an option).

A test is *testable* only when its smallest attainable p-value is at most ``alpha``; two task
periods (two blocks) admit no valid test at all, and the report says so instead of printing a
p-value. Accuracy does not change when class names are swapped, so labellings that differ only by
a renaming count as one when the smallest attainable p-value is worked out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .splits import label_blocks

NULLS = ("block_permutation", "circular_shift", "iid")
#: Enumerate every distinct assignment when there are at most this many (and at most n_permutations).
MAX_ENUMERATE = 100_000


@dataclass
class LabelNull:
    """Permuted label sequences of a null, and what they allow.

    Attributes
    ----------
    labels
        One permuted label sequence per row (time order as given).
    exact
        The rows are every distinct labelling (the observed one included): p = share of rows whose
        statistic is >= the observed one. Otherwise they are random draws: p = (1 + count) / (1 + rows).
    n_possible
        Distinct labellings the null can produce.
    min_p
        Smallest attainable p-value (labellings equal up to renaming the classes tie with the observed).
    testable
        ``min_p <= alpha`` (and, for the circular shift, at least 4 label blocks).
    reason
        Why not, in one line ('' when testable).

    Shapes
    ------
    labels : (permutations, windows)
    """

    kind: str
    labels: np.ndarray
    exact: bool
    n_possible: int
    min_p: float
    testable: bool
    reason: str
    n_blocks: int

    def p_value(self, observed: float, null: np.ndarray) -> float:
        """The p-value of ``observed`` against the statistics of :attr:`labels` (see :func:`p_value`)."""
        return p_value(observed, null, self.exact)

    def describe(self) -> str:
        how = "every distinct labelling" if self.exact else f"{len(self.labels)} random draws"
        what = {"block_permutation": f"labels permuted across {self.n_blocks} label blocks (blocks kept in place)",
                "circular_shift": "label sequence circularly shifted",
                "iid": "labels of single windows shuffled (ignores blocks)"}[self.kind]
        return f"{what}; {how} of {self.n_possible} possible; smallest attainable p = {self.min_p:.3g}"


def p_value(observed: float, null: np.ndarray, exact: bool) -> float:
    """Permutation p-value, one-sided (large statistics are evidence).

    ``exact``: ``null`` holds the statistic of every labelling the null allows, the observed one
    included, so p = #{null >= observed} / len(null). Otherwise ``null`` holds random draws and
    p = (1 + #{null >= observed}) / (1 + len(null)), which is never below 1 / (1 + len(null)).
    A tolerance of 1e-12 counts ties as ties.
    """
    null = np.asarray(null, float)
    count = int(np.sum(null >= observed - 1e-12))
    if exact:
        if null.size == 0:
            raise ValueError("an exact null needs at least the observed labelling")
        return count / null.size
    return (1 + count) / (1 + null.size)


def _renamings(counts: Sequence[int]) -> int:
    """Class renamings that keep the per-class counts: classes with equal counts can be swapped."""
    return math.prod(math.factorial(m) for m in Counter(counts).values())


def _multiset_permutations(items: Sequence) -> Iterator[tuple]:
    """Every distinct ordering of ``items`` (a multiset), lexicographic."""
    pool = sorted(items)
    n = len(pool)

    def rec(prefix: list, remaining: Counter) -> Iterator[tuple]:
        if len(prefix) == n:
            yield tuple(prefix)
            return
        for value in sorted(remaining):
            if remaining[value]:
                remaining[value] -= 1
                prefix.append(value)
                yield from rec(prefix, remaining)
                prefix.pop()
                remaining[value] += 1

    yield from rec([], Counter(pool))


def _equal_up_to_renaming(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs})


def label_null(y: Sequence, kind: str = "block_permutation", n_permutations: int = 200, seed: int = 0,
               alpha: float = 0.05, blocks: Sequence | None = None) -> LabelNull:
    """Build a label null for labels ``y`` given in time order (see the module docstring).

    ``blocks`` names the design block of every window (e.g. the intervals-table row its label came
    from; one label per block). Without it the blocks are the runs of equal labels, which by
    construction alternate between classes: permuting them then also produces designs with longer
    same-label stretches, which slow drift separates more easily, so the test is conservative
    (valid, less powerful). Blocks of the real design (neighbouring rows with the same label kept
    apart) make it exact for a randomised block design.

    Shapes
    ------
    y, blocks : (windows,)
    """
    if kind not in NULLS:
        raise ValueError(f"null must be one of {', '.join(NULLS)}, got {kind!r}")
    y = np.asarray(y).astype(str)
    n = len(y)
    rng = np.random.default_rng(seed)
    if kind == "iid":  # every window its own block
        blocks = np.arange(n)
    elif blocks is None:
        blocks = label_blocks(y)
    else:
        blocks = np.unique(np.asarray(blocks), return_inverse=True)[1]
    n_blocks = int(blocks.max()) + 1 if n else 0
    if kind == "circular_shift":
        n_possible = n
        same = sum(_equal_up_to_renaming(np.roll(y, s), y) for s in range(n))
        min_p = same / n
        exact = n <= n_permutations
        shifts = np.arange(n) if exact else rng.integers(1, n, size=n_permutations)
        labels = np.array([np.roll(y, int(s)) for s in shifts]) if n else np.empty((0, 0), dtype=str)
        testable = min_p <= alpha and n_blocks >= 4
        reason = "" if testable else (
            f"{n_blocks} label block(s) and {n} windows: circular shifts give a smallest attainable p-value of "
            f"{min_p:.3g}" + (" and fewer than 4 blocks" if n_blocks < 4 else "") + ": no valid label test")
    else:  # block_permutation, and iid (blocks of one window)
        first = np.unique(blocks, return_index=True)[1]
        block_labels = y[first]
        if any(len(set(y[blocks == b])) > 1 for b in range(n_blocks)):
            raise ValueError("every block must carry one label")
        counts = list(Counter(block_labels.tolist()).values())
        n_possible = math.factorial(n_blocks) // math.prod(math.factorial(c) for c in counts)
        min_p = _renamings(counts) / n_possible
        exact = n_possible <= min(n_permutations, MAX_ENUMERATE)
        if exact:
            assignments = np.array(list(_multiset_permutations(block_labels.tolist())))
        else:
            assignments = np.array([rng.permutation(block_labels) for _ in range(n_permutations)])
        labels = assignments[:, blocks] if len(assignments) else np.empty((0, n), dtype=str)
        testable = min_p <= alpha
        reason = "" if testable else (
            f"{n_blocks} label block(s) allow only {n_possible} distinct assignment(s) of labels to blocks; the "
            f"smallest attainable p-value is {min_p:.3g} > {alpha:g}: no valid label test (more blocks are needed)")
    if not exact:
        min_p = max(min_p, 1.0 / (1 + n_permutations))
        testable = testable and min_p <= alpha
        if not testable and not reason:
            reason = (f"{n_permutations} random permutations cannot give p <= {alpha:g}; "
                      f"use at least {math.ceil(1 / alpha) - 1}")
    return LabelNull(kind, np.asarray(labels).reshape(-1, n), exact, int(n_possible), float(min_p), bool(testable),
                     reason, n_blocks)


@dataclass
class PairedTest:
    """A paired test of two methods' difference on the same items.

    Attributes
    ----------
    difference
        The observed difference (method A minus method B), the sum of the items' contributions.
    p_value
        Two-sided block sign-flip p-value (valid, but never below ``min_p``: few blocks, little power).
    n_blocks, exact, min_p
        Blocks whose signs were flipped; whether every sign pattern was enumerated; the smallest
        attainable p-value.
    """

    difference: float
    p_value: float
    n_blocks: int
    exact: bool
    min_p: float


def block_sign_flip_test(contributions: Sequence[float], blocks: Sequence, n_flips: int = 10_000,
                         seed: int = 0) -> PairedTest:
    """Two-sided test that a paired difference is zero, by flipping the sign of whole blocks.

    ``contributions`` are the items' shares of a difference between two methods scored on the same
    items (e.g. ``w_i (right_A,i − right_B,i)`` for balanced accuracy); under the null that the two
    methods are exchangeable, each block's sum is as likely to be positive as negative, whatever
    the dependence *within* a block. Blocks are the units that carry the dependence (label blocks
    of a continuous recording, or single trials of a randomised design), so neighbouring items that
    err together flip together. The statistic is |Σ_b s_b D_b| over sign patterns s; every pattern
    is enumerated when there are at most ``n_flips``, else ``n_flips`` random ones (p then never
    below 1 / (1 + n_flips)). Blocks whose sum is zero change nothing and are dropped.

    Shapes
    ------
    contributions, blocks : (items,)
    """
    d = np.asarray(contributions, float)
    blocks = np.unique(np.asarray(blocks), return_inverse=True)[1] if d.size else np.zeros(0, int)
    sums = np.bincount(blocks, weights=d) if d.size else np.zeros(0)
    observed = float(d.sum())
    sums = sums[np.abs(sums) > 1e-12]
    m = len(sums)
    if m == 0:  # the methods agree on every block: no evidence of a difference
        return PairedTest(observed, 1.0, 0, True, 1.0)
    exact = m < 63 and 2 ** m <= n_flips
    target = abs(float(sums.sum())) - 1e-12
    if exact:
        signs = 1 - 2 * ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1)
        p = int(np.sum(np.abs(signs @ sums) >= target)) / 2 ** m
    else:
        rng = np.random.default_rng(seed)
        count, drawn = 0, 0
        while drawn < n_flips:  # in chunks: bounded memory for many blocks
            rows = min(1000, n_flips - drawn)
            count += int(np.sum(np.abs(rng.choice([-1.0, 1.0], size=(rows, m)) @ sums) >= target))
            drawn += rows
        p = (1 + count) / (1 + n_flips)
    # the observed pattern and its mirror always tie; 2.0 ** (1 - m) stays a float for any m
    min_p = 2.0 ** (1 - m) if exact else max(2.0 ** (1 - m), 1.0 / (1 + n_flips))
    return PairedTest(observed, float(p), m, exact, float(min_p))


__all__ = ["NULLS", "LabelNull", "PairedTest", "block_sign_flip_test", "label_null", "p_value"]
