"""``nwb-tavrnn simulate OUTPUT.nwb``: write a simulated network with planted, time-varying coupling
(as spike trains, or with ``--task ophys`` as the calcium imaging of those spikes)."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from ..params import renamed_option

log = logging.getLogger(__name__)

#: Command-line option -> SimulationConfig field.
_OPTIONS = {
    "n_sensory": "n_sensory",
    "n_motor": "n_motor",
    "gameplay_minutes": "gameplay_minutes",
    "rest_minutes": "rest_minutes",
    "block_minutes": "block_minutes",
    "rate": "rate",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated spiking network with planted regimes (demo data, ground truth)",
        description=(
            "Simulate a spiking network (a sensory group and four motor subregions, modelled on DishBrain) "
            "whose coupling switches between 'aligned' and 'unaligned' regimes during gameplay, then rests; "
            "trial outcomes (hit/miss) depend on the regime. Writes a complete NWB file with the planted "
            "coupling in processing/ecephys/ground_truth_coupling. --task ophys writes the calcium imaging of the "
            "same spikes instead (one ROI per node, its planted group in the PlaneSegmentation column 'group')."
        ),
    )
    parser.add_argument("output", metavar="OUTPUT.nwb", help="NWB file to create")
    parser.add_argument("--task", choices=["network", "ophys", "decision", "two-region"], default="network",
                        help="network (default): the planted-regime network above; ophys: the same network (same "
                             "spikes for the same seed) seen through a GCaMP6f calcium indicator, one ROI per node, "
                             "raw fluorescence in processing/ophys and no Units table; decision: a perceptual decision "
                             "task with known regional intensities (sensory, left and right integrators), choice and "
                             "RT by a race to threshold, for nnpoisson; two-region: hippocampus and prefrontal units "
                             "driven by a planted low-dimensional oscillating latent (prefrontal reads it 0.1 s later "
                             "through a nonlinear map) and a per-trial choice set by the latent, for seq2seq")
    parser.add_argument("--n-trials", type=int, metavar="N",
                        help="decision / two-region task: number of trials (default 400 / 200)")
    # --trials names an intervals table everywhere else; here it was a count
    parser.add_argument("--trials", dest="n_trials", type=int, help=argparse.SUPPRESS,
                        action=renamed_option("--n-trials"))
    parser.add_argument("--firing-rate", dest="rate", type=float, metavar="HZ",
                        help="network task: mean firing rate in Hz (default 3)")
    # --rate is an imaging frame rate everywhere else
    parser.add_argument("--rate", dest="rate", type=float, help=argparse.SUPPRESS,
                        action=renamed_option("--firing-rate"))
    parser.add_argument("--label-rule", choices=["phase", "speed"],
                        help="two-region task: what the choice reads: phase (default), the latent's half-plane at the "
                             "decision time; speed, blocks of trials whose latent rotates twice as fast (a label in the "
                             "dynamics, autocorrelated)")
    parser.add_argument("--tuning", choices=["regional", "mixed"],
                        help="decision task: how units are tuned within a region: regional (default), every unit "
                             "of a region alike; mixed, alternating preferences for left and right and random gains "
                             "within each region, so a region's pooled rate hides what its units encode")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same data")
    parser.add_argument("--small", action="store_true",
                        help="start from the tiny test preset (60 nodes, 5 min) instead of the default (900, 30 min)")
    parser.add_argument("--n-sensory", type=int, help="nodes in the sensory group (default 500)")
    parser.add_argument("--n-motor", type=int, help="nodes in each of the 4 motor subregions (default 100)")
    parser.add_argument("--gameplay-minutes", type=float, help="gameplay duration (default 20)")
    parser.add_argument("--rest-minutes", type=float, help="rest duration, 0 for none (default 10)")
    parser.add_argument("--block-minutes", type=float, help="length of each aligned/unaligned block (default 2)")
    parser.add_argument("--frame-rate", type=float, metavar="HZ",
                        help="ophys task: imaging frame rate in Hz (default 20)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..simulate import write_simulation

    if args.frame_rate is not None and args.task != "ophys":
        from ..errors import UsageError

        raise UsageError("--frame-rate: an option of --task ophys only")
    if args.label_rule is not None and args.task != "two-region":
        from ..errors import UsageError

        raise UsageError("--label-rule: an option of --task two-region only")
    if args.tuning is not None and args.task != "decision":
        from ..errors import UsageError

        raise UsageError("--tuning: an option of --task decision only")
    if args.task == "decision":
        return _decision(args)
    if args.task == "two-region":
        return _two_region(args)
    if args.n_trials is not None:
        from ..errors import UsageError

        raise UsageError("--n-trials: an option of --task decision and --task two-region only")

    config = _network_config(args)
    if args.task == "ophys":
        return _ophys(args, config)
    log.info("simulating %d nodes for %.1f min (seed %d)", config.n_nodes, config.duration / 60, args.seed)
    path = write_simulation(args.output, config=config, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {path}: {config.n_nodes} nodes, {config.duration / 60:g} min, seed {args.seed}")
    return 0


def _network_config(args: argparse.Namespace):
    """The SimulationConfig of --small and the network options (validated)."""
    from ..simulate import SimulationConfig

    config = SimulationConfig.small() if args.small else SimulationConfig()
    overrides = {field: getattr(args, opt) for opt, field in _OPTIONS.items() if getattr(args, opt, None) is not None}
    return dataclasses.replace(config, **overrides).validate()


def _ophys(args: argparse.Namespace, config) -> int:
    from ..simulate.calcium import CalciumConfig, write_ophys_simulation

    calcium = CalciumConfig() if args.frame_rate is None else CalciumConfig(rate=args.frame_rate)
    calcium.validate()  # a bad --frame-rate fails here, before the simulation
    log.info("simulating %d nodes for %.1f min, imaged at %g Hz (seed %d)", config.n_nodes, config.duration / 60,
             calcium.rate, args.seed)
    path = write_ophys_simulation(args.output, config=config, calcium=calcium, seed=args.seed,
                                  overwrite=args.overwrite)
    print(f"wrote {path}: ophys, {config.n_nodes} ROIs ({calcium.indicator}, {calcium.rate:g} Hz), "
          f"{config.duration / 60:g} min, seed {args.seed}")
    return 0


def _refuse_network_options(args: argparse.Namespace) -> None:
    """Options of --task network (and ophys) given with another task: refused, not silently ignored."""
    from ..errors import UsageError

    flags = {"rate": "--firing-rate"}  # a destination whose option is spelt otherwise
    unused = [flags.get(opt, f"--{opt.replace('_', '-')}") for opt in _OPTIONS if getattr(args, opt, None) is not None]
    if unused or args.small:
        given = ", ".join(unused + ["--small"] * args.small)
        raise UsageError(f"{given}: options of --task network and --task ophys only")


def _decision(args: argparse.Namespace) -> int:
    from ..simulate.decision import DecisionConfig, write_decision_session

    _refuse_network_options(args)
    given = {"n_trials": args.n_trials, "tuning": args.tuning}
    config = DecisionConfig(**{k: v for k, v in given.items() if v is not None})
    path = write_decision_session(args.output, config.validate(), seed=args.seed, overwrite=args.overwrite)
    tuning = "regional tuning" if config.tuning == "regional" else f"mixed tuning (gain spread {config.gain_spread:g})"
    print(f"wrote {path}: decision task, {config.n_trials} trials, regions sensory/left/right "
          f"({', '.join(map(str, config.neurons))} neurons), {tuning}, window {config.window:g} s, seed {args.seed}")
    return 0


def _two_region(args: argparse.Namespace) -> int:
    from ..simulate.two_region import TwoRegionConfig, write_two_region_session

    _refuse_network_options(args)
    given = {"n_trials": args.n_trials, "label_rule": args.label_rule}
    config = TwoRegionConfig(**{k: v for k, v in given.items() if v is not None})
    config.validate()
    log.info("simulating %d two-region trials (seed %d)", config.n_trials, args.seed)
    path = write_two_region_session(args.output, config, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {path}: two-region task, {config.n_trials} trials, {config.n_source} {config.source_name} and "
          f"{config.n_target} {config.target_name} units, {config.latent_dim}-d latent, lag {config.lag:g} s, "
          f"choice by {config.label_rule}, seed {args.seed}")
    return 0
