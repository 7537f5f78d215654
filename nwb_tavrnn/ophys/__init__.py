"""Optical physiology (calcium imaging) in NWB: ROIs and their traces in a ``processing/ophys`` module.

:func:`nwb_tavrnn.ophys.write.add_ophys_module` writes segmentation outputs (from the importers in
:mod:`nwb_tavrnn.importers` or from the simulator) in the layout every later step reads. Nothing heavy
is imported here.
"""
