"""Benchmark of the TAVRNN model against a dense implementation of the same equations in the
reference's style.

Run: ``PYTHONPATH=. python benchmarks/model.py [--sizes 128 901 4096] [--epochs 3] [--threads 2]
[--baseline-max-nodes 901]``

Data: W = 19 windows of |r|-like matrices with block structure (half the nodes in one "sensory"
block, the rest in four "motor" blocks, as the simulator), thresholded at |r| >= 0.6 to about 3% edge
density (self-loops kept). Features are the |r| rows (x_dim = N), as in the faithful configuration.

Ours: :class:`nwb_tavrnn.models.tavrnn.VGRNNNet` (CSR sparse propagation, normalisation once,
shared propagations, exact dense reconstruction loss up to 2,048 nodes, sampled above).
Baseline: the reference's style, written out below: every GCN call builds the dense normalised
adjacency from the dense (N+1)×(N+1) matrix and multiplies densely, nine GCN calls per window,
attention with a Python loop over past states, ``binary_cross_entropy_with_logits`` on the full N×N.

For each size it prints the time per epoch (forward + backward + Adam step, fastest of ``--epochs``
after one warm-up epoch) and the peak resident memory of a fresh process that built the data and
trained (``ru_maxrss``), and checks that the baseline gives the same loss as ours for the same
weights (copied across) and the same ε.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

W = 19


def block_connectivity(n: int, n_windows: int = W, seed: int = 0, p_in: float = 0.08, p_out: float = 0.004):
    """|r|-like matrices with planted blocks; edges where |r| >= 0.6.

    Shapes
    ------
    return : adjacency (W, N, N) float32 binary, correlation (W, N, N) float32
    """
    rng = np.random.default_rng(seed)
    sensory = n // 2
    sizes = [sensory] + [len(c) for c in np.array_split(np.arange(n - sensory), 4)]
    group = np.repeat(np.arange(len(sizes)), sizes)
    same = group[:, None] == group[None, :]
    corr = np.empty((n_windows, n, n), dtype=np.float32)
    for t in range(n_windows):
        r = rng.uniform(0.0, 0.55, (n, n)).astype(np.float32)
        strong = rng.uniform(0.0, 1.0, (n, n)) < np.where(same, p_in, p_out)
        r[strong] = rng.uniform(0.6, 1.0, int(strong.sum())).astype(np.float32)
        r = np.triu(r, 1)
        r = r + r.T
        np.fill_diagonal(r, 1.0)
        corr[t] = r
    adjacency = (corr >= 0.6).astype(np.float32)
    return adjacency, corr


# ------------------------------------------------------------------------------------------------
# The baseline: the same equations written the way the reference code does them.
# ------------------------------------------------------------------------------------------------
class DenseGCN(nn.Module):
    """GCNConv in the reference's style on a dense adjacency: normalise at every call, X W first."""

    def __init__(self, lin: nn.Linear) -> None:
        super().__init__()
        self.lin = lin

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        deg = adj.sum(dim=0)
        d = deg.pow(-0.5)
        d[torch.isinf(d)] = 0
        norm_adj = d[:, None] * adj.t() * d[None, :]
        return norm_adj @ (x @ self.lin.weight.t()) + self.lin.bias


class DenseReference(nn.Module):
    """VGRNN + temporal attention, dense, Python loops; parameter names match ``VGRNNNet``."""

    def __init__(self, x_dim: int, h_dim: int = 32, z_dim: int = 8) -> None:
        super().__init__()
        from nwb_tavrnn.models.tavrnn.modules import VGRNNNet

        # Borrow the layout (same parameter names, so state_dicts copy across), not the computation.
        layout = VGRNNNet(x_dim, h_dim, z_dim, "full")
        self.phi_x, self.phi_z = layout.phi_x, layout.phi_z
        self.encoder, self.prior, self.rnn, self.attention = layout.encoder, layout.prior, layout.rnn, layout.attention
        self.h_dim = h_dim

    def forward(self, features: torch.Tensor, adjs: list, targets: list, sample: bool, generator) -> torch.Tensor:
        n = targets[0].shape[0]
        h = torch.zeros(n + 1, self.h_dim)
        history, loss = [], 0.0
        enc, rnn = self.encoder, self.rnn
        for t in range(len(adjs)):
            adj = adjs[t]
            phi_x = F.relu(self.phi_x(features[t]))
            e = F.relu(DenseGCN(enc.hidden)(torch.cat([phi_x, h], 1), adj))
            mean = DenseGCN(enc.mean)(e, adj)
            std = F.softplus(DenseGCN(enc.std)(e, adj))
            p = F.relu(self.prior.hidden(h))
            prior_mean, prior_std = self.prior.mean(p), F.softplus(self.prior.std(p))
            z = mean + std * torch.randn(mean.shape, generator=generator) if sample else mean
            phi_z = F.relu(self.phi_z(z))
            inp = torch.cat([phi_x, phi_z], 1)
            zg = torch.sigmoid(DenseGCN(rnn.x_z)(inp, adj) + DenseGCN(rnn.h_z)(h, adj))
            rg = torch.sigmoid(DenseGCN(rnn.x_r)(inp, adj) + DenseGCN(rnn.h_r)(h, adj))
            cand = torch.tanh(DenseGCN(rnn.x_h)(inp, adj) + DenseGCN(rnn.h_h)(rg * h, adj))
            h_tilde = zg * h + (1 - zg) * cand
            history.append(h_tilde)
            q = self.attention.query(h_tilde[-1])
            scores = torch.stack([self.attention.key(s[-1]) @ q for s in history]) / math.sqrt(self.h_dim)
            alpha = torch.softmax(scores, 0)
            h = sum(alpha[j] * self.attention.value(history[j]) for j in range(len(history)))
            # losses, as the reference
            target = targets[t]
            logits = z[:n] @ z[:n].t()
            e_count = target.sum()
            pos_weight = (n * n - e_count) / e_count
            norm = n * n / ((n * n - e_count) * 2)
            bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
            nll = norm * bce.mean()
            eps = 1e-10
            m1, s1, m2, s2 = mean[:n], std[:n], prior_mean[:n], prior_std[:n]
            kld = (2 * torch.log(s2 + eps) - 2 * torch.log(s1 + eps) + ((s1 + eps) ** 2 + (m1 - m2) ** 2)
                   / (s2 + eps) ** 2 - 1)
            loss = loss + nll + (0.5 / n) * kld.sum(1).mean()
        return loss


def dense_inputs(adjacency: np.ndarray):
    n = adjacency.shape[1]
    adjs = []
    for a in adjacency:
        full = torch.ones(n + 1, n + 1)
        full[:n, :n] = torch.from_numpy(a)
        full.fill_diagonal_(1.0)  # the remaining self-loops GCNConv adds
        adjs.append(full)
    return adjs, [torch.from_numpy(a) for a in adjacency]


# ------------------------------------------------------------------------------------------------
def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) so training is measured apart from data building."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def training_peak_rss_gb() -> float:
    """VmHWM since :func:`reset_peak_rss` (Linux), or the process peak elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_one(impl: str, n: int, epochs: int, threads: int, check: bool) -> dict:
    """Build data, train ``epochs`` (+1 warm-up), report seconds per epoch and peak RSS."""
    from nwb_tavrnn.models.graphs import prepare_sequence
    from nwb_tavrnn.models.tavrnn.estimator import DENSE_DECODER_MAX_NODES
    from nwb_tavrnn.models.tavrnn.modules import VGRNNNet

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # both sides: denormals slow early epochs 10x on CPU (fit does the same)
    torch.manual_seed(0)
    adjacency, corr = block_connectivity(n)
    density = float(adjacency.mean())
    t0 = time.perf_counter()
    seq = prepare_sequence(adjacency, features=corr)  # corr is |r| already
    prep = time.perf_counter() - t0
    result = {"impl": impl, "n": n, "density": density}
    if impl == "ours":
        del corr, adjacency
        gc.collect()
        reset_peak_rss()
        model = VGRNNNet(seq.x_dim)
        decoder = "dense" if n <= DENSE_DECODER_MAX_NODES else "sampled"
        gen = torch.Generator().manual_seed(0)

        def step() -> float:
            return model(seq, generator=gen, decoder=decoder)["loss"]

        result.update(prep_s=prep, decoder=decoder)
    else:
        adjs, targets = dense_inputs(adjacency)
        feats = seq.features
        del corr, adjacency
        gc.collect()
        reset_peak_rss()
        model = DenseReference(seq.x_dim)
        gen = torch.Generator().manual_seed(0)

        def step() -> float:
            return model(feats, adjs, targets, True, gen)

    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    times = []
    for k in range(epochs + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = step()
        loss.backward()
        opt.step()
        if k:
            times.append(time.perf_counter() - t0)
    result["epoch_s"] = float(np.min(times))  # min: the machine may be shared; interference only adds time
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    result["train_peak_gb"] = training_peak_rss_gb()
    if check:
        result.update(check_same_loss(n))
    return result


def run_long(kind: str, n: int, windows: int, epochs: int, threads: int) -> dict:
    """Peak memory of fitting ``kind`` (tavrnn / faithful / vgrnn) on ``windows`` windows of ``n`` nodes."""
    from nwb_tavrnn.models import TAVRNN, VGRNN

    torch.set_num_threads(threads)
    adjacency, corr = block_connectivity(n, n_windows=windows)
    gc.collect()
    reset_peak_rss()
    est = {"tavrnn": lambda: TAVRNN(epochs=epochs, device="cpu", patience=None),
           "faithful": lambda: TAVRNN.preset("faithful", epochs=epochs, device="cpu"),
           "vgrnn": lambda: VGRNN(epochs=epochs, device="cpu", patience=None)}[kind]()
    t0 = time.perf_counter()
    est.set_params(features="reference").fit(adjacency, features=corr)  # |r| arrays as the notebook's features
    return {"kind": kind, "epoch_s": (time.perf_counter() - t0) / epochs, "train_peak_gb": training_peak_rss_gb()}


def check_same_loss(n: int) -> dict:
    """Same weights, same ε: do ours and the baseline give the same loss (and gradients)?"""
    from nwb_tavrnn.models.graphs import prepare_sequence
    from nwb_tavrnn.models.tavrnn.modules import VGRNNNet

    adjacency, corr = block_connectivity(n, seed=1)
    seq = prepare_sequence(adjacency, features=np.abs(corr))
    ours = VGRNNNet(seq.x_dim)
    ref = DenseReference(seq.x_dim)
    ref.load_state_dict(ours.state_dict())
    adjs, targets = dense_inputs(adjacency)
    out = {}
    for sample in (False, True):
        a = ours(seq, sample=sample, generator=torch.Generator().manual_seed(3), decoder="dense")["loss"]
        b = ref(seq.features, adjs, targets, sample, torch.Generator().manual_seed(3))
        out[f"loss_ours_{'sample' if sample else 'mean'}"] = float(a)
        out[f"loss_ref_{'sample' if sample else 'mean'}"] = float(b)
    ga = torch.autograd.grad(ours(seq, sample=False, decoder="dense")["loss"], list(ours.parameters()),
                             allow_unused=True)
    gb = torch.autograd.grad(ref(seq.features, adjs, targets, False, None), list(ref.parameters()))
    # ours leaves the key's bias out of the scores (its exact gradient is zero), so it has none
    out["max_rel_grad_diff"] = max(float((x - y).norm() / (y.norm() + 1e-12)) for x, y in zip(ga, gb) if x is not None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 901, 4096])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline-max-nodes", type=int, default=901,
                        help="skip the dense baseline above this size (at 4,096 nodes it needs > 16 GB)")
    parser.add_argument("--long", type=int, nargs=2, default=[200, 200], metavar=("N", "W"),
                        help="memory of a fit on W windows of N nodes: TAVRNN (improved, faithful) vs VGRNN "
                             "(default 200 200; 0 0 skips)")
    parser.add_argument("--one", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--one-long", metavar="KIND", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.epochs, args.threads, args.check)))
        return
    if args.one_long:
        print(json.dumps(run_long(args.one_long, args.long[0], args.long[1], args.epochs, args.threads)))
        return

    def child(impl: str, n: int, check: bool = False) -> dict:
        cmd = [sys.executable, __file__, "--one", impl, str(n), "--epochs", str(args.epochs),
               "--threads", str(args.threads)] + (["--check"] if check else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}"}
        return json.loads(proc.stdout.strip().splitlines()[-1])

    print(f"TAVRNN per-epoch time, {W} windows, h=32, z=8, x_dim=N, torch {torch.__version__}, "
          f"{args.threads} threads, fastest of {args.epochs} epochs after 1 warm-up; memory = peak RSS of a fresh process")
    print("GB columns: peak RSS while training (after the inputs were built and freed) / peak of the whole process")
    print(f"{'N':>6} {'density':>8} {'ours s/ep':>10} {'ours GB':>11} {'dense s/ep':>11} {'dense GB':>11} {'speed-up':>9}"
          f"  same loss (mean / sampled ε), max rel. grad diff")
    for n in args.sizes:
        ours = child("ours", n, check=n <= min(args.baseline_max_nodes, 1024))
        if "error" in ours:
            print(f"{n:>6} ours failed: {ours['error']}")
            continue
        line = (f"{n:>6} {ours['density']:>8.3f} {ours['epoch_s']:>10.3f} "
                f"{ours['train_peak_gb']:>5.2f}/{ours['peak_rss_gb']:<5.2f}")
        if n <= args.baseline_max_nodes:
            ref = child("dense", n)
            if "error" in ref:
                line += f" dense failed: {ref['error']}"
            else:
                line += (f" {ref['epoch_s']:>11.3f} {ref['train_peak_gb']:>5.2f}/{ref['peak_rss_gb']:<5.2f} "
                         f"{ref['epoch_s'] / ours['epoch_s']:>8.1f}x")
        else:
            line += f" {'skipped':>11} {'':>11} {'':>9}"
        if "loss_ours_mean" in ours:
            line += (f"  {ours['loss_ours_mean']:.6f} vs {ours['loss_ref_mean']:.6f} / "
                     f"{ours['loss_ours_sample']:.6f} vs {ours['loss_ref_sample']:.6f}, {ours['max_rel_grad_diff']:.1e}")
        line += f"  [{ours['decoder']} decoder]"
        print(line, flush=True)
    if args.long[0] > 0:
        n, w = args.long
        print(f"\nPeak RSS while fitting {w} windows x {n} nodes ({args.epochs} epochs, fresh process each):")
        rows = {}
        for kind in ("vgrnn", "tavrnn", "faithful"):
            cmd = [sys.executable, __file__, "--one-long", kind, "--long", str(n), str(w), "--epochs",
                   str(args.epochs), "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {kind}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
                continue
            rows[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
            ratio = rows[kind]["train_peak_gb"] / rows["vgrnn"]["train_peak_gb"] if "vgrnn" in rows else float("nan")
            print(f"  {kind:>9}: {rows[kind]['train_peak_gb'] * 1024:7.0f} MB, {rows[kind]['epoch_s']:.2f} s/epoch, "
                  f"{ratio:.2f}x VGRNN", flush=True)


if __name__ == "__main__":
    main()
