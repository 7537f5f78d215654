"""Where users wait: TAVRNN per epoch against the authors' notebook, on long small sessions and on a
DishBrain-size one.

Run: ``PYTHONPATH=. python benchmarks/speed.py [--cases 25x286 900x19] [--epochs 3] [--skip-connectivity]``

The peer is a port of the notebook's own classes (``TAVRNN.ipynb``: its ``GCNConv`` message passing,
``graph_gru_attention`` with the six GRU GCNs in plain lists, ``AttentionLayer`` over the stacked
list of all states, ``T_AVRNN`` with its losses, Adam and ``clip_grad_norm_`` as its loop), written
out below from the code quoted in the research notes; ``torch_scatter``'s add is ``index_add_``
(the only graph dependency the notebook really uses). Ours is :class:`nwb_tavrnn.TAVRNN` through
its own ``fit`` (the ``faithful`` preset, which computes what the notebook computes, and the
``improved`` default), timed per epoch with the fit's callback.

Data: W windows of |r|-like matrices with planted blocks thresholded at 0.6 (``benchmarks/model.py``);
the notebook's inputs as it builds them (history node joined to every node, diagonal set, |r| rows as
features). Both sides run on one torch thread in the same process, alternating; each figure is the
fastest epoch after a warm-up one.

Then connectivity end to end: ``nwb-tavrnn connectivity`` as a user runs it (a new process, from its
start to the output file closed; best of two) on 128 units × 1 h of 3 Hz Poisson spikes in an NWB
Units table, 10 ms bins, 10 s windows every 10 s, against Elephant's ``correlation_coefficient`` on
the same windows (neo spike trains cut per window and binned by ``BinnedSpikeTrain``; timed on
``--elephant-windows`` windows and extrapolated, which the output says), with the interpreter's
start-up and the CLI's imports shown apart.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model import block_connectivity  # benchmarks/ on the path when run as a script


# ------------------------------------------------------------------------------------------------
# The notebook's classes (one GRU layer, as its runs use).
# ------------------------------------------------------------------------------------------------
class NotebookGCNConv(nn.Module):
    """The notebook's GCNConv: ``X W``, unit edge weights, degrees from ``edge_index[0]``, no added
    self-loops, ``D^-1/2 A D^-1/2`` messages summed at the target (``index_add_`` for scatter_add)."""

    def __init__(self, in_channels: int, out_channels: int, act=lambda x: x, bias: bool = False) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / (in_channels + out_channels))
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.act = act

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = x @ self.weight
        row, col = edge_index
        edge_weight = torch.ones(row.numel())
        deg = torch.zeros(x.shape[0]).index_add_(0, row, edge_weight)
        deg_inv_sqrt = deg.pow(-0.5)
        deg_inv_sqrt[deg_inv_sqrt == float("inf")] = 0
        norm = deg_inv_sqrt[row] * edge_weight * deg_inv_sqrt[col]
        out = torch.zeros_like(x).index_add_(0, col, norm.view(-1, 1) * x[row])
        if self.bias is not None:
            out = out + self.bias
        return self.act(out)


class NotebookAttentionLayer(nn.Module):
    def __init__(self, nhid: int) -> None:
        super().__init__()
        self.nhid = nhid
        self.query, self.key, self.value = nn.Linear(nhid, nhid), nn.Linear(nhid, nhid), nn.Linear(nhid, nhid)

    def forward(self, all_h: list, width: int) -> tuple[list, torch.Tensor]:  # width unused, as there
        temp = torch.stack([tensor[-1, :, :] for tensor in all_h], dim=0)
        query = self.query(temp[-1, -1, :].view(1, -1))
        keys = self.key(temp[1:, -1, :])
        scores = torch.matmul(query, keys.transpose(-2, -1)) / torch.sqrt(torch.tensor(self.nhid, dtype=torch.float32))
        attention_weights = F.softmax(scores, dim=1)
        values = self.value(torch.stack(all_h[1:], dim=0))
        expanded_weights = attention_weights.view(1, attention_weights.size(1), 1, 1, 1)
        all_h[-1] = torch.sum(values * expanded_weights, dim=1).squeeze(dim=0)
        return all_h, attention_weights


class NotebookGraphGRUAttention(nn.Module):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        # plain Python lists, as the notebook: never registered, never trained
        self.weight_xz = [NotebookGCNConv(input_size, hidden_size, bias=True)]
        self.weight_hz = [NotebookGCNConv(hidden_size, hidden_size, bias=True)]
        self.weight_xr = [NotebookGCNConv(input_size, hidden_size, bias=True)]
        self.weight_hr = [NotebookGCNConv(hidden_size, hidden_size, bias=True)]
        self.weight_xh = [NotebookGCNConv(input_size, hidden_size, bias=True)]
        self.weight_hh = [NotebookGCNConv(hidden_size, hidden_size, bias=True)]
        self.AttentionLayer = NotebookAttentionLayer(hidden_size)

    def forward(self, inp: torch.Tensor, edgidx: torch.Tensor, all_h: list) -> tuple[list, torch.Tensor]:
        i, prev = 0, all_h[-1][0]
        s_g = torch.sigmoid(self.weight_xz[i](inp, edgidx) + self.weight_hz[i](prev, edgidx))
        r_g = torch.sigmoid(self.weight_xr[i](inp, edgidx) + self.weight_hr[i](prev, edgidx))
        h_tilde_g = torch.tanh(self.weight_xh[i](inp, edgidx) + self.weight_hh[i](r_g * prev, edgidx))
        all_h.append((s_g * prev + (1 - s_g) * h_tilde_g).unsqueeze(0))
        return self.AttentionLayer(all_h, 3)


class NotebookTAVRNN(nn.Module):
    """``T_AVRNN``: φx, φz, encoder GCNs (no bias), prior MLP, inner-product decoder, the KL and BCE."""

    def __init__(self, x_dim: int, h_dim: int = 32, z_dim: int = 8, eps: float = 1e-10) -> None:
        super().__init__()
        self.h_dim, self.eps = h_dim, eps
        self.phi_x = nn.Sequential(nn.Linear(x_dim, h_dim), nn.ReLU())
        self.phi_z = nn.Sequential(nn.Linear(z_dim, h_dim), nn.ReLU())
        self.enc = NotebookGCNConv(h_dim + h_dim, h_dim, act=F.relu)
        self.enc_mean = NotebookGCNConv(h_dim, z_dim)
        self.enc_std = NotebookGCNConv(h_dim, z_dim, act=F.softplus)
        self.prior = nn.Sequential(nn.Linear(h_dim, h_dim), nn.ReLU())
        self.prior_mean = nn.Sequential(nn.Linear(h_dim, z_dim))
        self.prior_std = nn.Sequential(nn.Linear(h_dim, z_dim), nn.Softplus())
        self.rnn = NotebookGraphGRUAttention(h_dim + h_dim, h_dim)

    def _kld_gauss(self, mean_1, std_1, mean_2, std_2):
        num_nodes = mean_1.size()[0]
        kld_element = (2 * torch.log(std_2 + self.eps) - 2 * torch.log(std_1 + self.eps)
                       + (torch.pow(std_1 + self.eps, 2) + torch.pow(mean_1 - mean_2, 2))
                       / torch.pow(std_2 + self.eps, 2) - 1)
        return (0.5 / num_nodes) * torch.mean(torch.sum(kld_element, dim=1), dim=0)

    def _nll_bernoulli(self, logits, target_adj_dense):
        temp_size = target_adj_dense.size()[0]
        temp_sum = target_adj_dense.sum()
        posw = float(temp_size * temp_size - temp_sum) / temp_sum
        norm = temp_size * temp_size / float((temp_size * temp_size - temp_sum) * 2)
        return norm * torch.mean(F.binary_cross_entropy_with_logits(
            logits, target_adj_dense, pos_weight=posw, reduction="none"), dim=[0, 1])

    def forward(self, x, edge_idx_list, adj_orig_dense_list):
        all_h = [torch.zeros(1, x.size(1), self.h_dim)]
        h = all_h[-1]
        kld_loss, nll_loss = 0, 0
        for t in range(x.size(0)):
            phi_x_t = self.phi_x(x[t])
            enc_t = self.enc(torch.cat([phi_x_t, h[-1]], 1), edge_idx_list[t])
            enc_mean_t = self.enc_mean(enc_t, edge_idx_list[t])
            enc_std_t = self.enc_std(enc_t, edge_idx_list[t])
            prior_t = self.prior(h[-1])
            prior_mean_t, prior_std_t = self.prior_mean(prior_t), self.prior_std(prior_t)
            z_t = torch.randn_like(enc_std_t) * enc_std_t + enc_mean_t
            phi_z_t = self.phi_z(z_t)
            dec_t = z_t @ z_t.t()
            all_h, _ = self.rnn(torch.cat([phi_x_t, phi_z_t], 1), edge_idx_list[t], all_h)
            h = all_h[-1]
            kld_loss = kld_loss + self._kld_gauss(enc_mean_t, enc_std_t, prior_mean_t, prior_std_t)
            nll_loss = nll_loss + self._nll_bernoulli(dec_t, adj_orig_dense_list[t])
        return kld_loss, nll_loss


def notebook_inputs(adjacency: np.ndarray, corr: np.ndarray):
    """The notebook's augmentation: a history node joined to all (diagonal too); |r| rows as features."""
    w, n, _ = adjacency.shape
    full = np.ones((w, n + 1, n + 1), dtype=np.float32)
    full[:, :n, :n] = adjacency
    x = np.ones((w, n + 1, n + 1), dtype=np.float32)
    x[:, :n, :n] = np.abs(corr)
    adjs = [torch.from_numpy(a) for a in full]
    return torch.from_numpy(x), [a.nonzero().t().contiguous() for a in adjs], adjs


# ------------------------------------------------------------------------------------------------
def notebook_epochs(adjacency: np.ndarray, corr: np.ndarray, epochs: int) -> float:
    """Fastest of ``epochs`` epochs (after one warm-up) of the notebook's training loop."""
    torch.manual_seed(0)
    x, edges, adjs = notebook_inputs(adjacency, corr)
    model = NotebookTAVRNN(x.shape[2])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        kld, nll = model(x, edges, adjs)
        (kld + nll).backward()
        optimizer.step()
        nn.utils.clip_grad_norm_(model.parameters(), 10)
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def our_epochs(adjacency: np.ndarray, corr: np.ndarray, epochs: int, preset: str) -> float:
    """Fastest epoch (after one warm-up) of ``TAVRNN.preset(preset).fit`` on the same windows."""
    from nwb_tavrnn import TAVRNN

    stamps = []
    model = TAVRNN.preset(preset, epochs=epochs + 1, seed=0, device="cpu", patience=None)
    connectivity = types.SimpleNamespace(adjacency=adjacency, correlation=corr)
    start = time.perf_counter()
    model.fit(connectivity, callback=lambda epoch, loss: stamps.append(time.perf_counter()))
    times = np.diff([start, *stamps])
    return float(times[1:].min())


def _best_wall(command: list[str], repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def connectivity_end_to_end(elephant_windows: int) -> None:
    """``nwb-tavrnn connectivity`` from process start to file closed, against Elephant's compute."""
    import logging

    from connectivity import elephant_per_window  # benchmarks/connectivity.py

    from nwb_tavrnn.connectivity import ConnectivityParams, plan_windows
    from nwb_tavrnn.io.files import write_nwbfile
    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.io.read import read_spike_trains
    from nwb_tavrnn.testing import mock_source_nwbfile

    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "units.nwb", Path(tmp) / "graphs.nwb"
        write_nwbfile(mock_source_nwbfile(n_units=128, duration=3600.0, rate=3.0, silent_units=0), source)
        flags = ["--bin-size", "0.01", "--window", "10", "--step", "10", "--overwrite"]
        cli = [sys.executable, "-m", "nwb_tavrnn.cli.main", "connectivity", str(source), str(out), *flags]
        ours = _best_wall(cli)
        start = _best_wall([sys.executable, "-c", "pass"])
        imports = _best_wall([sys.executable, "-c", "import nwb_tavrnn.cli.main"]) - start
        with open_nwb(source) as nwbfile:
            trains = read_spike_trains(nwbfile)
        params = ConnectivityParams(bin_size=0.01, window=10.0, step=10.0)
        win = plan_windows(trains, params)
        logging.getLogger("elephant").setLevel(logging.ERROR)  # one "rounding errors" line per window otherwise
        per = elephant_per_window(trains, win, min(elephant_windows, len(win)), params.binary)
    print(f"\nconnectivity, 128 units x 1 h, 10 ms bins, 10 s windows ({len(win)} windows)")
    print(f"  nwb-tavrnn connectivity, process start to file closed: {ours:6.2f} s "
          f"(interpreter start {start:.2f} s, CLI imports {imports:.2f} s)")
    if per is None:
        print("  elephant not installed: skipped")
        return
    est = per * len(win)
    print(f"  elephant correlation_coefficient: {per * 1e3:.1f} ms/window, timed on {min(elephant_windows, len(win))} "
          f"windows and extrapolated: {est:.1f} s -> ours end to end is {est / ours:.1f}x faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["25x286", "900x19"], help="NODESxWINDOWS")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per side (after one warm-up)")
    ap.add_argument("--elephant-windows", type=int, default=20, help="windows to time Elephant on")
    ap.add_argument("--skip-connectivity", action="store_true", help="TAVRNN epochs only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # both sides (fit does the same): denormals slow CPU epochs 10x
    print("TAVRNN seconds per epoch, one torch thread, same process (fastest of "
          f"{args.epochs} after a warm-up)")
    print(f"{'case':>10} {'notebook':>9} {'faithful':>9} {'ratio':>6} {'improved':>9} {'ratio':>6}")
    for case in args.cases:
        n, w = (int(v) for v in case.lower().split("x"))
        adjacency, corr = block_connectivity(n, w)
        nb = notebook_epochs(adjacency, corr, args.epochs)
        faithful = our_epochs(adjacency, corr, args.epochs, "faithful")
        improved = our_epochs(adjacency, corr, args.epochs, "improved")
        print(f"{n:>4} x {w:<3} {nb:9.3f} {faithful:9.3f} {nb / faithful:5.1f}x {improved:9.3f} {nb / improved:5.1f}x",
              flush=True)
    if not args.skip_connectivity:
        connectivity_end_to_end(args.elephant_windows)


if __name__ == "__main__":
    main()
