"""Simulated data with known ground truth.

``network``: the planted-regime spiking network (the demo and the connectivity/model yardstick);
``drift``: sessions whose network drifts slowly under block-wise labels (the evaluation's
calibration yardstick); ``decision``: a perceptual decision task with known regional intensities,
choice and RT from a race of integrators (the behavioural models' yardstick); ``two_region``: a
source and a target region driven by a planted low-dimensional oscillating latent, the target
through a lag and a nonlinear map, with a per-trial choice set by the latent (the Seq2seq yardstick);
``calcium``: the network's spikes seen through a calcium indicator at 20 Hz, one ROI per node (the
calcium-imaging route's yardstick).
"""

from .calcium import (
    CalciumConfig,
    CalciumConfigError,
    CalciumTraces,
    calcium_traces,
    ophys_nwbfile,
    write_ophys_simulation,
)
from .decision import DecisionConfig, DecisionSession, simulate_decision, write_decision_session
from .drift import DriftConfig, DriftSession, drift_nwbfile, simulate_drift, write_drift_session
from .network import (
    GROUND_TRUTH_NAME,
    MOTOR_SUBREGIONS,
    REGIMES,
    SimulatedSession,
    SimulationConfig,
    SimulationConfigError,
    simulate_network,
    simulate_recording,
    write_simulation,
)
from .two_region import (
    TwoRegionConfig,
    TwoRegionSession,
    simulate_two_region,
    two_region_nwbfile,
    write_two_region_session,
)

__all__ = [
    "GROUND_TRUTH_NAME",
    "MOTOR_SUBREGIONS",
    "REGIMES",
    "CalciumConfig",
    "CalciumConfigError",
    "CalciumTraces",
    "DecisionConfig",
    "DecisionSession",
    "DriftConfig",
    "DriftSession",
    "SimulatedSession",
    "SimulationConfig",
    "SimulationConfigError",
    "TwoRegionConfig",
    "TwoRegionSession",
    "calcium_traces",
    "drift_nwbfile",
    "ophys_nwbfile",
    "simulate_decision",
    "simulate_drift",
    "simulate_network",
    "simulate_recording",
    "simulate_two_region",
    "two_region_nwbfile",
    "write_decision_session",
    "write_drift_session",
    "write_ophys_simulation",
    "write_simulation",
    "write_two_region_session",
]
