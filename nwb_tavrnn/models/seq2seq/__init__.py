"""Seq2seq: one region's spiking translated into another's through low-dimensional latents that also
decode behaviour (docs/seq2seq.md)."""

from .estimator import Seq2seq
from .network import Seq2seqNet, poisson_nll

__all__ = ["Seq2seq", "Seq2seqNet", "poisson_nll"]
