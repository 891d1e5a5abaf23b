"""The registry of extractors."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DEFAULT_EXTRACTORS = ("visual-stats", "audio-stats")


@dataclass
class FilmSource:
    """What a whole-film extractor may read: the video, the film's name, and the dataset root.

    A problem in the film's data that does not stop the extractor is reported with
    :func:`mediaeval.errors.warn` (the extraction stores it with the film's features)."""

    name: str
    video: object
    n_steps: int
    dataset_root: object = None
    progress: bool = False


@dataclass
class Extractor:
    """One feature extractor.

    Attributes
    ----------
    name, modality, version : str
        ``modality`` is ``visual``, ``audio`` or ``organisers``.
    columns : list of str or None
        One name per output value; ``None`` when the data decide (the organisers' features):
        ``whole_film`` then returns ``(values, columns)``.
    process : callable, optional
        Streaming extractors: ``process(state, block) -> (len(block), dim)`` with ``state`` a
        dict kept across the blocks of one film (for example the previous frame).
    whole_film : callable, optional
        Whole-film extractors: ``whole_film(source: FilmSource) -> (n_steps, dim)``.
    params : dict
        Settings stored with the features.
    frame_size : int
        Streaming visual extractors: the side of the square frames they are given (films are
        decoded once per size in use).
    check : callable, optional
        Called before any film is decoded; raises when the extractor cannot run (weights not
        installed or not given), with a message that says what to do.
    inputs : callable, optional
        Whole-film extractors that read files besides the video (the organisers' features):
        ``inputs(source: FilmSource) -> list of paths``, the files they read for the film.
        Their names, sizes and modification times are recorded with the features
        (:func:`~mediaeval.features.store.files_fingerprint`), and a rerun redoes a film whose
        files changed.
    """

    name: str
    modality: str
    version: str
    columns: list[str] | None
    process: Callable | None = None
    whole_film: Callable | None = None
    params: dict = field(default_factory=dict)
    frame_size: int = 112
    check: Callable | None = None
    inputs: Callable | None = None

    @property
    def dim(self) -> int | None:
        return None if self.columns is None else len(self.columns)

    @property
    def streaming(self) -> bool:
        return self.process is not None

    def describe(self) -> dict:
        return {"name": self.name, "modality": self.modality, "version": self.version,
                "dim": self.dim, "params": dict(self.params)}


_REGISTRY: dict[str, Callable[[], Extractor]] = {}


def register(name: str):
    """Decorator: register a factory that builds the extractor ``name``."""
    def wrap(factory: Callable[[], Extractor]):
        _REGISTRY[name] = factory
        return factory
    return wrap


def _load_builtin() -> None:
    from . import audio, opensmile_features, organisers, visual  # noqa: F401  (they register)
    from .pretrained import i3d, musicnn, thesis  # noqa: F401


def available() -> list[str]:
    """Names of all registered extractors."""
    _load_builtin()
    return sorted(_REGISTRY)


def settings_of(name: str) -> dict:
    """The settings extractor ``name`` accepts, with their defaults."""
    import inspect

    _load_builtin()
    return {p.name: p.default for p in inspect.signature(_REGISTRY[name]).parameters.values()}


def get_extractor(name: str, settings: dict | None = None) -> Extractor:
    """Build the extractor ``name`` with ``settings`` (keyword arguments of its factory, such
    as ``weights`` or ``context_seconds``); a ValueError lists the available extractors, or
    the settings this one accepts."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ValueError(f"unknown extractor {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    settings = dict(settings or {})
    accepted = settings_of(name)
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(f"extractor {name} has no setting {', '.join(unknown)}; "
                         f"it accepts: {', '.join(accepted) or 'none'}")
    return _REGISTRY[name](**settings)


def as_float32(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)
