"""The Seq2seq network: an encoder RNN over the source region's binned spike counts, a linear map to
a low-dimensional latent trajectory, a decoder RNN over the latents, and a linear read-out of every
target unit's log rate.

Both RNNs run forward in time (unless ``bidirectional``), so the latent at bin ``t`` and the rate it
predicts use source spikes up to ``t`` only; a ``lag`` of L bins predicts the target's bin ``t`` from
the latents up to ``t − L``.

Shapes
------
source : (batch, bins, n_source) counts -> latent (batch, bins, latent_dim), log_rate (batch, bins, n_target)
"""

from __future__ import annotations

import torch
from torch import nn


class Seq2seqNet(nn.Module):
    """Source counts → latents → target log rates (per bin).

    Parameters
    ----------
    n_source, n_target
        Units of the source and target regions.
    latent_dim
        Dimension of the latent trajectory (2-16 in practice).
    hidden
        Size of the encoder's and decoder's GRU states.
    bidirectional
        Encoder reads the segment both ways (latents then use the future of the segment).
    target_mean
        Mean count per bin of every target unit: the read-out's bias starts at its log, so training
        starts from the mean-rate model.

    Shapes
    ------
    target_mean : (n_target,)
    """

    def __init__(self, n_source: int, n_target: int, latent_dim: int = 4, hidden: int = 64,
                 bidirectional: bool = False, target_mean: torch.Tensor | None = None) -> None:
        super().__init__()
        self.encoder = nn.GRU(n_source, hidden, batch_first=True, bidirectional=bidirectional)
        self.to_latent = nn.Linear(hidden * (2 if bidirectional else 1), latent_dim)
        self.decoder = nn.GRU(latent_dim, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, n_target)
        if target_mean is not None:
            with torch.no_grad():
                self.readout.bias.copy_(torch.log(torch.as_tensor(target_mean, dtype=torch.float32).clamp(min=1e-4)))

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.encoder(torch.log1p(source))  # log1p: counts of very different rates on one scale
        latent = self.to_latent(h)
        d, _ = self.decoder(latent)
        return latent, self.readout(d)


def poisson_nll(log_rate: torch.Tensor, counts: torch.Tensor, lag: int = 0) -> torch.Tensor:
    """Poisson negative log-likelihood summed over bins and units (without the log(y!) constant),
    the target's bin ``t`` predicted by the network's output at ``t − lag``.

    Shapes
    ------
    log_rate, counts : (batch, bins, n_target) -> (batch, n_target)
    """
    if lag > 0:
        log_rate, counts = log_rate[:, :-lag], counts[:, lag:]
    return (torch.exp(log_rate) - counts * log_rate).sum(1)


__all__ = ["Seq2seqNet", "poisson_nll"]
