"""Point-process models of trial-aligned regional spiking and behaviour: scores, baselines, figures.

* :mod:`.metrics`: the :class:`IntensityModel` and :class:`BehaviourModel` protocols every model
  (NNPoisson and the baselines) implements, and the scores computed through them: exact Poisson
  log-likelihood, bits per spike, the time-rescaling KS test, choice accuracy and the RT KS test;
* :mod:`.baselines`: homogeneous Poisson, per-condition PSTH, and a raised-cosine Poisson GLM;
* :mod:`.plots`: intensity curves, RT distributions and KS plots, each saved as PNG and PDF.

The scores need numpy and scipy only; the GLM imports nemos (and jax) when fitted; the figures
import matplotlib when drawn.
"""

from .baselines import HomogeneousPoisson, PSTHPoisson, RaisedCosineGLM
from .metrics import (
    KS_95,
    BehaviourModel,
    ChoiceScore,
    IntensityModel,
    KSResult,
    RescalingKS,
    bits_per_spike,
    choice_accuracy,
    neural_log_likelihood,
    rt_ks,
    rt_mixture_cdf,
    time_rescaling_ks,
)
from .plots import plot_intensities, plot_ks, plot_rt_distributions

__all__ = [
    "KS_95",
    "BehaviourModel",
    "ChoiceScore",
    "HomogeneousPoisson",
    "IntensityModel",
    "KSResult",
    "PSTHPoisson",
    "RaisedCosineGLM",
    "RescalingKS",
    "bits_per_spike",
    "choice_accuracy",
    "neural_log_likelihood",
    "plot_intensities",
    "plot_ks",
    "plot_rt_distributions",
    "rt_ks",
    "rt_mixture_cdf",
    "time_rescaling_ks",
]
