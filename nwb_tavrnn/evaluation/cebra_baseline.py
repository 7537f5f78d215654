"""Optional baseline: window features from a self-supervised CEBRA-Time embedding of binned spikes.

CEBRA is the user's installed ``cebra`` package (``pip install cebra``); this module only calls it.
It is fitted with ``conditional="time"`` and no labels, like the unsupervised graph models, so no
label information can leak across cross-validation folds.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..connectivity.binning import bin_spike_trains
from ..errors import InputFileError
from ..io.spike_trains import SpikeTrains

log = logging.getLogger(__name__)

#: Receptive field of CEBRA's "offset10-model" and the positive-pair distance, both in bins.
_ARCHITECTURE, _TIME_OFFSET = "offset10-model", 10


def cebra_available() -> bool:
    """Whether the ``cebra`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("cebra") is not None


def cebra_window_features(trains: SpikeTrains, starts, stops, *, bin_size: float = 0.1, smooth_bins: int = 2,
                          output_dimension: int = 8, max_iterations: int = 500, batch_size: int = 512,
                          seed: int = 0) -> np.ndarray:
    """Mean and standard deviation of a CEBRA-Time embedding over the bins of each window.

    Spike counts are binned over ``[t_start, t_stop)``, smoothed with a boxcar of ``smooth_bins``
    bins (1 or less: none), z-scored per node, and embedded by CEBRA-Time fitted on all bins.

    Parameters
    ----------
    trains
        The spike trains.
    starts, stops
        Window bounds in seconds; a window holds the bins whose left edge lies in ``[start, stop)``.
    bin_size
        Bin width in seconds.
    smooth_bins
        Boxcar width in bins.
    output_dimension, max_iterations, batch_size
        Passed to CEBRA: embedding size, training steps, samples per step.
    seed
        Seeds the network's initialisation and CEBRA's sampler; equal seeds give equal output.

    Returns
    -------
    numpy.ndarray
        Per window, the embedding's mean over its bins followed by its standard deviation.

    Shapes
    ------
    trains : nodes x (spikes_i,)
    starts, stops : (windows,)
    return : (windows, 2 * output_dimension) float64
    """
    if not cebra_available():
        raise ImportError("the CEBRA baseline needs the 'cebra' package: pip install cebra")
    import cebra
    import cebra.integrations.sklearn.dataset as cebra_dataset
    import torch

    starts, stops = np.asarray(starts, dtype=np.float64), np.asarray(stops, dtype=np.float64)
    counts, edges = bin_spike_trains(trains, trains.t_start, trains.t_stop, bin_size, binary=False,
                                     dtype=np.float64)
    if counts.shape[1] <= _TIME_OFFSET:
        raise InputFileError(f"the CEBRA baseline needs more than {_TIME_OFFSET} bins of {bin_size} s; "
                             f"the recording has {counts.shape[1]}")
    if smooth_bins > 1:
        counts = uniform_filter1d(counts, size=smooth_bins, axis=1, mode="nearest")
    sd = counts.std(axis=1, keepdims=True)
    # A silent node would divide by zero; leaving it at 0 after centring gives it no weight.
    x = ((counts - counts.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)).T.astype(np.float32)

    # cebra.CEBRA (the sklearn wrapper) re-seeds its sampler from OS entropy on every fit and declares
    # itself non-deterministic, so the same seed gave different embeddings. Its documented torch API
    # exposes the sampler's generator, which we seed; fork_rng keeps the caller's torch RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        data = torch.from_numpy(x)
        dataset = cebra_dataset.SklearnDataset(x, ())  # no labels: CEBRA-Time
        model = cebra.models.init(_ARCHITECTURE, num_neurons=x.shape[1], num_units=32, num_output=output_dimension)
        dataset.configure_for(model)
        loader = cebra.data.ContinuousDataLoader(dataset, num_steps=max_iterations, batch_size=batch_size,
                                                 conditional="time", time_offset=_TIME_OFFSET)
        loader.distribution.generator.manual_seed(seed)
        criterion = cebra.models.FixedCosineInfoNCE(temperature=1.0)
        optimizer = torch.optim.Adam(list(model.parameters()) + list(criterion.parameters()), lr=3e-4)
        solver = cebra.solver.init("single-session", model=model, criterion=criterion, optimizer=optimizer,
                                   tqdm_on=False)
        solver.fit(loader)
        with torch.no_grad():
            embedding = solver.transform(data, pad_before_transform=True).numpy().astype(np.float64)
    log.info("CEBRA-Time: %d bins x %d nodes -> %d dims, %d iterations", *x.shape, output_dimension, max_iterations)

    lo, hi = np.searchsorted(edges[:-1], starts), np.searchsorted(edges[:-1], stops)
    if np.any(hi <= lo):
        raise InputFileError(f"{int(np.sum(hi <= lo))} window(s) hold no {bin_size}-s bin of the recording; "
                             "leave the cebra baseline out for windows this short")
    return np.stack([np.concatenate([embedding[a:b].mean(axis=0), embedding[a:b].std(axis=0)])
                     for a, b in zip(lo, hi)])
