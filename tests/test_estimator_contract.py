"""Every registered model keeps the same estimator contract (scikit-learn's ``check_estimator`` in
spirit), on tiny seeded data of its kind: fit, then transform or predict/score; save/load and NWB
provenance round trips give identical outputs; parameters round-trip through the constructor;
two fits under one seed are identical (and another seed differs); unfitted use raises
NotFittedError; check_params names the parameter at fault; presets and their error.

A model added to the registry fails :func:`test_every_registered_model_has_a_case` until it has a
case here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.errors import ParameterError  # noqa: E402
from nwb_tavrnn.models import Estimator, NotFittedError, available_models, get_model  # noqa: E402

#: Training parameters every estimator has, with a value each must refuse.
SHARED_BAD = [("epochs", 0), ("lr", -1.0), ("patience", 0), ("clip_grad_norm", 0.0), ("seed", -1),
              ("device", "tpu")]


def _graphs() -> Any:
    from nwb_tavrnn.testing import mock_dynamic_connectivity

    return mock_dynamic_connectivity(n_windows=4, n_nodes=10, seed=0)


def _trials() -> Any:
    from nwb_tavrnn.io.trials import read_trial_spikes
    from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision

    session = simulate_decision(DecisionConfig(n_trials=30, neurons=(2, 2, 2), threshold=12), 7)
    return read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)


def _region_pairs() -> Any:
    from nwb_tavrnn.io.region_pairs import read_region_pair
    from nwb_tavrnn.simulate.two_region import TwoRegionConfig, simulate_two_region, two_region_nwbfile

    session = simulate_two_region(TwoRegionConfig(n_trials=16, n_source=5, n_target=4), seed=1)
    return read_region_pair(two_region_nwbfile(session), "hippocampus", "prefrontal", trials="trials",
                            window=(0.0, 1.0), labels="choice", bin_size=0.05)


def _embeddings(model: Any, data: Any) -> dict[str, np.ndarray]:
    out = model.transform(data)
    return {"mean": out.mean, "log_variance": out.log_variance, "attention": out.attention,
            "history_mean": out.history_mean, "history_hidden": out.history_hidden,
            "loss": np.array(list(model.loss(data).values()))}


def _trial_predictions(model: Any, data: Any) -> dict[str, np.ndarray]:
    pred = model.predict(data)
    return {"choice_probability": pred.choice_probability, "rt_median": pred.rt_median,
            "log_likelihood_neural": pred.log_likelihood_neural,
            "log_likelihood_behaviour": pred.log_likelihood_behaviour, "score": np.array(model.score(data))}


def _segment_outputs(model: Any, data: Any) -> dict[str, np.ndarray]:
    return {"latents": model.transform(data), "rates": model.predict(data), "score": np.array(model.score(data))}


@dataclass
class Case:
    """How to try one registered model: its data, small parameters, its outputs and what it refuses."""

    data: Callable[[], Any]
    params: dict[str, Any]
    outputs: Callable[[Any, Any], dict[str, np.ndarray]]
    #: The unfitted-use probes: methods called with the data alone.
    methods: tuple[str, ...]
    #: (parameter, a value it must refuse) beyond :data:`SHARED_BAD`.
    bad: list[tuple[str, Any]] = field(default_factory=list)


_GRAPH_PARAMS = dict(h_dim=8, z_dim=4, epochs=3, device="cpu")
_GRAPH_BAD = [("attention", 0), ("decoder", "x"), ("embeddings", "x"), ("h_dim", 0), ("min_delta", -1.0)]

CASES: dict[str, Case] = {
    "tavrnn": Case(_graphs, _GRAPH_PARAMS, _embeddings, ("transform", "loss"), _GRAPH_BAD),
    "vgrnn": Case(_graphs, _GRAPH_PARAMS, _embeddings, ("transform", "loss"), _GRAPH_BAD),
    "nnpoisson": Case(_trials, dict(stimulus_sizes=(6, 6), time_size=6, neural_size=6, behaviour_size=6, epochs=3,
                                    n_batches=2, device="cpu", threads=1),
                      _trial_predictions, ("predict", "score", "loss"),
                      [("warp", "sideways"), ("behaviour_likelihood", "reference"), ("validation_fraction", 0.7),
                       ("objective", "both"), ("n_batches", 0), ("threads", 0)]),
    "seq2seq": Case(_region_pairs, dict(latent_dim=2, hidden=6, epochs=3, lag=0.1, device="cpu", threads=1),
                    _segment_outputs, ("transform", "predict", "score", "log_likelihood"),
                    [("latent_dim", 0), ("batch_size", 0), ("validation_fraction", 0.7), ("threads", 0)]),
}

MODELS = sorted(CASES)


@pytest.fixture(scope="module")
def data() -> dict[Callable[[], Any], Any]:
    """Each kind of data built once (the graph models share theirs)."""
    return {}


def _data_for(cache: dict, name: str) -> Any:
    make = CASES[name].data
    if make not in cache:
        cache[make] = make()
    return cache[make]


@pytest.fixture(scope="module")
def fitted(data, one_torch_thread) -> Callable[[str], tuple[Any, Any, dict[str, np.ndarray]]]:
    """``fitted(name)``: the model fitted once on its data, that data and its outputs."""
    done: dict[str, tuple[Any, Any, dict[str, np.ndarray]]] = {}

    def get(name: str) -> tuple[Any, Any, dict[str, np.ndarray]]:
        if name not in done:
            d = _data_for(data, name)
            model = get_model(name)(**CASES[name].params)
            assert model.fit(d) is model
            done[name] = (model, d, CASES[name].outputs(model, d))
        return done[name]

    return get


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_every_registered_model_has_a_case():
    assert set(available_models()) == set(CASES)


@pytest.mark.parametrize("name", MODELS)
def test_fit_then_outputs(name, fitted):
    model, _, out = fitted(name)
    cls = get_model(name)
    assert isinstance(model, Estimator) and model.model_name == name and model.is_fitted
    assert callable(getattr(cls, "transform", None)) or (callable(getattr(cls, "predict", None))
                                                         and callable(getattr(cls, "score", None)))
    assert len(model.loss_curve_) == model.n_epochs_ == CASES[name].params["epochs"]
    assert isinstance(model.validation_curve_, list) and isinstance(model.stopped_early_, bool)
    assert model.seed_ == 0
    for key, value in out.items():
        assert np.isfinite(value).any(), key


@pytest.mark.parametrize("name", MODELS)
def test_save_load_round_trip(name, fitted, tmp_path):
    model, d, out = fitted(name)
    model.save(tmp_path / "model.pt")
    loaded = Estimator.load(tmp_path / "model.pt", device="cpu")
    assert type(loaded) is type(model)
    # the file holds the parameters as JSON (a tuple comes back a list), as provenance does
    assert json.dumps(loaded.get_params(), sort_keys=True) == json.dumps(model.get_params(), sort_keys=True)
    assert loaded.loss_curve_ == model.loss_curve_
    _assert_same(CASES[name].outputs(loaded, d), out)


@pytest.mark.parametrize("name", MODELS)
def test_provenance_round_trip(name, fitted):
    model, d, out = fitted(name)
    provenance = model.to_nwb(d)[0]
    assert provenance.model_name == name
    rebuilt = get_model(name).from_provenance(provenance, device="cpu")
    _assert_same(CASES[name].outputs(rebuilt, d), out)


@pytest.mark.parametrize("name", MODELS)
def test_params_round_trip(name, fitted):
    cls = get_model(name)
    for est in (cls(**CASES[name].params), fitted(name)[0]):
        params = est.get_params()
        assert cls(**params).get_params() == params
        assert cls().set_params(**params).get_params() == params
        assert repr(est).startswith(f"{cls.__name__}(")
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        cls().set_params(nope=1)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_fit(name, fitted, one_torch_thread):
    model, d, out = fitted(name)
    cls = get_model(name)
    again = cls(**CASES[name].params).fit(d)
    assert again.loss_curve_ == model.loss_curve_ and again.validation_curve_ == model.validation_curve_
    for (key, a), b in zip(model.module_.state_dict().items(), again.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)
    _assert_same(CASES[name].outputs(again, d), out)
    other = cls(**{**CASES[name].params, "seed": 1, "epochs": 1}).fit(d)
    assert other.loss_curve_[0] != model.loss_curve_[0]


@pytest.mark.parametrize("name", MODELS)
def test_unfitted_use_raises_not_fitted(name, data, tmp_path):
    d = _data_for(data, name)
    est = get_model(name)(**CASES[name].params)
    assert not est.is_fitted
    for method in (*CASES[name].methods, "to_nwb"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(est, method)(d)
    with pytest.raises(NotFittedError):
        est.save(tmp_path / "model.pt")
    assert issubclass(NotFittedError, RuntimeError)  # what callers caught before it had a name


@pytest.mark.parametrize("name", MODELS)
def test_check_params_names_the_parameter(name, data):
    cls = get_model(name)
    est = cls(**CASES[name].params)
    assert est.check_params() is est
    for param, value in [*SHARED_BAD, *CASES[name].bad]:
        with pytest.raises(ParameterError, match=param):
            cls(**{**CASES[name].params, param: value}).check_params()
    # fit checks them first, before it reads the data
    with pytest.raises(ParameterError, match="epochs"):
        cls(**{**CASES[name].params, "epochs": 0}).fit(_data_for(data, name))


@pytest.mark.parametrize("name", MODELS)
def test_presets(name):
    cls = get_model(name)
    assert cls.PRESETS
    for preset, values in cls.PRESETS.items():
        est = cls.preset(preset, epochs=7)
        assert isinstance(est, cls) and est.epochs == 7
        assert {k: v for k, v in est.get_params().items() if k in values and k != "epochs"} == \
            {k: v for k, v in values.items() if k != "epochs"}
        est.check_params()
    with pytest.raises(ParameterError, match=r"unknown preset 'nope'; choose from \["):
        cls.preset("nope")
