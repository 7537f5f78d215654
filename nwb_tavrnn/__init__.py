"""nwb_tavrnn: dynamic connectivity graphs and latent embeddings from spike trains, NWB in, NWB out.

One flat namespace (``import nwb_tavrnn as nt``) for the whole pipeline without the command line::

    import nwb_tavrnn as nt

    nt.write_simulation("session.nwb", nt.SimulationConfig.small())
    nt.run_connectivity("session.nwb", "graphs.nwb", nt.ConnectivityParams.preset("dishbrain", window=60, step=60))
    nt.fit_file("graphs.nwb", "fitted.nwb", nt.TAVRNN(epochs=100))
    report = nt.evaluate_file("fitted.nwb", "epochs:state", report_dir="report")
    # or every step at once, configured as a file would be:
    config = nt.PipelineConfig.from_mapping({"evaluation": {"labels": "epochs:state"}})
    nt.run_pipeline("session.nwb", "out.nwb", config)

Importing the package is light: it loads the NWB extension and its types only. Everything else
(the steps, the models with torch, sorting with SpikeInterface, streaming with dandi) is imported
when a name is first used.
"""

import importlib
import logging

from . import schema
from .schema import *  # noqa: F403 - the NWB extension's types: the only names imported eagerly

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("nwb-tavrnn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    # reading and writing
    "open_nwb": "io.files", "read_spike_trains": "io.read", "read_intervals": "io.read", "read_one": "io.read",
    "to_pynapple": "io.pynapple",
    "read_trial_spikes": "io.trials", "read_region_pair": "io.region_pairs", "write_derived": "io.write",
    "summarize": "io.summary",
    # the steps, NWB to NWB
    "run_pipeline": "pipeline", "run_demo": "pipeline", "PipelineConfig": "config", "load_config": "config",
    "run_connectivity": "connectivity.step", "ConnectivityParams": "connectivity.compute",
    "ConnectivityOptions": "connectivity.step", "NodeOptions": "connectivity.nodes",
    "compute_dynamic_connectivity": "connectivity.compute",
    "fit_file": "steps.model", "evaluate_file": "evaluation.report", "EvaluationConfig": "evaluation.settings",
    "nnpoisson_file": "steps.nnpoisson", "TrialOptions": "steps.nnpoisson",
    "seq2seq_file": "steps.seq2seq", "SegmentOptions": "steps.seq2seq", "DecodingOptions": "steps.seq2seq",
    "sort": "sorting", "detect_events": "sorting", "SortingParams": "sorting", "DetectionParams": "sorting",
    "Step": "steps.base", "register_step": "steps.base", "get_step": "steps.base",
    # the models
    "TAVRNN": "models", "VGRNN": "models", "NNPoisson": "models", "Seq2seq": "models", "get_model": "models",
    "NotFittedError": "models",
    # evaluation on arrays
    "evaluate_features": "evaluation.protocol", "compare_decoders": "evaluation.decoding",
    "holdout_blocks": "evaluation.splits",
    # simulators
    "SimulationConfig": "simulate", "write_simulation": "simulate",
    # errors
    "NwbTavrnnError": "errors", "InputFileError": "errors", "OutputFileError": "errors", "ParameterError": "errors",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nwb_tavrnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [*(name for name in schema.__all__ if name not in ("load_namespace", "namespace_path")), "__version__",
           *_LAZY]
