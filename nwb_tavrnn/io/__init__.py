"""Reading from and writing to NWB files: local paths now, URLs and DANDI assets via :mod:`.remote`."""

from .files import atomic_destination, check_readable_nwb, check_writable, open_nwb, write_nwbfile
from .spike_trains import SpikeTrains

__all__ = [
    "SpikeTrains",
    "atomic_destination",
    "check_readable_nwb",
    "check_writable",
    "open_nwb",
    "write_nwbfile",
]
