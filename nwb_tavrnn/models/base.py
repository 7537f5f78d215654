"""The interface every registered model follows, and the parts they share (parameters, presets,
the fit skeleton, saving, loading, NWB provenance).

An estimator is configured by its constructor arguments only (scikit-learn style: ``get_params``,
``set_params``, ``preset``), learns in :meth:`fit`, and after fitting holds a torch module
(``module_``) whose construction depends only on the constructor arguments and :meth:`_fitted_meta`
(the sizes learnt from data). That is what lets :meth:`load` and :meth:`from_provenance` rebuild it
from a file.

Every ``fit`` runs the same skeleton (:meth:`Estimator._start_fit`, :meth:`~Estimator._draw_seed`,
:meth:`~Estimator._train_module`, :meth:`~Estimator._record_fit`); an estimator supplies its data
preparation, the sizes it learns (``meta``) and its loss (an :class:`~.training.Objective`).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from ..errors import ParameterError, require
from ._torch import deterministic, resolve_device, seed_everything, torch_threads, versions
from .training import EpochCallback, Objective, TrainingConfig, TrainingState, train

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

E = TypeVar("E", bound="Estimator")


class NotFittedError(RuntimeError):
    """The estimator was used before :meth:`~Estimator.fit` (or :meth:`~Estimator.load`).

    A ``RuntimeError``, what an unfitted estimator raised before this class existed, so callers
    catching that still catch it.
    """


class Estimator(ABC):
    """Base class of every registered model (see :mod:`nwb_tavrnn.models.registry`): graph models
    (TAVRNN, VGRNN), point-process models (NNPoisson) and region-to-region models (Seq2seq).

    Subclasses implement :meth:`fit` (on the shared skeleton), ``transform`` or
    ``predict``/``score``, :meth:`to_nwb`, :meth:`_validate` and :meth:`_build_module`, and name
    their :attr:`PRESETS`; this class gives them parameters, presets, ``check_params``,
    ``save``/``load`` and ``from_provenance``. ``tests/test_estimator_contract.py`` holds every
    registered model to this contract.
    """

    model_name: str = "base"

    #: Named parameter sets for :meth:`preset`; a parameter a preset does not name keeps its default.
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    #: Parameters that do not change a run's numbers, left out of its checkpoint identity: a run may
    #: be resumed with more epochs, on another device or with another thread count.
    _NOT_IN_IDENTITY: ClassVar[tuple[str, ...]] = ("epochs", "device", "threads")

    # -- parameters ---------------------------------------------------------------------------
    @classmethod
    def preset(cls: type[E], name: str, **overrides: Any) -> E:
        """An estimator with the parameters of the preset ``name`` (one of :attr:`PRESETS`);
        keywords override them.

        Raises
        ------
        ParameterError
            For an unknown name, listing the known ones.
        """
        if name not in cls.PRESETS:
            raise ParameterError(f"unknown preset {name!r}; choose from {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Change constructor arguments (checked by :meth:`check_params` or :meth:`fit`, not here).

        Raises
        ------
        ValueError
            For a name that is not a constructor argument.
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def check_params(self) -> Estimator:
        """Check every parameter now, as :meth:`fit` does first, and return the estimator.

        Raises
        ------
        ParameterError
            Naming the first parameter out of range, or a combination that cannot work.
        """
        self._validate()
        return self

    def _validate(self) -> None:
        """Refuse parameters out of range: each estimator checks its own, then calls
        :meth:`_check_training_params`."""

    def _check_training_params(self) -> None:
        """Refuse training parameters out of range; every estimator has these (``threads``: where it
        has one), so they are checked, and their messages written, once."""
        require(int(self.epochs) >= 1, f"epochs must be >= 1, got {self.epochs}")
        require(float(self.lr) > 0, f"lr must be positive, got {self.lr}")
        require(self.patience is None or int(self.patience) >= 1,
                f"patience must be a positive number of epochs (0 on the command line, None in Python: never "
                f"stop early), got {self.patience}")
        require(self.clip_grad_norm is None or float(self.clip_grad_norm) > 0,
                f"clip_grad_norm must be positive or None, got {self.clip_grad_norm}")
        require(self.seed is None or int(self.seed) >= 0, f"seed must be >= 0, got {self.seed}")
        threads = getattr(self, "threads", None)
        require(threads is None or int(threads) >= 1, f"threads must be >= 1, got {threads}")
        resolve_device(self.device)  # an unknown or absent device fails here, before any work

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "module_", None) is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() or load() first")

    # -- what subclasses provide --------------------------------------------------------------
    @abstractmethod
    def fit(self, data: Any, *args: Any, **kwargs: Any) -> Estimator: ...

    @abstractmethod
    def to_nwb(self, data: Any, *args: Any, **kwargs: Any) -> tuple: ...

    def _fitted_meta(self) -> dict[str, Any]:
        """Sizes learnt from the data that the module's shape depends on (JSON-serialisable)."""
        return dict(self.meta_)

    @abstractmethod
    def _build_module(self, meta: dict[str, Any]) -> torch.nn.Module:
        """A fresh module for these parameters and ``meta`` (weights to be loaded after)."""

    # -- the fit skeleton ---------------------------------------------------------------------
    def _start_fit(self, checkpoint_every: int) -> None:
        """What every ``fit`` checks first: the parameters, then the checkpoint interval."""
        self.check_params()
        require(int(checkpoint_every) >= 1, f"checkpoint_every must be >= 1 epoch, got {checkpoint_every}")

    def _draw_seed(self) -> int:
        """``seed_``: the ``seed`` parameter, or a fresh one when it is None (recorded, so the run
        can be repeated)."""
        self.seed_ = int(self.seed) if self.seed is not None else secrets.randbelow(2**31)
        return self.seed_

    def _run_identity(self, fingerprint: str, **fitted: Any) -> dict[str, str]:
        """What a checkpoint must match to be resumed: the model, its parameters (less
        :attr:`_NOT_IN_IDENTITY`, with the seed drawn and ``fitted`` choices such as the
        components) and the data's ``fingerprint``."""
        params = {k: v for k, v in self.get_params().items() if k not in self._NOT_IN_IDENTITY}
        params["seed"] = self.seed_
        params.update(fitted)
        return {"model": self.model_name, "params": json.dumps(params, sort_keys=True, default=list),
                "data": fingerprint}

    def _training_config(self, checkpoint_dir: str | os.PathLike | None, checkpoint_every: int,
                         resume: bool) -> TrainingConfig:
        """The loop's settings from the estimator's parameters and ``fit``'s checkpoint arguments."""
        return TrainingConfig(epochs=int(self.epochs), lr=float(self.lr), clip_grad_norm=self.clip_grad_norm,
                              patience=None if self.patience is None else int(self.patience),
                              min_delta=float(self.min_delta), checkpoint_dir=checkpoint_dir,
                              checkpoint_every=int(checkpoint_every), resume=resume)

    def _threads(self, meta: dict[str, Any], device: torch.device) -> contextlib.AbstractContextManager:
        """Torch's CPU thread count while training and computing outputs (``threads``, else torch's)."""
        return torch_threads(getattr(self, "threads", None))

    def _generator_device(self, device: torch.device) -> torch.device | str:
        """Where the run's random generator lives (batch order: on the CPU)."""
        return "cpu"

    def _train_module(self, meta: dict[str, Any], device: torch.device,
                      objective: Callable[[torch.nn.Module, torch.Generator], Objective], config: TrainingConfig,
                      identity: dict[str, str], callback: EpochCallback | None,
                      ) -> tuple[torch.nn.Module, TrainingState, Objective]:
        """One seeded, deterministic training run of a fresh module for ``meta``.

        Parameters
        ----------
        objective
            ``objective(module, generator)`` returns what to minimise (its loss, batches and
            validation); called inside the seeded block, after the module is built.
        identity
            See :meth:`_run_identity`.

        Returns
        -------
        (module, state, objective)
            The trained module (in eval mode, the best validation epoch's weights where there was
            validation), what the loop did, and the objective (to score it again).
        """
        seed_everything(self.seed_)
        with deterministic(), self._threads(meta, device):
            module = self._build_module(meta).to(device)
            generator = torch.Generator(device=self._generator_device(device)).manual_seed(self.seed_)
            run = objective(module, generator)
            state = train(module, run.loss_fn, generator, config, identity, callback, batches=run.batches,
                          validation_fn=run.validation_fn)
        return module, state, run

    def _record_fit(self, module: torch.nn.Module, state: TrainingState) -> None:
        """Keep a finished run: the module and the curves every fitted estimator has."""
        self.module_ = module.eval()
        self.loss_curve_ = list(state.losses)
        self.validation_curve_ = list(state.validation)
        self.n_epochs_ = state.epoch
        self.stopped_early_ = state.stopped_early

    # -- persistence --------------------------------------------------------------------------
    def _restore(self, meta: dict[str, Any], state_dict: dict[str, torch.Tensor], loss_curve: list[float]) -> None:
        from ._torch import resolve_device

        module = self._build_module(meta)
        module.load_state_dict(state_dict)
        self.module_ = module.to(resolve_device(self.device)).eval()
        self.meta_ = dict(meta)
        self.loss_curve_ = [float(v) for v in loss_curve]

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model (constructor arguments, sizes, weights, loss curve, versions).

        A ``torch.save`` file of tensors and plain values only, so :meth:`load` can read it with
        ``weights_only=True`` (no pickled code is executed).
        """
        self._check_fitted()
        payload = {
            "format_version": FORMAT_VERSION,
            "model_name": self.model_name,
            "params": json.dumps(self.get_params(), sort_keys=True),
            "meta": json.dumps(self._fitted_meta(), sort_keys=True),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "loss_curve": list(self.loss_curve_),
            "versions": versions(),
        }
        torch.save(payload, os.fspath(path))
        log.info("saved %s to %s", self.model_name, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> Estimator:
        """Rebuild a fitted estimator written by :meth:`save` (any registered model).

        Parameters
        ----------
        device
            Overrides the saved ``device`` parameter (e.g. to load a GPU-trained model on a CPU).
        """
        from ..errors import InputFileError
        from ._torch import load_tensors
        from .registry import get_model

        payload = load_tensors(path, "saved model")  # weights_only: a pickle with code is refused
        if not isinstance(payload, dict) or not {"model_name", "params", "meta", "state_dict"} <= set(payload):
            raise InputFileError(f"{path}: not a model saved by nwb_tavrnn (Estimator.save)")
        model_cls = get_model(payload["model_name"])
        params = json.loads(payload["params"])
        if device is not None:
            params["device"] = device
        est = model_cls(**params)
        est._restore(json.loads(payload["meta"]), payload["state_dict"], payload["loss_curve"])
        if not isinstance(est, cls):
            raise TypeError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}")
        saved, now = payload.get("versions", {}), versions()
        if saved.get("torch") != now.get("torch"):
            log.info("model saved with torch %s, loaded with %s", saved.get("torch"), now.get("torch"))
        return est

    def _provenance_fields(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~nwb_tavrnn.schema.ModelProvenance` (weights packed flat)."""
        from ..schema import ModelProvenance

        self._check_fitted()
        arrays = {k: v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}
        flat, layout = ModelProvenance.pack_weights(arrays)
        hyper = dict(self.get_params())
        hyper["fitted"] = self._fitted_meta()
        return dict(
            model_name=self.model_name,
            hyperparameters=hyper,
            versions=versions(),
            seed=int(getattr(self, "seed_", self.seed)) if getattr(self, "seed_", getattr(self, "seed", None)) is not None
            else -1,
            training_loss=np.asarray(self.loss_curve_, dtype=np.float64),
            weights=flat,
            weights_layout=layout,
        )

    @classmethod
    def from_provenance(cls, provenance: Any, device: str | None = None) -> Estimator:
        """Rebuild a fitted estimator from a :class:`~nwb_tavrnn.schema.ModelProvenance` (e.g. read
        from a collaborator's NWB file), ready to :meth:`transform` new data.

        Raises
        ------
        ValueError
            If the provenance holds no weights.
        """
        from .registry import get_model

        if provenance.weights is None:
            raise ValueError(f"{provenance.name} holds no weights; the model cannot be rebuilt from it")
        model_cls = get_model(provenance.model_name)
        hyper = dict(provenance.hyperparameters_dict)
        meta = hyper.pop("fitted")
        if device is not None:
            hyper["device"] = device
        valid = set(model_cls._param_names())
        unknown = sorted(set(hyper) - valid)
        if unknown:
            log.warning("ignoring hyperparameters this version does not know: %s", unknown)
        est = model_cls(**{k: v for k, v in hyper.items() if k in valid})
        state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in provenance.weight_arrays().items()}
        est._restore(meta, state, list(np.asarray(provenance.training_loss[()], dtype=np.float64)))
        return est


class LatentGraphModel(Estimator):
    """A model of a sequence of graphs: fit on a DynamicConnectivity, transform it to embeddings."""

    @abstractmethod
    def transform(self, connectivity: Any, *args: Any, **kwargs: Any) -> Any: ...
