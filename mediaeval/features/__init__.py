"""Feature extractors on the 16/30 s step grid, and the per-film feature store.

Each extractor has a name, a modality, an output dimension and a version, and turns the steps
of a film into one vector per step.  Streaming extractors see the decoded
:class:`~mediaeval.media.StepBlock` s one after the other (one decode pass serves them all);
whole-film extractors (``egemaps``, ``organisers``) read what they need themselves.  Several
extractors named together are concatenated on the grid in the order given.
"""
from __future__ import annotations

from .registry import DEFAULT_EXTRACTORS, Extractor, available, get_extractor, register

__all__ = ["DEFAULT_EXTRACTORS", "Extractor", "available", "get_extractor", "register"]
