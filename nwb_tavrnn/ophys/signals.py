"""What a graph is computed on when its nodes are ROIs: the trace as stored, ΔF/F, or events.

Baseline
--------
ΔF/F and events share one baseline, suite2p's ``maximin`` (Pachitariu et al. 2017,
``suite2p.extraction.dcnv.preprocess``): the trace is smoothed by a Gaussian of ``sigma`` frames,
then a running minimum and a running maximum, each over ``window`` seconds, follow the slow floor
of the trace under its transients. Defaults are suite2p's: a 60 s window and σ = 10 frames.
Edges are handled by reflection, as suite2p does (scipy's default).

Because the running filters reach a bounded number of frames, a stretch of the recording can be
processed on its own when it is read with a margin of :func:`baseline_margin` frames on both
sides: the result is then identical to processing the whole recording, which is what lets the
connectivity step stream long recordings in chunks.

Events
------
A frame is an event when the trace minus its baseline exceeds ``threshold`` times the ROI's noise
level. The noise level is a robust estimate of the frame-to-frame noise: the median absolute first
difference × 1.4826 / √2 (the MAD of a difference of two independent Gaussian samples is √2 times
theirs), computed in fixed blocks of about a minute and taken as the median over blocks, so slow
changes and transients (which occupy few blocks) do not inflate it. On a deconvolved series, which
is zero most of the time, the noise level is 0 and every positive frame is an event.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SIGNALS", "baseline_margin", "maximin_baseline", "noise_level", "block_noise"]

#: The signals a trace-based graph can be computed on.
SIGNALS = ("raw", "dff", "events")

_MAD_TO_SD = 1.4826


def _window_frames(window: float, rate: float) -> int:
    return max(1, int(window * rate))


def baseline_margin(window: float, sigma: float, rate: float) -> int:
    """Frames of context each side that make a chunk's baseline equal to the whole recording's.

    The Gaussian reaches ``4 σ + 1`` frames (scipy's truncation), the minimum and the maximum
    filters half a window each.
    """
    return _window_frames(window, rate) + int(4 * sigma + 2)


def maximin_baseline(traces: np.ndarray, rate: float, window: float = 60.0, sigma: float = 10.0) -> np.ndarray:
    """suite2p's ``maximin`` baseline of each ROI: Gaussian smoothing, running min, running max.

    Parameters
    ----------
    traces
        Fluorescence, frames first.
    rate
        Frames per second.
    window
        Running-filter length in seconds.
    sigma
        Gaussian width in frames (0 skips the smoothing).

    Shapes
    ------
    traces : (frames, rois)
    return : (frames, rois) float64
    """
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d, minimum_filter1d

    x = np.asarray(traces, dtype=np.float64)
    if sigma > 0:
        x = gaussian_filter1d(x, sigma, axis=0)
    size = _window_frames(window, rate)
    return maximum_filter1d(minimum_filter1d(x, size, axis=0), size, axis=0)


def block_noise(traces: np.ndarray) -> np.ndarray:
    """Robust frame-to-frame noise level of each ROI in one block of frames (NaN for < 3 frames).

    Shapes
    ------
    traces : (frames, rois)
    return : (rois,) float64
    """
    x = np.asarray(traces, dtype=np.float64)
    if x.shape[0] < 3:
        return np.full(x.shape[1], np.nan)
    d = np.diff(x, axis=0)
    mad = np.median(np.abs(d - np.median(d, axis=0)), axis=0)
    return mad * _MAD_TO_SD / np.sqrt(2.0)


def noise_level(read_block, n_frames: int, block: int) -> np.ndarray:
    """Median over fixed blocks of :func:`block_noise`, reading one block at a time.

    Blocks are ``[0, block), [block, 2 block), ...`` whatever the caller's chunking, so the result
    depends on the recording only. A last block shorter than half a block joins the previous one.

    Parameters
    ----------
    read_block
        ``read_block(a, b)`` returns frames ``a .. b-1`` as (frames, rois).
    n_frames, block
        Frames in the recording and per block.

    Shapes
    ------
    return : (rois,) float64
    """
    block = max(3, int(block))
    edges = list(range(0, n_frames, block)) + [n_frames]
    if len(edges) > 2 and edges[-1] - edges[-2] < block // 2:
        edges.pop(-2)
    levels = [block_noise(read_block(a, b)) for a, b in zip(edges[:-1], edges[1:])]
    return np.nanmedian(np.stack(levels), axis=0) if levels else np.zeros(0)
