"""Point-process models of trial-aligned regional spiking and behaviour: scores, baselines, figures.

* :mod:`.protocols`: the :class:`IntensityModel` (per region), :class:`UnitIntensityModel` (per
  unit) and :class:`BehaviourModel` protocols every model (NNPoisson and the baselines)
  implements, and the views between the first two (:func:`unit_view`, :func:`region_view`);
* :mod:`.metrics`: the scores computed through them: exact Poisson log-likelihood, bits per spike,
  the time-rescaling KS test (per region or per unit), choice accuracy and the RT KS test;
* :mod:`.units`: the per-unit log-likelihood and bits per spike (and their region aggregate);
* :mod:`.behaviour`: choice scores of several models with block-bootstrap intervals and paired
  tests, and the per-condition ceiling;
* :mod:`.baselines` and :mod:`.glm`: homogeneous Poisson, per-condition PSTH, and a raised-cosine
  Poisson GLM, each per region or per unit;
* :mod:`.plots`: intensity curves, RT distributions and KS plots, each saved as PNG and PDF.

The scores need numpy and scipy only; the GLM imports nemos (and jax) when fitted; the figures
import matplotlib when drawn; :func:`compare_behaviour` imports :mod:`nwb_tavrnn.evaluation.metrics`
(scikit-learn) when called.
"""

from .baselines import HomogeneousPoisson, PSTHPoisson
from .behaviour import BehaviourComparison, MethodBehaviour, compare_behaviour, condition_ceiling
from .glm import RaisedCosineGLM, fit_poisson_glm
from .metrics import (
    KS_95,
    ChoiceScore,
    KSResult,
    RescalingKS,
    bits_per_spike,
    choice_accuracy,
    neural_log_likelihood,
    pool_units_by_region,
    rt_ks,
    rt_mixture_cdf,
    time_rescaling_ks,
)
from .plots import plot_intensities, plot_ks, plot_rt_distributions
from .protocols import (
    BehaviourModel,
    IntensityModel,
    RegionView,
    UnitIntensityModel,
    UnitView,
    region_view,
    unit_view,
)
from .units import UnitBits, region_bits_per_spike_from_units, unit_bits, unit_bits_per_spike, unit_log_likelihood

__all__ = [
    "KS_95",
    "BehaviourComparison",
    "BehaviourModel",
    "ChoiceScore",
    "HomogeneousPoisson",
    "IntensityModel",
    "KSResult",
    "MethodBehaviour",
    "PSTHPoisson",
    "RaisedCosineGLM",
    "RegionView",
    "RescalingKS",
    "UnitBits",
    "UnitIntensityModel",
    "UnitView",
    "bits_per_spike",
    "choice_accuracy",
    "compare_behaviour",
    "condition_ceiling",
    "fit_poisson_glm",
    "neural_log_likelihood",
    "plot_intensities",
    "plot_ks",
    "plot_rt_distributions",
    "pool_units_by_region",
    "region_bits_per_spike_from_units",
    "region_view",
    "rt_ks",
    "rt_mixture_cdf",
    "time_rescaling_ks",
    "unit_bits",
    "unit_bits_per_spike",
    "unit_log_likelihood",
    "unit_view",
]
