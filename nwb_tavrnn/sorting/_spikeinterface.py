"""What every call into SpikeInterface here shares: the library's version and one-line error text.

Used by :mod:`.recording` (the readers) and :mod:`.adapter` (everything after them).
"""

from __future__ import annotations


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[-1] if text else type(err).__name__)[:300]


def spikeinterface_version() -> str:
    import spikeinterface

    return spikeinterface.__version__
