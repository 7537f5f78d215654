"""An evaluation report in a folder: the scores as CSV, a JSON summary (labels, parameters,
protocol, per-window labels and alignment), and figures as PNG and PDF."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..io.files import PathLike
from .result import EvaluationReport


def write_report(report: EvaluationReport, folder: PathLike) -> list[Path]:
    """Scores as CSV and JSON, and figures, in ``folder``; returns the files written (and sets the
    report's ``report_dir`` and ``figures``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "summary.json"]
    if len(report.scores):  # without labels (evaluation.report.describe) nothing was scored
        written += [folder / "scores.csv", folder / "summary.csv"]
        report.scores.to_csv(written[1], index=False)
        report.summary.to_csv(written[2], index=False)
    payload = {"labels": report.labels.spec, "config": asdict(report.config), "protocol": report.protocol,
               "summary": report.summary.to_dict(orient="records"),
               "window_start_times": report.extras.get("starts"), "window_labels": report.labels.labels,
               "alignment": [None if not np.isfinite(a) else float(a)
                                                                     for a in report.alignment]}
    written[0].write_text(json.dumps(payload, indent=2, default=_json))
    if report.config.figures:
        from .. import plots

        # the scores figure alone for features given as arrays: the others draw a file's embeddings and graphs
        written += (plots.report_figures(report, folder) if "mean" in report.extras
                    else plots.scores_figure(report, folder))
    report.report_dir = folder
    report.figures = [p for p in written if p.suffix in (".png", ".pdf")]
    return written


def _json(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


__all__ = ["write_report"]
