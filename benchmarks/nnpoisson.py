"""NNPoisson: time to the reference's loss (value and gradient) on the synthetic decision task, our
vectorised pass against a loop in the reference's style.

The reference (``expr/losses.py``) takes one step per (region, mini-batch): it evaluates the model
on that region's spikes in the batch, gets the intensity by differentiating the cumulative
intensity with respect to time (a GradientTape), adds the behaviour term on all trials, and
differentiates the result. The loop below does exactly that in torch (autograd for λ, one region
and one batch at a time); ours evaluates every region, batch and the behaviour term in one pass
with forward-mode intensities. The faithful preset's training epoch, one vectorised pass per batch
that recomputes the behaviour term on all trials as the reference does, is timed too. Same weights, same data: the script checks both give the same total
loss and gradients before printing the times and their ratio.

    python benchmarks/nnpoisson.py [--trials 400] [--batches 10] [--threads 2] [--repeats 3]

``--case readouts``: the training time per epoch and the peak memory (resident set of a fresh
process per fit) of the per-unit read-out (the corrected default) against the pooled one, on the
mixed-tuning task with 400 trials and 200 units:

    python benchmarks/nnpoisson.py --case readouts [--units 200] [--epochs 20]

``--case recovery``: the per-unit read-out against the generating model on the mixed-tuning task
(one session per seed: the first 600 trials train, the last 400 test), beside the per-unit PSTH;
and on the homogeneous (regional) task, the per-unit read-out against the pooled one:

    python benchmarks/nnpoisson.py --case recovery [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

import numpy as np
import torch

from nwb_tavrnn.io.trials import read_trial_spikes
from nwb_tavrnn.models.nnpoisson import NNPoissonNet
from nwb_tavrnn.models.nnpoisson.likelihood import TrialTensors, end_times, reference_losses, reference_step_loss
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision


def loop_loss(net: NNPoissonNet, data: TrialTensors, batches: list[torch.Tensor]) -> torch.Tensor:
    """Σ over regions and batches of the reference's step losses, one (region, batch) at a time,
    intensities by autograd as the reference's GradientTape does."""
    W, R = data.window, net.n_regions
    total = torch.zeros(())
    all_trials = torch.arange(data.n_trials)
    for k in range(R):
        for batch in batches:
            # neural term of region k on the batch
            rt, choice = data.rt[batch], data.choice[batch]
            t_end = end_times(rt, choice, W)
            c = W / t_end
            sel = torch.isin(data.spike_trial, batch) & (data.spike_region == k)
            trial_of = data.spike_trial[sel]
            pos = torch.searchsorted(batch, trial_of)
            t = data.spike_time[sel].clone().requires_grad_(True)
            keep = t.detach() < t_end[pos]
            a, r = net.stimulus_terms(data.stimulus[trial_of])
            big, _ = net.latent(a, r, c[pos] * t, rate=False)
            lam_big = big[:, k] / c[pos]
            (lam,) = torch.autograd.grad(lam_big.sum(), t, create_graph=True)
            a2, r2 = net.stimulus_terms(data.stimulus[batch])
            end_big, _ = net.latent(a2, r2, c * t_end, rate=False)
            comp = (end_big[:, k] / c * data.neurons[k]).sum()
            neural = -(torch.log(1e-5 + lam[keep]).sum() - comp) / (200.0 * R)
            # behaviour term on all trials (every step, as the reference)
            brt, bch = data.rt[all_trials], data.choice[all_trials]
            bt_end = end_times(brt, bch, W)
            bc = W / bt_end
            responded = (bch >= 0) & torch.isfinite(brt) & (brt < W)
            tau = torch.where(responded, brt, torch.full_like(brt, W)).clone().requires_grad_(True)
            a3, r3 = net.stimulus_terms(data.stimulus)
            lat, _ = net.latent(a3, r3, bc * tau, rate=False)
            heads, _ = net.actions(lat)
            behaviour = torch.zeros(())
            lat_w, _ = net.latent(a3, r3, bc * W, rate=False)
            heads_w, _ = net.actions(lat_w)
            for act in range(net.n_actions):
                (rate,) = torch.autograd.grad((heads[:, act] / bc).sum(), tau, create_graph=True)
                chose = responded & (bch == act)
                behaviour = behaviour - (torch.log(1e-5 + rate[chose]).sum() - (heads_w[:, act] / bc).sum()) / 200.0
            total = total + neural + 0.01 * behaviour
    return total


def vectorised_loss(net: NNPoissonNet, data: TrialTensors, n_batches: int) -> torch.Tensor:
    """The same sum in one pass: Σ_k L_k(all trials) + 0.01 · R · batches · Σ_a L_a."""
    parts = reference_losses(net, data, torch.arange(data.n_trials))
    return parts["neural"].sum() + 0.01 * net.n_regions * n_batches * parts["behaviour"]


def epoch_loss(net: NNPoissonNet, data: TrialTensors, batches: list[torch.Tensor]) -> torch.Tensor:
    """What one epoch of ``NNPoisson.preset("faithful").fit`` evaluates: per batch, every region's
    step loss and the behaviour term on all trials again (the reference's W3), summed here so the
    total is the loop's."""
    total = torch.zeros(())
    for batch in batches:
        total = total + reference_step_loss(net, data, batch)
    return total


def timed(fn, repeats: int) -> tuple[float, torch.Tensor, list[torch.Tensor]]:
    best, value, grads = np.inf, None, None
    for _ in range(repeats):
        net.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss = fn()
        loss.backward()
        best = min(best, time.perf_counter() - start)
        value, grads = loss.detach(), [p.grad.clone() for p in net.parameters()]
    return best, value, grads


def _fit_child(readout: str, trials: int, units: int, epochs: int, threads: int, queue) -> None:
    """One fit in a fresh process: seconds per epoch and the process's peak resident memory."""
    from nwb_tavrnn.models.nnpoisson import NNPoisson

    per_region = [units // 3 + (i < units % 3) for i in range(3)]
    session = simulate_decision(DecisionConfig(n_trials=trials, neurons=tuple(per_region), tuning="mixed"), seed=0)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = NNPoisson(readout=readout, components=2 if readout == "unit" else 1, epochs=epochs, patience=None,
                      device="cpu", threads=threads, seed=0)
    start = time.perf_counter()
    model.fit(data)
    seconds = (time.perf_counter() - start) / model.n_epochs_
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    queue.put((seconds, peak / 1024, before / 1024, len(data.spike_time)))


def readouts(args: argparse.Namespace) -> None:
    ctx = multiprocessing.get_context("spawn")  # a fresh process per fit: peak memory is the fit's own
    rows = {}
    for readout in ("region", "unit"):
        queue = ctx.Queue()
        child = ctx.Process(target=_fit_child, args=(readout, args.trials, args.units, args.epochs, args.threads,
                                                     queue))
        child.start()
        rows[readout] = queue.get()
        child.join()
    spikes = rows["unit"][3]
    print(f"mixed-tuning decision task: {args.trials} trials, {args.units} units, {spikes} spikes in the windows, "
          f"{args.epochs} epochs, {args.threads} threads")
    print("| read-out | s / epoch | peak RSS (MiB) | of which before the fit |")
    print("|---|---|---|---|")
    for readout, (sec, peak, before, _) in rows.items():
        print(f"| {readout} | {sec:.3f} | {peak:.0f} | {before:.0f} |")
    print(f"per-unit / pooled time per epoch: {rows['unit'][0] / rows['region'][0]:.2f}x")


def _recovery_scores(model, test, train, truth=None) -> dict[str, float]:
    """Per-unit held-out bits/spike (against per-unit rates of the training trials), choice
    accuracy, the classes predicted and, given the truth, the largest and median relative L2 error
    of the per-unit intensities over units × conditions."""
    from nwb_tavrnn.evaluation import point_process as pp

    reference = pp.HomogeneousPoisson(per="unit").fit(train)
    bits = pp.unit_bits(model, test, reference)
    out = {"bits": bits.overall}
    if hasattr(model, "choice_probabilities"):
        probs = model.choice_probabilities(test)
        out["accuracy"] = pp.choice_accuracy(probs, test).accuracy
        out["classes"] = len(np.unique(probs.argmax(1)))
    if truth is not None and hasattr(model, "unit_intensity_curves"):
        grid = np.linspace(0.0, test.window, 200)
        stimuli, _ = test.conditions()
        fitted, true = model.unit_intensity_curves(stimuli, grid), truth.unit_intensity_curves(stimuli, grid)
        error = np.linalg.norm(fitted - true, axis=2) / np.linalg.norm(true, axis=2)
        out["l2_max"], out["l2_median"] = float(error.max()), float(np.median(error))
    return out


def recovery(args: argparse.Namespace) -> None:
    from nwb_tavrnn.evaluation import point_process as pp
    from nwb_tavrnn.models.nnpoisson import NNPoisson

    print("mixed tuning (per seed: 600 training trials, 400 test trials of the same session, 8 units per region)")
    print("| seed | true bits/spike | nnpoisson | psth_unit | true accuracy | nnpoisson | classes | ceiling | "
          "rel. L2 max | median | fit s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        session = simulate_decision(DecisionConfig(n_trials=1000, tuning="mixed"), seed=seed)
        data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
        train, test = data.subset(np.arange(600)), data.subset(np.arange(600, 1000))
        truth = session.true_model()
        start = time.perf_counter()
        model = NNPoisson(device="cpu", seed=0, threads=args.threads).fit(train)
        seconds = time.perf_counter() - start
        t, m = _recovery_scores(truth, test, train), _recovery_scores(model, test, train, truth)
        psth = _recovery_scores(pp.PSTHPoisson(per="unit").fit(train), test, train)
        print(f"| {seed} | {t['bits']:.4f} | {m['bits']:.4f} | {psth['bits']:.4f} | {t['accuracy']:.3f} | "
              f"{m['accuracy']:.3f} | {m['classes']} | {pp.condition_ceiling(test):.3f} | {m['l2_max']:.3f} | "
              f"{m['l2_median']:.3f} | {seconds:.0f} |", flush=True)
    print("\nregional (homogeneous) tuning, seed 0: the per-unit read-out against the pooled one")
    session = simulate_decision(DecisionConfig(n_trials=1000), seed=0)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
    train, test = data.subset(np.arange(600)), data.subset(np.arange(600, 1000))
    truth = _recovery_scores(session.true_model(), test, train)
    print(f"true: {truth['bits']:.4f} bits/spike per unit, choice accuracy {truth['accuracy']:.3f}")
    for readout in ("region", "unit"):
        model = NNPoisson(device="cpu", seed=0, threads=args.threads, readout=readout,
                          components=1 if readout == "region" else 2).fit(train)
        r = _recovery_scores(model, test, train)
        print(f"{readout} read-out: {r['bits']:.4f} bits/spike per unit, choice accuracy {r['accuracy']:.3f}",
              flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["loss", "readouts", "recovery"], default="loss")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (recovery case)")
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=200, help="units (readouts case)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fit (readouts case)")
    args = parser.parse_args()
    if args.case in ("readouts", "recovery"):
        {"readouts": readouts, "recovery": recovery}[args.case](args)
        raise SystemExit(0)
    torch.set_num_threads(args.threads)
    session = simulate_decision(DecisionConfig(n_trials=args.trials), seed=0)
    trials = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
    data = TrialTensors.from_trials(trials, trials.stimulus, "cpu")
    torch.manual_seed(0)
    net = NNPoissonNet(trials.stimulus.shape[1], trials.n_regions, trials.n_actions, rt_layer=True)  # reference sizes
    perm = torch.randperm(trials.n_trials, generator=torch.Generator().manual_seed(0))
    batches = [b.sort().values for b in torch.tensor_split(perm, args.batches)]
    print(f"synthetic decision task: {trials.n_trials} trials, {len(trials.spike_time)} spikes, "
          f"{trials.n_regions} regions, {args.batches} batches, {args.threads} threads")
    t_loop, v_loop, g_loop = timed(lambda: loop_loss(net, data, batches), args.repeats)
    t_vec, v_vec, g_vec = timed(lambda: vectorised_loss(net, data, args.batches), args.repeats)
    t_epoch, v_epoch, g_epoch = timed(lambda: epoch_loss(net, data, batches), args.repeats)
    rel = max(abs(float(v_loop - v)) / abs(float(v_loop)) for v in (v_vec, v_epoch))
    grad_rel = max(float((a - b).norm() / max(a.norm(), 1e-12)) for g in (g_vec, g_epoch) for a, b in zip(g_loop, g))
    print(f"loss: loop {float(v_loop):.6f}, vectorised {float(v_vec):.6f} (relative difference {rel:.1e}); "
          f"largest relative gradient difference {grad_rel:.1e}")
    if rel > 1e-4 or grad_rel > 1e-3:
        raise SystemExit("the two computations disagree")
    print(f"time to the loss and its gradient: reference-style loop {t_loop:.3f} s; one vectorised pass "
          f"{t_vec:.3f} s ({t_loop / t_vec:.1f}x); a faithful training epoch as fit runs it (one pass per batch, "
          f"the behaviour term on all trials each time) {t_epoch:.3f} s ({t_loop / t_epoch:.1f}x)")
