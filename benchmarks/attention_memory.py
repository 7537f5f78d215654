"""What autograd keeps for the backward of one TAVRNN forward pass, against plain VGRNN's, as the
number of windows grows: the temporal attention must not stack its memory at every window
(that kept O(W^2 N h): about 4x VGRNN's at 200 windows of 200 nodes); within 1.5x of VGRNN's is
linear in the windows.

Moved out of tests/models/test_modules.py (76 s of the default suite on 2 cores at 200 x 200);
the test keeps the same check at a size where a stacked memory would still be several times
VGRNN's (see ``test_attention_memory_stays_within_vgrnns``).

    PYTHONPATH=. python benchmarks/attention_memory.py [--nodes 200] [--windows 25 50 100 200] [--threads 1]

Prints, per size, the MB kept for vgrnn, tavrnn (``attention="full"``) and faithful
(``attention_memory="attended"``), their ratios to vgrnn and the seconds of the pass; exits 1 if
a ratio passes 1.5.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

LIMIT = 1.5

VARIANTS = {"vgrnn": dict(attention=None), "tavrnn": dict(attention="full"),
            "faithful": dict(attention="full", attention_memory="attended")}


def saved_for_backward_mb(net, seq) -> float:
    """Bytes autograd keeps for the backward of one forward pass (distinct storages), in MB."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(seq, generator=torch.Generator().manual_seed(0))
    out["loss"].backward()
    return sum(seen.values()) / 1e6


def random_sequence(n: int, w: int, seed: int = 0):
    """``w`` windows of symmetric |r|-like matrices of ``n`` nodes, thresholded at 0.6 (features: |r|)."""
    from nwb_tavrnn.models.graphs import prepare_sequence

    rng = np.random.default_rng(seed)
    corr = rng.uniform(0, 0.7, (w, n, n)).astype(np.float32)
    corr = (corr + corr.transpose(0, 2, 1)) / 2
    corr[:, np.arange(n), np.arange(n)] = 1
    return prepare_sequence((corr >= 0.6).astype(np.float32), "correlation", correlation=corr)


def memory_by_variant(n: int, w: int) -> dict[str, float]:
    """MB kept for the backward by each of :data:`VARIANTS` on one random sequence."""
    import torch

    from nwb_tavrnn.models.tavrnn.modules import VGRNNNet

    seq = random_sequence(n, w)
    sizes = {}
    for name, kwargs in VARIANTS.items():
        torch.manual_seed(0)
        sizes[name] = saved_for_backward_mb(VGRNNNet(seq.x_dim, **kwargs), seq)
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[200])
    parser.add_argument("--windows", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"{'nodes':>5} {'windows':>7} {'vgrnn MB':>9} {'tavrnn MB':>9} {'faithful MB':>11} "
          f"{'tavrnn/vgrnn':>12} {'faithful/vgrnn':>14} {'seconds':>7}")
    worst = 0.0
    for n in args.nodes:
        for w in args.windows:
            started = time.perf_counter()
            sizes = memory_by_variant(n, w)
            seconds = time.perf_counter() - started
            ratios = [sizes[k] / sizes["vgrnn"] for k in ("tavrnn", "faithful")]
            worst = max(worst, *ratios)
            print(f"{n:>5} {w:>7} {sizes['vgrnn']:>9.1f} {sizes['tavrnn']:>9.1f} {sizes['faithful']:>11.1f} "
                  f"{ratios[0]:>12.2f} {ratios[1]:>14.2f} {seconds:>7.1f}")
    print(f"largest ratio {worst:.2f} (limit {LIMIT})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
