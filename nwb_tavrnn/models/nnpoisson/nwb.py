"""NNPoisson results as NWB containers readable with plain pynwb: the fitted intensities per stimulus
condition and region on a time grid, and per-trial predictions aligned to the trials table."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...io.trials import TrialSpikes


def intensity_table(curves: np.ndarray, grid: np.ndarray, stimulus: np.ndarray, labels: list[str],
                    regions: list[str], name: str = "intensities", description: str = "", *,
                    unit_ids: np.ndarray | None = None, unit_regions: list[str] | None = None) -> Any:
    """One row per (condition, region): the per-neuron intensity λ_k(t | s) (Hz) on ``time`` (s after
    onset), with the condition's stimulus features; or, given ``unit_ids``, one row per
    (condition, unit) with the unit's own intensity λ_i(t | s) and its region.

    Shapes
    ------
    curves : (conditions, regions or units, m); grid : (m,); stimulus : (conditions, features)
    unit_ids, unit_regions : (units,)
    """
    from hdmf.common import DynamicTable, VectorData

    c, r, m = curves.shape
    rows = [(ci, ri) for ci in range(c) for ri in range(r)]
    per_unit = unit_ids is not None
    region_of = list(unit_regions) if per_unit else list(regions)
    columns = [
        VectorData(name="condition", description="Stimulus condition.", data=[labels[ci] for ci, _ in rows]),
        VectorData(name="stimulus", description="Stimulus features of the condition (as in the trials table).",
                   data=np.stack([stimulus[ci] for ci, _ in rows]).astype(np.float64)),
    ]
    if per_unit:
        columns.append(VectorData(name="unit_id", description="Id of the unit in the Units table.",
                                  data=np.asarray([unit_ids[ri] for _, ri in rows], dtype=np.int64)))
    columns += [
        VectorData(name="region", description="Brain region.", data=[region_of[ri] for _, ri in rows]),
        VectorData(name="time", description="Time after stimulus onset (s) of each intensity sample.",
                   data=np.tile(np.asarray(grid, dtype=np.float64), (len(rows), 1))),
        VectorData(name="intensity", description=("Intensity of the unit" if per_unit else
                                                  "Per-neuron intensity of the region") + " (spikes/s) at 'time'.",
                   data=np.stack([curves[ci, ri] for ci, ri in rows]).astype(np.float64)),
    ]
    what = "unit" if per_unit else "per-neuron intensity per condition and region"
    return DynamicTable(name=name, description=description or f"fitted {what}", columns=columns)


def predictions_table(predictions: Any, data: TrialSpikes, split: np.ndarray | None = None,
                      trials_table: Any | None = None, name: str = "trial_predictions",
                      description: str = "") -> Any:
    """One row per trial: the trial's id (and a link to its row of ``trials_table`` when given),
    the predicted probability of each action and of no response within the window, the predicted
    choice, the median predicted RT, the trial's log-likelihoods and its split (train / validation /
    test)."""
    from hdmf.common import DynamicTable, DynamicTableRegion, VectorData

    n = len(predictions.trial_ids)
    columns = [VectorData(name="trial_id", description="Id of the trial in the trials table.",
                          data=np.asarray(predictions.trial_ids, dtype=np.int64))]
    if trials_table is not None:
        ids = np.asarray(trials_table.id.data[:], dtype=np.int64)
        where = {int(v): i for i, v in enumerate(ids)}
        columns.append(DynamicTableRegion(name="trial", description="Row of the trials table.",
                                          data=[where[int(t)] for t in predictions.trial_ids], table=trials_table))
    for i, action in enumerate(predictions.actions):
        columns.append(VectorData(name=f"p_{action}", description=f"Predicted probability of response {action!r} "
                                  "first within the window.", data=predictions.choice_probability[:, i]))
    columns.append(VectorData(name="p_none", description="Predicted probability of no response within the window.",
                              data=predictions.choice_probability[:, -1]))
    names = list(predictions.actions)
    columns += [
        VectorData(name="predicted_choice", description="Most probable outcome ('none': no response).",
                   data=[names[c] if c >= 0 else "none" for c in predictions.predicted_choice]),
        VectorData(name="observed_choice", description="Observed outcome ('none': no response within the window).",
                   data=[names[c] if c >= 0 else "none" for c in data.choice]),
        VectorData(name="rt_median", description="Median predicted reaction time (s from onset); NaN when a "
                   "response within the window is less likely than not.", data=predictions.rt_median),
        VectorData(name="log_likelihood_neural", description="Log-likelihood of the trial's spikes (nats).",
                   data=predictions.log_likelihood_neural),
        VectorData(name="log_likelihood_behaviour", description="Log-likelihood of the trial's response and "
                   "RT, or of none within the window (nats).", data=predictions.log_likelihood_behaviour),
    ]
    if split is not None:
        columns.append(VectorData(name="split", description="train, validation or test.", data=list(split)))
    return DynamicTable(name=name, description=description or "per-trial predictions of the fitted model",
                        columns=columns, id=np.arange(n))


__all__ = ["intensity_table", "predictions_table"]
