"""Relating embeddings to behaviour: window labels, scores, baselines, null controls, reports.

Needs the ``evaluation`` extra (scikit-learn, matplotlib); never imported by ``import nwb_tavrnn``.
"""
