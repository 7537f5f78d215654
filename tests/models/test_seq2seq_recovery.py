"""Seq2seq against the truth of the two-region simulator (slow: full fits)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from scipy.special import gammaln  # noqa: E402

from nwb_tavrnn.evaluation.decoding import compare_decoders, decoder_grid  # noqa: E402
from nwb_tavrnn.evaluation.region_prediction import HistoryGLM, MeanRate, bits_per_spike  # noqa: E402
from nwb_tavrnn.evaluation.splits import holdout_blocks  # noqa: E402
from nwb_tavrnn.io.region_pairs import read_region_pair  # noqa: E402
from nwb_tavrnn.models.seq2seq import Seq2seq  # noqa: E402
from nwb_tavrnn.steps.seq2seq import DECODING_INPUTS, DecodingOptions, latent_input, rate_features  # noqa: E402
from nwb_tavrnn.simulate.two_region import TwoRegionConfig, simulate_two_region, two_region_nwbfile  # noqa: E402

pytestmark = pytest.mark.slow


def test_seq2seq_recovers_the_planted_latent_and_the_target():
    session = simulate_two_region(TwoRegionConfig(n_trials=200), seed=0)
    data = read_region_pair(two_region_nwbfile(session), "hippocampus", "prefrontal", trials="trials",
                            window=(0.0, 2.0), labels="choice", bin_size=0.02)
    train_idx, test_idx, _ = holdout_blocks(data.starts, data.stops, 0.2)
    train, test = data.subset(train_idx), data.subset(test_idx)
    model = Seq2seq(latent_dim=4, lag=session.config.lag, device="cpu", seed=0, threads=2).fit(train)
    lag = model.meta_["lag_bins"]

    # latent recovery: CCA between the fitted latents and the true latent on the test segments
    from sklearn.cross_decomposition import CCA

    def pairs(part):  # fitted and true latents bin by bin, without the encoder's first bins (little history)
        z = model.transform(part).reshape(-1, 4)
        truth = session.latent_at(np.concatenate([part.bin_times(i) for i in range(part.n_segments)]))
        keep = np.tile(np.arange(part.n_bins) >= 5, part.n_segments)
        return z[keep], truth[keep]

    # the canonical directions from the training segments, the correlations on the test segments
    cca = CCA(n_components=2).fit(*pairs(train))
    a, b = cca.transform(*pairs(test))
    correlations = [float(np.corrcoef(a[:, k], b[:, k])[0, 1]) for k in range(2)]
    print("canonical correlations with the true latent:", np.round(correlations, 3))
    assert min(correlations) >= 0.9

    # target log-likelihood: >= 90 % of the way from the mean-rate model to the true rates
    reference = MeanRate(lag).fit(train)
    ll_ref = reference.log_likelihood(test)
    fine = np.linspace(0.0, test.bin_size, 11)[:-1] + test.bin_size / 20  # midpoint rule inside each bin
    ll_true = np.zeros(test.n_target)
    for i in range(test.n_segments):
        t = test.bin_times(i)[:, None] - test.bin_size / 2 + fine[None, :]
        rate = session.target_rates(t.ravel()).reshape(test.n_bins, len(fine), -1).mean(1) * test.bin_size
        y = test.batch([i])[1][0].astype(float)
        ll_true += (y[lag:] * np.log(rate[lag:]) - rate[lag:] - gammaln(y[lag:] + 1)).sum(0)
    b_true = bits_per_spike(ll_true, ll_ref, test, lag)
    b_model = bits_per_spike(model.log_likelihood(test), ll_ref, test, lag)
    b_glm = bits_per_spike(HistoryGLM(lag).fit(train).log_likelihood(test), ll_ref, test, lag)
    print(f"bits/spike: true {b_true:.4f}, seq2seq {b_model:.4f} ({b_model / b_true:.1%} of the way), "
          f"history GLM {b_glm:.4f}")
    assert b_model >= 0.9 * b_true

    # behaviour: latents (a Seq2seq refitted per fold) vs the same decoders on rates, same folds
    acc = decode(data, {**model.get_params(), "epochs": 150})
    print("decoding balanced accuracy:", acc)
    # no worse than before the dynamics features (0.930 accuracy from chunk means through a logistic regression)
    assert acc["linear_latents"] >= 0.9
    for competitor in ("random_forest_source_rates", "mlp_source_rates"):
        assert acc["linear_latents"] >= acc[competitor], competitor


def decode(data, params) -> dict[str, float]:
    """Out-of-fold balanced accuracy of the step's default grid (no label null: its calibration is
    tested on its own, and the null's refits would only repeat these fits)."""
    options = DecodingOptions()
    features = {"latents": latent_input(data, params, options.latent_features, options.chunks),
                "source_rates": rate_features(data, options.chunks, "source"),
                "source_target_rates": rate_features(data, options.chunks)}
    result = compare_decoders(features, data.labels, data.starts, data.stops, methods=decoder_grid(DECODING_INPUTS),
                              n_permutations=0)
    return {m: round(result.metric(m, "balanced_accuracy"), 3) for m in result.methods}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_latents_decode_a_label_that_lives_in_the_dynamics(seed):
    """Blocks of trials whose latent rotates twice as fast: where the latent is carries nothing, how
    it moves carries the label. The latents' dynamics summaries must match or beat the same decoders
    on the source's rates, and come within 0.05 of them on both regions' rates."""
    session = simulate_two_region(TwoRegionConfig(n_trials=200, label_rule="speed"), seed=seed)
    data = read_region_pair(two_region_nwbfile(session), "hippocampus", "prefrontal", trials="trials",
                            window=(0.0, 2.0), labels="choice", bin_size=0.02)
    acc = decode(data, {"latent_dim": 4, "lag": session.config.lag, "device": "cpu", "seed": 0, "threads": 2,
                        "epochs": 150})
    print(f"seed {seed}, speed label, balanced accuracy:", acc)
    latent = acc["linear_latents"]
    for family in ("random_forest", "mlp"):
        assert latent >= acc[f"{family}_source_rates"], family
        assert latent >= acc[f"{family}_source_target_rates"] - 0.05, family
