"""NNPoisson: the network's intensities, the reference's loss and the corrected likelihood against an
independent re-implementation, the reference's RT leak, fitting and NWB round trips (save/load,
parameters and determinism: tests/test_estimator_contract.py, for every model)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.io.trials import read_trial_spikes  # noqa: E402
from nwb_tavrnn.models.nnpoisson import NNPoisson, NNPoissonNet  # noqa: E402
from nwb_tavrnn.models.nnpoisson.likelihood import (  # noqa: E402
    LossSettings,
    TrialTensors,
    corrected_nll,
    evaluate,
    reference_losses,
    warp_factors,
)
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision  # noqa: E402

from . import nnpoisson_reference as ref  # noqa: E402


def _trials(n_trials=30, seed=0, **cfg):
    cfg = {"n_trials": n_trials, "neurons": (2, 2, 2), "threshold": 12, **cfg}
    session = simulate_decision(DecisionConfig(**cfg), seed)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
    return session, data


def _per_trial_spikes(data):
    return [[data.spike_time[(data.spike_trial == j) & (data.spike_region == k)] for k in range(data.n_regions)]
            for j in range(data.n_trials)]


def _random_net(n_features, n_regions, n_actions, seed=0, **kw):
    torch.manual_seed(seed)
    net = NNPoissonNet(n_features, n_regions, n_actions, **kw)
    with torch.no_grad():  # move biases off zero so every path is exercised
        for name, p in net.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.3)
    return net


# -- the network ---------------------------------------------------------------------------------
def test_forward_mode_rates_match_autograd_and_are_monotone():
    net = _random_net(3, 4, 2, rt_layer=True, region_scale=[1.0, 2.0, 0.5, 3.0]).double()
    stim = torch.randn(5, 3, dtype=torch.float64)
    a, r = net.stimulus_terms(stim)
    trial = torch.arange(5).repeat_interleave(40)
    u = torch.linspace(0.0, 3.0, 40, dtype=torch.float64).repeat(5).requires_grad_(True)
    big, dbig = net.latent(a[trial], r[trial], u)
    act, dact = net.actions(big, dbig)
    for out, d in ((big, dbig), (act, dact)):
        for col in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[:, col].sum(), u, retain_graph=True)
            np.testing.assert_allclose(d[:, col].detach().numpy(), g.numpy(), rtol=1e-10, atol=1e-12)
    # monotone in time for every trial, region and action
    assert (dbig >= 0).all() and (dact >= 0).all()
    assert (big.reshape(5, 40, -1).diff(dim=1) >= -1e-12).all()


def test_projection_keeps_weights_non_negative():
    net = _random_net(2, 3, 2)
    with torch.no_grad():
        net.out.weight.sub_(1.0)
    net.after_step()
    for name in net.NON_NEGATIVE:
        assert (net.get_parameter(name) >= 0).all()


# -- golden tests against the independent re-implementation ---------------------------------------
def test_reference_loss_matches_independent_implementation():
    _, data = _trials(24, seed=3, window=0.6)
    # some responses after the window and no-response trials, as in the reference's data
    assert (data.choice >= 0).any()
    data.choice[:3] = -1
    data.rt[:3] = np.nan
    net = _random_net(data.stimulus.shape[1], data.n_regions, data.n_actions, seed=1, stimulus_sizes=(10, 10),
                      time_size=10, neural_size=10, behaviour_size=10, rt_layer=True).double()
    tensors = TrialTensors.from_trials(data, data.stimulus, "cpu")
    tensors.spike_time, tensors.rt, tensors.stimulus = (tensors.spike_time.double(), tensors.rt.double(),
                                                         tensors.stimulus.double())
    batch = np.array([1, 4, 5, 9, 17, 20])
    ours = reference_losses(net, tensors, torch.as_tensor(batch))
    w = ref.weights_from(net)
    neural, behaviour = ref.reference_loss(w, data.stimulus, _per_trial_spikes(data), data.neurons, data.choice,
                                           data.rt, data.window, batch=batch)
    np.testing.assert_allclose(ours["neural"].detach().numpy(), neural, rtol=1e-7)
    np.testing.assert_allclose(float(ours["behaviour"].detach()), behaviour, rtol=1e-7)


def test_corrected_likelihood_matches_independent_implementation():
    _, data = _trials(20, seed=4, window=0.8)
    data.choice[:2] = -1
    data.rt[:2] = np.nan
    net = _random_net(1, data.n_regions, data.n_actions, seed=2, region_scale=[3.0, 5.0, 2.0]).double()
    tensors = TrialTensors.from_trials(data, data.stimulus, "cpu")
    tensors.spike_time, tensors.rt, tensors.stimulus = (tensors.spike_time.double(), tensors.rt.double(),
                                                         tensors.stimulus.double())
    out = corrected_nll(net, tensors, torch.arange(data.n_trials), LossSettings())
    w = ref.weights_from(net)
    neural, behaviour = ref.corrected_nll(w, data.stimulus, _per_trial_spikes(data), data.neurons, data.choice,
                                          data.rt, data.window)
    np.testing.assert_allclose(out["neural"].detach().numpy(), neural, rtol=1e-7)
    np.testing.assert_allclose(float(out["behaviour"].detach()), behaviour, rtol=1e-7)
    np.testing.assert_allclose(float(out["loss"].detach()), (neural.sum() + behaviour) / data.n_trials, rtol=1e-7)


def test_reference_warp_makes_the_rt_likelihood_independent_of_rt():
    """The reference's time warp u = (W / RT) t puts every response at u = W: the intensity of the
    chosen action at the response is the same whatever the RT, so RT leaks into its own likelihood.
    Without the warp it depends on RT, as a density of RT must."""
    net = _random_net(1, 3, 2, seed=5, rt_layer=True).double()
    W = 1.0
    rts = torch.tensor([0.12, 0.25, 0.39, 0.7, 0.95], dtype=torch.float64)
    n = len(rts)
    choice = torch.zeros(n, dtype=torch.int64)
    terms = net.stimulus_terms(torch.full((n, 1), 0.3, dtype=torch.float64))
    rates = {}
    for warp in ("reference", "none"):
        kappa, mult = warp_factors(LossSettings(warp=warp), rts, choice, W)
        out = evaluate(net, terms, torch.arange(n), rts, kappa, mult, rate=True, actions=True)
        rates[warp] = out["A_lambda"][:, 0].detach().numpy()
    np.testing.assert_allclose(rates["reference"], rates["reference"][0], rtol=1e-12)
    assert np.ptp(rates["none"]) > 1e-3 * np.abs(rates["none"]).max()


# -- the estimator --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    session, data = _trials(80, seed=7, neurons=(4, 4, 4))
    model = NNPoisson(epochs=8, n_batches=4, device="cpu", seed=3, threads=1).fit(data)
    return session, data, model


def test_fit_predict_shapes_and_probabilities(fitted):
    _, data, model = fitted
    pred = model.predict(data)
    assert pred.choice_probability.shape == (data.n_trials, data.n_actions + 1)
    np.testing.assert_allclose(pred.choice_probability.sum(1), 1.0, atol=1e-9)
    assert np.isfinite(pred.log_likelihood_neural).all() and np.isfinite(pred.log_likelihood_behaviour).all()
    # the competing-risks probabilities integrate the same intensities as the RT distribution
    grid = np.linspace(0, data.window, 256)
    cdf = model.rt_cdf(data, grid)
    np.testing.assert_allclose(cdf[:, -1], 1.0 - pred.choice_probability[:, -1], atol=1e-6)  # float32
    # the loss curve, validation curve and the per-trial likelihoods agree with the objective
    assert len(model.loss_curve_) == 8 and len(model.validation_curve_) == 8
    total = -(pred.log_likelihood_neural + pred.log_likelihood_behaviour).mean()
    np.testing.assert_allclose(model.loss(data)["loss"], total, rtol=1e-4)


def test_nwb_round_trip(fitted, tmp_path):
    from nwb_tavrnn.io.files import open_nwb, write_nwbfile
    from nwb_tavrnn.schema import ModelProvenance

    session, data, model = fitted
    grid = np.linspace(0, data.window, 50)
    stim, _ = data.conditions()

    nwbfile = decision_nwbfile(session)
    module = nwbfile.create_processing_module("nnpoisson", "NNPoisson results")
    for obj in model.to_nwb(data, trials_table=nwbfile.trials):
        module.add(obj)
    out = write_nwbfile(nwbfile, tmp_path / "out.nwb")
    with open_nwb(out) as f:
        proc = f.processing["nnpoisson"]
        prov = proc["ModelProvenance"]
        assert isinstance(prov, ModelProvenance)
        rebuilt = NNPoisson.from_provenance(prov, device="cpu")
        np.testing.assert_allclose(rebuilt.intensity_curves(stim, grid), model.intensity_curves(stim, grid),
                                   rtol=1e-6)
        table = proc["trial_predictions"].to_dataframe()
        assert len(table) == data.n_trials
        np.testing.assert_allclose(table["p_left"] + table["p_right"] + table["p_none"], 1.0, atol=1e-9)
        assert list(table["observed_choice"][:5]) == [data.actions[c] if c >= 0 else "none" for c in data.choice[:5]]
        curves = proc["intensities"].to_dataframe()
        assert len(curves) == len(stim) * data.n_regions
        row = curves.iloc[0]
        np.testing.assert_allclose(row["intensity"], model.intensity_curves(stim[:1], row["time"])[0, 0], rtol=1e-6)


def test_checkpoint_resume_gives_the_same_weights(tmp_path):
    _, data = _trials(40, seed=9)
    full = NNPoisson(epochs=6, n_batches=3, device="cpu", threads=1).fit(data)
    NNPoisson(epochs=3, n_batches=3, device="cpu", threads=1).fit(data, checkpoint_dir=tmp_path, checkpoint_every=3)
    resumed = NNPoisson(epochs=6, n_batches=3, device="cpu", threads=1).fit(data, checkpoint_dir=tmp_path,
                                                                         resume=True)
    for (k, a), b in zip(full.module_.state_dict().items(), resumed.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_faithful_scores_do_not_use_the_trials_own_rt():
    """The reference's warp needs each trial's RT; held-out scores and predictions must not."""
    from dataclasses import replace

    _, data = _trials(30, seed=11)
    model = NNPoisson.preset("faithful", epochs=2, device="cpu", threads=1).fit(data)
    halved = replace(data, rt=data.rt / 2)
    np.testing.assert_array_equal(model.region_log_intensity(halved), model.region_log_intensity(data))
    times = np.tile(np.linspace(0.1, data.window, 5), (data.n_trials, 1))
    np.testing.assert_array_equal(model.region_cumulative(halved, times), model.region_cumulative(data, times))
    np.testing.assert_array_equal(model.predict(halved).log_likelihood_neural, model.predict(data).log_likelihood_neural)


def test_faithful_validation_trials_stay_out_of_training():
    """The reference's behaviour term covers all trials; with a validation split, only the training ones."""
    from dataclasses import replace

    _, data = _trials(40, seed=12)
    kw = {"epochs": 3, "device": "cpu", "threads": 1, "validation_fraction": 0.25, "lr": 1e-2}
    first = NNPoisson.preset("faithful", **kw).fit(data)
    val = np.isin(data.trial_ids, first.meta_["validation_trial_ids"])
    flipped = replace(data, choice=np.where(val & (data.choice >= 0), 1 - data.choice, data.choice))
    second = NNPoisson.preset("faithful", **kw).fit(flipped)
    assert first.loss_curve_ == second.loss_curve_
    assert first.validation_curve_ != second.validation_curve_


# -- the per-unit read-out -----------------------------------------------------------------------
def test_per_unit_likelihood_with_an_observation_mask_matches_independent_implementation():
    """Λ_i = g_i Σ_j w_ij Λ̃_{k(i),j}, charged only in the trials unit i was observed in, against a
    float64 loop from the definition (finite-difference intensities)."""
    from dataclasses import replace

    _, data = _trials(12, seed=5, window=0.8)
    observed = np.ones((data.n_trials, data.n_units), dtype=bool)
    observed[:5, 0] = observed[7:, 3] = False  # unit 0 recorded late, unit 3 lost early
    keep = observed[data.spike_trial, data.spike_unit]
    data = replace(data, spike_time=data.spike_time[keep], spike_trial=data.spike_trial[keep],
                   spike_unit=data.spike_unit[keep], observed=observed)
    net = NNPoissonNet(1, data.n_regions, data.n_actions, readout="unit", components=2,
                       unit_region=data.unit_region, unit_scale=np.linspace(2.0, 9.0, data.n_units)).double()
    with torch.no_grad():
        net.unit_logits.normal_(0.0, 1.0)
        for name, p in net.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.3)
    tensors = TrialTensors.from_trials(data, data.stimulus, "cpu")
    tensors.spike_time, tensors.rt, tensors.stimulus = (tensors.spike_time.double(), tensors.rt.double(),
                                                         tensors.stimulus.double())
    out = corrected_nll(net, tensors, torch.arange(data.n_trials), LossSettings())
    w = ref.weights_from(net)
    gain = np.exp(w["unit_log_gain"])
    mix = np.exp(w["unit_logits"]) / np.exp(w["unit_logits"]).sum(1, keepdims=True)
    W, J = data.window, 2
    expected = np.zeros(data.n_regions)
    for j in range(data.n_trials):
        def unit_big(t, i, j=j):  # corrected: Λ(t) = Λ̃(t / W); the reference outputs are W Λ̃(t / W)
            comps = ref.reference_outputs(w, data.stimulus[j], t, 1.0 / W)[0] / W
            k = data.unit_region[i]
            return gain[i] * mix[i] @ comps[k * J:(k + 1) * J]

        for i in range(data.n_units):
            if not observed[j, i]:
                continue
            k = data.unit_region[i]
            for t in data.spike_time[(data.spike_trial == j) & (data.spike_unit == i)]:
                rate = (unit_big(t + ref.STEP, i) - unit_big(t - ref.STEP, i)) / (2 * ref.STEP)
                expected[k] -= np.log(rate)
            expected[k] += unit_big(W, i) - unit_big(0.0, i)
    np.testing.assert_allclose(out["neural"].detach().numpy(), expected, rtol=1e-7)


def test_per_unit_model_refuses_other_units_and_the_faithful_loss():
    from dataclasses import replace

    from nwb_tavrnn.errors import ParameterError

    _, data = _trials(16, seed=6)
    model = NNPoisson(device="cpu", epochs=2, seed=0).fit(data)
    swapped = replace(data, unit_ids=data.unit_ids[::-1].copy())
    with pytest.raises(ValueError, match="other units"):
        model.choice_probabilities(swapped)
    with pytest.raises(ParameterError, match="readout='region'"):
        NNPoisson.preset("faithful", readout="unit", device="cpu").fit(data)
    with pytest.raises(ParameterError, match="only 2 unit"):
        NNPoisson(components=3, device="cpu", epochs=1).fit(data)


def test_validation_is_a_contiguous_block_without_overlapping_training_trials():
    from dataclasses import replace

    from nwb_tavrnn.models.nnpoisson.splits import validation_block

    _, data = _trials(40, seed=7)
    data = replace(data, onsets=np.arange(40) * 1.5)  # 1 s windows every 1.5 s: no overlap
    train, val, gap = validation_block(data, 0.2)
    np.testing.assert_array_equal(val, np.arange(32, 40))
    assert len(gap) == 0 and len(train) == 32
    data = replace(data, onsets=np.arange(40) * 0.6)  # windows overlap their neighbours
    train, val, gap = validation_block(data, 0.2)
    np.testing.assert_array_equal(val, np.arange(32, 40))
    np.testing.assert_array_equal(gap, [31])  # its window [18.6, 19.6) reaches into the block's first (19.2)
    assert set(train) == set(range(31))


def test_obs_intervals_mark_units_unobserved_even_with_overlapping_windows():
    from pynwb.testing.mock.file import mock_NWBFile

    f = mock_NWBFile()
    rng = np.random.default_rng(1)
    f.add_unit_column("region", "brain region")
    f.add_unit(spike_times=np.sort(rng.uniform(0, 30, 600)), obs_intervals=[[0.0, 30.0]], region="CA1")
    f.add_unit(spike_times=np.sort(rng.uniform(0, 30, 600)), obs_intervals=[[0.0, 12.0]], region="CA1")  # lost at 12 s
    f.add_trial_column("contrast", "stimulus")
    f.add_trial_column("choice", "response")
    f.add_trial_column("rt", "reaction time")
    for j in range(14):  # 2.5 s windows every 2 s: neighbours overlap
        f.add_trial(start_time=2.0 * j, stop_time=2.0 * j + 1, contrast=float(j % 2), choice="a", rt=0.5)
    data = read_trial_spikes(f, ["contrast"], "choice", "rt", window=2.5)
    expected = np.array([2.0 * j + 2.5 <= 12.0 for j in range(14)])
    np.testing.assert_array_equal(data.observation()[:, 1], expected)
    assert data.observation()[:, 0].all()
    assert not np.isin(data.spike_trial[data.spike_unit == 1], np.flatnonzero(~expected)).any()
