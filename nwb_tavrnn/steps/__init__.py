"""The analysis steps NWB to NWB, and the registry that ``run``, configuration files and the
command line loop over (:mod:`nwb_tavrnn.steps.base`).

Importing this package is light: a step imports its science (torch, the models) only when it runs.
"""

from .base import STEPS, Progress, Step, get_step, load_steps, register_step

__all__ = ["STEPS", "Progress", "Step", "get_step", "load_steps", "register_step"]
