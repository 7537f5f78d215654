"""``python -m nwb_tavrnn.config``: print the options reference (every key and flag, as Markdown)."""

from . import options_reference

print(options_reference())
