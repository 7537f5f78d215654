"""What an evaluation computed (:class:`EvaluationReport`), and its headline: accuracy per method
with its interval and the label-null p-value of that very accuracy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .label_specs import WindowLabels
from .settings import EvaluationConfig


@dataclass
class EvaluationReport:
    """Everything the step computed.

    ``protocol`` says how: the folds, the label null and whether it allowed a test, what the
    intervals cover, and the transductive note. ``extras`` holds the labelled windows
    (``window_index``, ``window_classes``) and the windows' ``starts`` and ``stops``; the
    evaluation of a file's embeddings adds what its figures draw (``mean``, ``groups``,
    ``attention``, ``adjacency_density``, ``edge_strength``, ``edge_similarity``) and the subregion
    ``alignment`` per window (NaN where none was computed).
    """

    scores: pd.DataFrame
    summary: pd.DataFrame
    labels: WindowLabels
    alignment: np.ndarray
    config: EvaluationConfig
    path: Path | None = None
    report_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, str] = field(default_factory=dict)

    def headline(self) -> pd.DataFrame:
        """Accuracy per method (classification) and per time-shuffle refit set, with its interval and
        the label-null p-value of that very accuracy (NaN where the null allows no valid test).

        Columns: method, analysis, mean, ci_low, ci_high, interval, p_value, n.
        """
        s = self.scores
        rows = []
        for method in pd.unique(s.method):
            mine = s[s.method == method]
            value = _metric(mine, "classification", "accuracy")
            if value is not None:
                rows.append({"method": method, "analysis": "classification", "mean": value,
                             "ci_low": _metric(mine, "classification", "accuracy_ci_low"),
                             "ci_high": _metric(mine, "classification", "accuracy_ci_high"),
                             "interval": self.protocol.get("interval", ""),
                             "p_value": _metric(mine, "label_permutation", "p_value"),
                             "n": int(_metric(mine, "classification", "n_windows") or 0)})
            shuffle = mine[(mine.analysis == "time_shuffle") & (mine.metric == "accuracy")]["value"]
            if len(shuffle):
                rows.append({"method": method, "analysis": "time_shuffle", "mean": float(shuffle.mean()),
                             "ci_low": float(shuffle.min()), "ci_high": float(shuffle.max()),
                             "interval": f"range over {len(shuffle)} refit(s)", "p_value": np.nan,
                             "n": len(shuffle)})
        columns = ["method", "analysis", "mean", "ci_low", "ci_high", "interval", "p_value", "n"]
        out = pd.DataFrame(rows, columns=columns)
        out[["mean", "ci_low", "ci_high", "p_value"]] = out[["mean", "ci_low", "ci_high", "p_value"]].astype(float)
        return out

    def format_headline(self) -> str:
        """The headline as text for the command line: accuracies with their intervals and p-values,
        and one line on how they were obtained (or why no p-value could be given)."""
        if not len(self.scores):
            return "no labels: nothing scored (the report holds the graphs' and embeddings' figures)"
        lines = [f"accuracy, {self.protocol.get('split', 'cross-validated')}",
                 f"interval: {self.protocol.get('interval', '')}",
                 f"p: label null, {self.protocol.get('label_null', '')}"]
        for row in self.headline().itertuples(index=False):
            if row.analysis == "classification":
                p = (f"p = {row.p_value:.3g}" if np.isfinite(row.p_value) else "p: no valid test"
                     if self.config.n_permutations else "p: not run")
                lines.append(f"  {row.method:<18} {row.analysis:<15} {row.mean:.3f} [{row.ci_low:.3f}, "
                             f"{row.ci_high:.3f}]  {p}")
            else:
                lines.append(f"  {row.method:<18} {row.analysis:<15} {row.mean:.3f} (refits {row.ci_low:.3f}"
                             f"-{row.ci_high:.3f})")
        test = self.protocol.get("label_test", "")
        if test.startswith("not testable"):
            lines.append(f"label test {test}")
        return "\n".join(lines)


def _metric(frame: pd.DataFrame, analysis: str, metric: str) -> float | None:
    v = frame[(frame.analysis == analysis) & (frame.metric == metric)]["value"]
    return float(v.iloc[0]) if len(v) else None


__all__ = ["EvaluationReport"]
