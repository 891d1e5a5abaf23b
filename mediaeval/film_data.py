"""The films as models see them: each film's features on the steps and its labels per segment
(:class:`FilmData`), loaded from the feature store with what made them checked, and digests of
what a model learnt from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .changes import changes
from .errors import DataError
from .task import Subtask
from .windows import segments_to_n_steps


@dataclass
class FilmData:
    """One film's inputs on the steps, and its labels per segment when known."""

    name: str
    x: np.ndarray                    # (n_steps, features) float32
    n_segments: int
    labels: np.ndarray | None = None  # (n_segments, 2) valence/arousal, or (n_segments,) fear
    made_by: dict | None = None       # what made its features (see made_by)
    other_labels: dict | None = None  # {subtask name: labels} of other subtasks a model learns from
                                      # (a fear run's valence/arousal recipe), where the film has them

    def targets(self, task: Subtask) -> np.ndarray:
        """Labels brought onto the steps by overlap: (n_steps, outputs of the subtask)."""
        values = task.targets(self.labels)
        return segments_to_n_steps(values.astype(np.float64), len(self.x)).astype(np.float32)


def _missing_features(dataset, features_dir, extractors, film) -> DataError:
    """Why ``film`` has no features, and what to do: an unknown extractor, a film without video,
    or features not extracted yet."""
    from .features.registry import available
    from .features.store import feature_path

    path = feature_path(features_dir, extractors, film.name)
    unknown = [name for name in extractors if name not in available()]
    imported = [name for name in unknown if (Path(features_dir) / name).is_dir()]
    if imported:
        return DataError(path, f"no features for film {film.name} in the imported set {imported[0]}; add its "
                               f"table and run mediaeval import-features again")
    if unknown:
        return DataError(path, f'unknown feature set "{unknown[0]}": known extractors are {", ".join(available())}, '
                               f"or a set made by mediaeval import-features --name {unknown[0]} "
                               f"(none in {features_dir})")
    if film.video is None:
        return DataError(path, f"no features and no video for film {film.name}: its annotations were found "
                               f"but not its mp4, so it cannot be extracted; add the video under {dataset.root}")
    return DataError(path, f"no features for film {film.name}; run: mediaeval extract --dataset "
                           f"{dataset.root} --out {features_dir} --extractor {','.join(extractors)}")


def _stale_features(dataset, features_dir, stale) -> DataError:
    """What to run when a film's features (``stale``, a :class:`~mediaeval.features.store.StaleFeatures`)
    were made from another version of its file: extract its set again, or import its table again."""
    if stale.imported_from is not None:
        return DataError(stale.path, f"{stale.message}; make {stale.imported_from} again from the film as it is "
                                     f"now if it depends on it, and run: mediaeval import-features SRC --dataset "
                                     f"{dataset.root} --out {features_dir} --name {stale.path.parent.name} "
                                     f"(SRC: the folder of {stale.imported_from})")
    return DataError(stale.path, f"{stale.message}; run: mediaeval extract --dataset {dataset.root} --out "
                                 f"{features_dir} --extractor {stale.path.parent.name.replace('+', ',')}")


def made_by(meta: dict) -> dict:
    """What made a feature file, from its meta: ``{extractor: {version, dim, params}}`` (what a
    model depends on; film, duration and warnings left out)."""
    return {e["name"]: {"version": e.get("version"), "dim": e.get("dim"), "params": e.get("params", {})}
            for e in meta.get("extractors", [])}



def load_films(dataset, features_dir, extractors, films, task: Subtask, with_labels: bool,
               expected_made_by: dict | None = None, other: tuple[Subtask, ...] = ()) -> list[FilmData]:
    """Features (and labels) of ``films``; a missing feature file says why and what to do.

    Every film's features must have been made by the same extractors, versions and settings
    (``expected_made_by`` if given, say those a model was trained on): DataError naming the file
    and the first key that differs otherwise.  A film with a video must have features made from
    that video as it is now (its size and head/tail hash, as extraction records them; files made
    before this was recorded are taken): DataError naming the film and what to run otherwise.
    With labels, those of the subtasks ``other`` too, where a film has them (``other_labels``).
    """
    from .features.store import StaleFeatures, feature_path, load_set

    out, columns = [], None
    for film in films:
        try:
            features = load_set(features_dir, extractors, film.name, video=film.video)
        except FileNotFoundError:
            raise _missing_features(dataset, features_dir, extractors, film) from None
        except StaleFeatures as stale:
            raise _stale_features(dataset, features_dir, stale) from None
        path = features.meta.get("source") or feature_path(features_dir, extractors, film.name)
        made = made_by(features.meta)
        if expected_made_by is not None and made != expected_made_by:
            than = f"those of {out[0].name}" if out else "the model was trained on"
            raise DataError(path, f"made with other extractor versions or settings than {than}: "
                                  + "; ".join(changes(expected_made_by, made, "extractors.")))
        expected_made_by = made
        if columns is None:
            columns = features.columns
        elif features.columns != columns:
            raise DataError(path, f"its {len(features.columns)} feature columns differ from those of "
                                  f"{out[0].name} ({len(columns)}); extract all films with the same settings")
        labels = film.labels(task) if with_labels else None
        others = {t.name: film.labels(t) for t in other if with_labels and film.has_labels(t)} or None
        out.append(FilmData(film.name, features.values, film.n_segments, labels, made, others))
    return out



def data_digests(films: list[FilmData]) -> dict[str, str]:
    """What a model learnt from, film by film: ``{film: the first 16 hex digits of the SHA-256 of
    its feature values and its labels}``.  A film added or removed, or whose features (say the
    organisers' files they came from) or annotations changed, changes them, and the model is
    retrained; features extracted again to the same values do not.  The labels of other subtasks
    a model learns from (``other_labels``) are in the digest too, where a film has them."""
    digests = {}
    for film in films:
        digest = hashlib.sha256(np.ascontiguousarray(film.x, np.float32).tobytes())
        digest.update(np.ascontiguousarray(film.labels, np.float64).tobytes())
        for name, labels in sorted((film.other_labels or {}).items()):
            digest.update(name.encode() + np.ascontiguousarray(labels, np.float64).tobytes())
        digests[film.name] = digest.hexdigest()[:16]
    return digests

