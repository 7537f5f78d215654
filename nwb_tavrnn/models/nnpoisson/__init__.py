"""NNPoisson: neural-network Poisson models of stimulus → regional spiking → choice and reaction time
(Khajehnejad, Habibollahi, Nock, Arabzadeh, Dayan & Dezfouli, ICML 2022), with the reference's loss
as the ``faithful`` preset and a corrected likelihood as the default (``docs/nnpoisson.md``)."""

from .estimator import NNPoisson, TrialPredictions
from .network import NNPoissonNet

__all__ = ["NNPoisson", "NNPoissonNet", "TrialPredictions"]
