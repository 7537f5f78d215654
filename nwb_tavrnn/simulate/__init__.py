"""Simulated data with known ground truth.

``network``: the planted-regime spiking network (the demo and the connectivity/model yardstick);
``drift``: sessions whose network drifts slowly under block-wise labels (the evaluation's
calibration yardstick); ``decision``: a perceptual decision task with known regional intensities,
choice and RT from a race of integrators (the behavioural models' yardstick).
"""

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

__all__ = [
    "GROUND_TRUTH_NAME",
    "MOTOR_SUBREGIONS",
    "REGIMES",
    "DecisionConfig",
    "DecisionSession",
    "DriftConfig",
    "DriftSession",
    "SimulatedSession",
    "SimulationConfig",
    "SimulationConfigError",
    "drift_nwbfile",
    "simulate_decision",
    "simulate_drift",
    "simulate_network",
    "simulate_recording",
    "write_decision_session",
    "write_drift_session",
    "write_simulation",
]
