"""Scoring runs: the figures of a whole run (:class:`Scores`), per fold, and of a run file against a
dataset's ground truth; and the one way they are written out (:func:`format_scores`).

The official figures of the 2017 task, computed from :mod:`mediaeval.metrics`:

* valence/arousal: MSE and PCC of each film's segments, then their unweighted mean over films;
* fear: the AP of each film's confidences, then their mean over the films with at least one
  fear segment (MAP).

Pooled figures (every segment of every film together) are given beside them.  An undefined
figure is ``nan`` (``null`` in JSON), never a substitute number, and a note says which film and why.
Importing this module registers the two scorers as the subtasks' (:meth:`mediaeval.task.Subtask.score`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import evidence
from .dataset import DEV
from .errors import DataError
from .folds import read_repeats, read_seed, repeat_path
from .metrics import (_pair, accuracy, average_precision, concordance_correlation, f1, mean_squared_error,
                      pearson_correlation, precision, quadrant_accuracy, recall)
from .provenance import score_notes
from .repeats import mean_over_repeats, notes_over_repeats, per_film_over_repeats, spread
from .run_files import SCORER_FAILURES, Problems, RunFile, raise_if_errors, run_subtask
from .task import FEAR, VALENCE_AROUSAL, Subtask, get, register_scorer


def _undefined(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _to_json(mapping: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in mapping.items()}


def _from_json(mapping: dict) -> dict:
    return {k: (math.nan if v is None else v) for k, v in mapping.items()}


def _fold_json(fold: dict, read: bool = False) -> dict:
    """A fold's entry of ``scores.json`` (its ``repeat`` when its scores are over repeats)."""
    out = {"films": fold["films"], "official": (_from_json if read else _to_json)(fold["official"])}
    return {**out, "repeat": fold["repeat"]} if "repeat" in fold else out


@dataclass
class Scores:
    """Figures of one run: the official ones, the pooled ones, per film, and, when scored by
    folds (:func:`score_folds`), each fold's official figures and their mean and standard
    deviation over folds.  Scored over repeats of the cross-validation (:func:`score_repeats`):
    the mean over repeats of each figure (:mod:`mediaeval.repeats`), every repeat's folds, and
    each repeat's own scores in ``repeats`` (their fold seeds in ``repeat_seeds``).  Undefined
    figures are ``nan``; :meth:`to_json` makes them ``None`` (what ``scores.json`` holds) and
    :meth:`from_json` reads them back."""

    subtask: Subtask
    official: dict[str, float]
    pooled: dict[str, float]
    per_film: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    folds: list[dict] | None = None      # per fold: {"films": [...], "official": {...}}; None: not by folds
    fold_mean: dict[str, float] = field(default_factory=dict)
    fold_std: dict[str, float] = field(default_factory=dict)
    repeats: list[Scores] | None = None  # each repeat's scores by its folds; None: one cross-validation
    repeat_seeds: list[int] = field(default_factory=list)

    def figure(self, key: str, which: str = "official") -> float | None:
        """An official figure (``which="official"``), or its mean or standard deviation over
        folds (``"fold_mean"``, ``"fold_std"``); ``None`` when undefined or absent."""
        value = getattr(self, which).get(key)
        return None if _undefined(value) else value

    def over_repeats(self, key: str) -> tuple[list[float | None], float | None] | None:
        """``(values, sd)`` of an official figure over the repeats (each repeat's, and their
        sample standard deviation: :func:`mediaeval.repeats.spread`), ``None`` for a figure
        undefined; ``None`` when not scored over repeats."""
        if not self.repeats:
            return None
        values = [r.figure(key) for r in self.repeats]
        sd = spread(values)
        return values, None if math.isnan(sd) else sd

    def to_json(self) -> dict:
        """A JSON-ready dict; ``nan`` becomes ``None``.  Over repeats, also ``repeats`` (each
        repeat's scores and fold ``seed``) and ``over_repeats.<key> = {"values", "sd"}``."""
        out = {"subtask": self.subtask.name, "official": _to_json(self.official), "pooled": _to_json(self.pooled),
               "per_film": {film: _to_json(v) for film, v in self.per_film.items()}, "notes": list(self.notes)}
        if self.folds is not None:
            out.update({"folds": [_fold_json(f) for f in self.folds],
                        "fold_mean": _to_json(self.fold_mean), "fold_std": _to_json(self.fold_std)})
        if self.repeats:
            out["over_repeats"] = {k: dict(zip(("values", "sd"), self.over_repeats(k))) for k in self.official}
            out["repeats"] = [{"seed": seed, **{k: v for k, v in r.to_json().items() if k != "subtask"}}
                              for seed, r in zip(self.repeat_seeds, self.repeats)]
        return out

    @classmethod
    def from_json(cls, data: dict) -> Scores:
        """The scores of :meth:`to_json` (a ``scores.json``); ``None`` becomes ``nan``; ``ValueError``
        for a subtask of no known name."""
        folds, repeats = data.get("folds"), data.get("repeats")
        return cls(get(data["subtask"]), _from_json(data.get("official", {})), _from_json(data.get("pooled", {})),
                   {film: _from_json(v) for film, v in data.get("per_film", {}).items()}, list(data.get("notes", [])),
                   None if folds is None else [_fold_json(f, read=True) for f in folds],
                   _from_json(data.get("fold_mean", {})), _from_json(data.get("fold_std", {})),
                   None if not repeats else [cls.from_json({**r, "subtask": data["subtask"]}) for r in repeats],
                   [r["seed"] for r in repeats or []])

    @classmethod
    def read(cls, path) -> Scores:
        """The scores a ``scores.json`` holds; :class:`DataError` naming it when it is missing,
        unreadable, not JSON or not scores."""
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DataError(path, "missing: expected the scores of a model folder made by mediaeval train") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise DataError(path, f"expected the scores written by mediaeval train ({type(error).__name__}: "
                                  f"{reason}); retrain with mediaeval train --overwrite") from error


# --------------------------------------------------------------------------- per subtask

def _film_mean(per_film: dict[str, dict[str, float]], key: str, notes: list[str], why: str,
               name: str | None = None) -> float:
    """Mean of ``per_film[*][key]`` over the films where it is defined; a note (about ``name``,
    default ``key``) names the others."""
    values = {film: figures[key] for film, figures in per_film.items()}
    undefined = sorted(film for film, v in values.items() if np.isnan(v))
    if undefined:
        notes.append(f"{name or key}: undefined for {len(undefined)} of {len(values)} films ({why}), left out "
                     f"of the mean: {', '.join(undefined)}")
    defined = [v for v in values.values() if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _official_pcc(per_film: dict[str, dict[str, float]], key: str, notes: list[str]) -> tuple[float, float]:
    """The official mean PCC over films and the mean over the films whose PCC is defined.

    As in the 2017 evaluation script, one film whose PCC is undefined (constant truth or
    prediction) makes the mean over films undefined (``nan``); the mean over the other films is
    returned beside it, and a note names the films.
    """
    values = {film: figures[key] for film, figures in per_film.items()}
    undefined = sorted(film for film, v in values.items() if np.isnan(v))
    defined = [v for v in values.values() if not np.isnan(v)]
    mean_defined = float(np.mean(defined)) if defined else float("nan")
    if undefined:
        notes.append(f"{key}: undefined for {len(undefined)} of {len(values)} films (constant truth or "
                     f"prediction): {', '.join(undefined)}; the official mean over films is undefined, as in "
                     f"the 2017 script; {key}_defined_films is the mean over the other {len(defined)}")
        return float("nan"), mean_defined
    return mean_defined, mean_defined


def _valence_arousal_figures(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"valence_mse": mean_squared_error(y[:, 0], p[:, 0]), "valence_pcc": pearson_correlation(y[:, 0], p[:, 0]),
            "arousal_mse": mean_squared_error(y[:, 1], p[:, 1]), "arousal_pcc": pearson_correlation(y[:, 1], p[:, 1]),
            "quadrant_accuracy": quadrant_accuracy(y, p),
            "valence_ccc": concordance_correlation(y[:, 0], p[:, 0]),
            "arousal_ccc": concordance_correlation(y[:, 1], p[:, 1])}


def score_valence_arousal(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray]) -> Scores:
    """Score valence/arousal predictions; each dict maps a film to an array (K, 2).

    Official figures are unweighted means over films of the per-film figures.  The official
    PCC is undefined (``nan``) when any film's PCC is (constant truth or prediction), as the mean
    over films of the 2017 script was; ``<key>_defined_films`` is the mean over the films whose
    PCC is defined, and a note names the others.  An undefined MSE, CCC or quadrant accuracy (a
    film of no segment; for CCC, of one segment or of a constant truth predicted exactly) is left
    out of its mean, with a note.  The concordance correlation (CCC, per film, then the mean over
    films) is not a figure of the task: it is reported beside MSE and PCC.
    """
    per_film, notes = {}, []
    for film in sorted(truth):
        per_film[film] = _valence_arousal_figures(*_pair(truth[film], prediction[film]))
    official = {}
    for key in VALENCE_AROUSAL.metric_keys:
        if key.endswith("_pcc"):
            official[key], official[f"{key}_defined_films"] = _official_pcc(per_film, key, notes)
        else:
            official[key] = _film_mean(per_film, key, notes, "fewer than 2 segments, or an exact constant"
                                       if key.endswith("_ccc") else "no segment")
    y = np.concatenate([truth[f] for f in sorted(truth)])
    p = np.concatenate([prediction[f] for f in sorted(truth)])
    pooled = _valence_arousal_figures(y, p)
    for key in ("valence_pcc", "arousal_pcc"):
        if np.isnan(pooled[key]):
            notes.append(f"pooled {key}: undefined (constant truth or prediction over all films)")
    return Scores(VALENCE_AROUSAL, official, pooled, per_film, notes)


def _fear_figures(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray) -> dict[str, float]:
    false_alarm = float(np.mean(predicted)) if labels.size and not np.any(labels > 0) else float("nan")
    return {"ap": average_precision(labels, confidence), "accuracy": accuracy(labels, predicted),
            "precision": precision(labels, predicted), "recall": recall(labels, predicted),
            "f1": f1(labels, predicted), "false_alarm": false_alarm}


_UNDEFINED_BECAUSE = {"precision": "no segment is predicted fearful",
                      "recall": "no segment is fearful in the truth",
                      "f1": "no fearful segment in truth or prediction"}


def score_fear(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray]) -> Scores:
    """Score fear predictions; ``truth[film]`` is (K,) of 0/1, ``prediction[film]`` (K, 2) of
    label and confidence.

    Official: ``map`` is the mean AP over films with at least one fear segment (the others are
    counted in ``map_films_left_out``), the figure the task page announced; accuracy,
    precision, recall and F1 are pooled over all segments, and ``<figure>_per_film`` is their
    unweighted mean over films (over the films where the figure is defined; a note names the
    others).  Which of the two the 2017 overview reported is unconfirmed.  ``false_alarm_rate``:
    on the films without a fear segment (which MAP leaves out; ``false_alarm_films`` of them),
    the share of their segments labelled 1, averaged over those films (per film:
    ``false_alarm``; ``nan`` for a film with fear).  Pooled: the same label figures, and ``map``
    the AP of all segments ranked together.
    """
    keys = FEAR.metric_keys
    per_film, notes = {}, []
    for film in sorted(truth):
        y, p = np.asarray(truth[film], dtype=np.float64), np.asarray(prediction[film], dtype=np.float64)
        per_film[film] = _fear_figures(y, p[:, 0], p[:, 1])
    aps = {film: v["ap"] for film, v in per_film.items()}
    without = sorted(film for film, ap in aps.items() if np.isnan(ap))
    if without:
        notes.append(f"map: {len(without)} of {len(aps)} films have no fear segment and are left out: "
                     f"{', '.join(without)}")
    defined = [ap for ap in aps.values() if not np.isnan(ap)]
    y = np.concatenate([np.asarray(truth[f], dtype=np.float64) for f in sorted(truth)])
    p = np.concatenate([np.asarray(prediction[f], dtype=np.float64) for f in sorted(truth)])
    pooled = _fear_figures(y, p[:, 0], p[:, 1])
    pooled["map"] = pooled.pop("ap")
    alarms = [v["false_alarm"] for v in per_film.values() if not np.isnan(v["false_alarm"])]
    official = {"map": float(np.mean(defined)) if defined else float("nan"),
                **{k: pooled[k] for k in keys[1:]},
                "map_films": len(defined), "map_films_left_out": len(without),
                "false_alarm_rate": float(np.mean(alarms)) if alarms else float("nan"),
                "false_alarm_films": len(alarms)}
    for key in keys[2:]:
        if np.isnan(pooled[key]):
            notes.append(f"{key}: undefined ({_UNDEFINED_BECAUSE[key]})")
    for key in keys[1:]:
        official[f"{key}_per_film"] = _film_mean(per_film, key, notes, _UNDEFINED_BECAUSE.get(key, "no segment"),
                                                 f"{key}_per_film")
    return Scores(FEAR, official, {k: pooled[k] for k in keys}, per_film, notes)


register_scorer(VALENCE_AROUSAL, score_valence_arousal)
register_scorer(FEAR, score_fear)


# --------------------------------------------------------------------------- folds and run files

def score_folds(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray], folds: list[list[str]],
                subtask: Subtask) -> Scores:
    """Scores of all films together, with each fold's official figures (``folds``: each fold's
    films, those without a prediction left out) and their mean and population standard
    deviation over folds (undefined fold figures are left out; ``nan`` when no fold has one)."""
    scores = subtask.score(truth, prediction)
    per_fold = []
    for films in folds:
        films = [f for f in films if f in truth]
        fold = subtask.score({f: truth[f] for f in films}, {f: prediction[f] for f in films})
        per_fold.append({"films": films, "official": fold.official})
    return _with_folds(scores, per_fold)


def _with_folds(scores: Scores, per_fold: list[dict]) -> Scores:
    """``scores`` with the folds ``per_fold`` and their mean and standard deviation."""
    scores.folds = per_fold
    for key in scores.official:
        values = [f["official"][key] for f in per_fold if not _undefined(f["official"].get(key))]
        scores.fold_mean[key] = float(np.mean(values)) if values else math.nan
        scores.fold_std[key] = float(np.std(values)) if values else math.nan
    return scores


def score_repeats(truth: dict[str, np.ndarray], predictions: list[dict[str, np.ndarray]],
                  repeats: list[list[list[str]]], subtask: Subtask, seed: int = 0) -> Scores:
    """Scores of a run cross-validated on several fold splits: ``predictions[r]`` the out-of-fold
    predictions of repeat ``r`` by its folds ``repeats[r]`` (fold seed ``seed + r``).  One repeat:
    :func:`score_folds`.  Several: each repeat scored by :func:`score_folds`, then every figure
    (official, pooled, per film) the mean over repeats (:mod:`mediaeval.repeats`), the folds every
    repeat's (each with its ``repeat``, 1 to R) with their mean and standard deviation, the notes
    of every repeat, and each repeat's scores in ``repeats``."""
    if len(repeats) == 1:
        return score_folds(truth, predictions[0], repeats[0], subtask)
    scored = [score_folds(truth, p, folds, subtask) for p, folds in zip(predictions, repeats)]
    return combine_repeats(scored, [seed + r for r in range(len(scored))])


def combine_repeats(scored: list[Scores], seeds: list[int]) -> Scores:
    """One :class:`Scores` of a run from its repeats' (``scored``, fold seeds ``seeds``): see
    :func:`score_repeats`."""
    combined = Scores(scored[0].subtask, mean_over_repeats([r.official for r in scored]),
                      mean_over_repeats([r.pooled for r in scored]),
                      per_film_over_repeats([r.per_film for r in scored]),
                      notes_over_repeats([r.notes for r in scored], seeds), repeats=scored, repeat_seeds=list(seeds))
    return _with_folds(combined, [{**f, "repeat": k} for k, r in enumerate(scored, start=1) for f in r.folds or []])


def score_run(path, dataset, truncate: bool = False, folds_file=None) -> Scores:
    """Score a run file against the ground truth of ``dataset`` (a :class:`~mediaeval.dataset.Dataset`).

    The run is read as the organisers' 2017 script read it, with one note per kind of deviation
    from the format, and how many: a line's values after the first two are ignored (``validate``
    refuses them); the films of the run's set that have ground truth but are not in the run are
    left out of the means, as the script left them out, and named.  Every film of the run needs
    ground truth of the run's subtask, and by default exactly its number of segments;
    ``truncate=True`` cuts prediction and truth to the shorter length, as the script did, and
    says so in the notes.  With ``folds_file`` (a model folder's ``folds.json``) the scores are
    by folds (:func:`score_folds`); a folds file of a run cross-validated several times
    (``folds_repeats``) names every repeat's folds, and the run is then scored over repeats
    (:func:`score_repeats`), ``path`` as the first repeat's out-of-fold run file and
    ``repeat<r>/<its name>`` beside the folds file as repeat ``r``'s (as a model folder holds
    them).  The notes start with :func:`mediaeval.provenance.score_notes` (in-sample figures; a
    model's other labels).

    Raises
    ------
    DataError
        A malformed run file, a film without ground truth, or a length mismatch (without
        ``truncate``), naming the film; a folds file naming a film the run does not hold; a
        repeat's run file missing, or holding other films.

    The run is read one line at a time, keeping per film at most its truth's number of rows.
    """
    run, problems = _read_scored(path, dataset)
    truth, prediction, cut = _paired(run, dataset, truncate)
    notes = _reading_notes(run, problems, dataset) + _cut_notes(cut)
    if folds_file is None:
        scores = run.subtask.score(truth, prediction)
    else:
        repeats = _folds_of(folds_file, run, truth)
        predictions = [prediction] + [_repeat_prediction(folds_file, r, run, truth, dataset, truncate)
                                      for r in range(2, len(repeats) + 1)]
        scores = score_repeats(truth, predictions, repeats, run.subtask, read_seed(folds_file))
    scores.notes[:0] = score_notes(run.path, dataset, run.subtask, truth) + notes
    return scores


def _repeat_prediction(folds_file, repeat: int, run: RunFile, truth: dict, dataset, truncate: bool) -> dict:
    """The predictions of repeat ``repeat``'s out-of-fold run file (``repeat<r>/<run name>`` beside
    the folds file); :class:`DataError` when it is missing or holds other films than ``run``."""
    path = Path(folds_file).parent / repeat_path(repeat, run.path.name)
    if not path.is_file():
        raise DataError(path, f"missing: {folds_file} names the folds of repeat {repeat}, and the out-of-fold run "
                              f"file of that repeat is expected here (as mediaeval train writes it)")
    other, _ = _read_scored(path, dataset)
    if set(other.films) != set(truth):
        raise DataError(path, f"holds other films than {run.path} (repeat 1); expected the same films")
    return _paired(other, dataset, truncate)[1]


def _read_scored(path, dataset) -> tuple[RunFile, Problems]:
    """The run file to score, keeping per film at most its truth's rows; :class:`DataError` for a
    film without ground truth (the first in the file) or a malformed run."""
    subtask = run_subtask(path)

    def truth_length(film: str) -> int:  # rows kept per film: the truth's, so memory follows the dataset
        return len(dataset.films[film].labels(subtask)) if dataset.films[film].has_labels(subtask) else 0

    run, problems = RunFile.parse(path, subtask, dataset, keep=truth_length, ignore_extra_values=True)
    missing = [(film, line) for film, line in run.unknown.items()]
    missing += [(film, line) for film, line in run.film_lines.items() if not dataset.films[film].has_labels(subtask)]
    if missing:
        film, line = min(missing, key=lambda item: item[1])
        raise DataError(run.path, f"film {film} has no {subtask} ground truth in {dataset.root}", line)
    raise_if_errors(run.path, problems)
    return run, problems


def _folds_of(folds_file, run: RunFile, truth: dict) -> list[list[list[str]]]:
    """Every repeat's folds of ``folds_file``; :class:`DataError` when one names a film the run
    does not hold."""
    repeats = read_repeats(folds_file)
    for r, folds in enumerate(repeats, start=1):
        for k, films in enumerate(folds, start=1):
            for film in films:
                if film not in truth:
                    raise DataError(folds_file, f"{f'repeat {r} ' if r > 1 else ''}fold {k}: film {film} is not in "
                                                f"the run {run.path}; expected the folds of this run (folds.json of "
                                                f"its model folder)")
    return repeats


def _paired(run, dataset, truncate: bool) -> tuple[dict, dict, list[tuple[str, int, int]]]:
    """Truth and prediction of every film of ``run``, cut to the shorter length when
    ``truncate``; and the films cut, as ``(film, prediction length, truth length)``.  A length
    mismatch without ``truncate`` is a :class:`DataError` naming the film."""
    truth, prediction, cut = {}, {}, []
    for film, values in run.films.items():
        labels = dataset.films[film].labels(run.subtask)
        count = run.counts[film]
        if len(labels) != count:
            if not truncate:
                raise DataError(run.path, f"film {film} has {count} segment lines but its ground "
                                          f"truth has {len(labels)} (--truncate cuts both to the shorter)",
                                run.film_lines[film])
            cut.append((film, count, len(labels)))
            shorter = min(len(labels), count)
            labels, values = labels[:shorter], values[:shorter]
        truth[film], prediction[film] = labels, values
    return truth, prediction, cut


def _reading_notes(run, problems, dataset) -> list[str]:
    """What in the run the organisers' script read although the format forbids it, or left out:
    one note per kind, with how many."""
    notes = []
    if any(problems.counts[code] for code in SCORER_FAILURES if code != "E116"):
        notes.append(f"{run.path}: blank lines or spaces around film names: the organisers' scorer failed on "
                     f"such a run (see mediaeval validate)")
    if problems.counts["E116"]:
        notes.append(f"{run.path}: a byte order mark (BOM) at its start: the organisers' scorer read it as part "
                     f"of the first film's name (see mediaeval validate)")
    if run.extra_lines:
        notes.append(f"{run.path}: {run.extra_lines} line(s) hold more than 2 values (the first at line "
                     f"{run.first_extra_line}): only the first 2 are read, as the organisers' script read them; "
                     f"validate and package refuse such lines (E108)")
    if run.split is not None:
        films = dataset.dev_films if run.split == DEV else dataset.test_films
        scored = [f.name for f in films if f.has_labels(run.subtask)]
        absent = [name for name in scored if name not in run.film_lines]
        if absent:
            notes.append(f"{len(absent)} of the {len(scored)} {'development' if run.split == DEV else 'test'} "
                         f"films with {run.subtask} ground truth are not in the run, and left out of the means "
                         f"as the organisers' script left them out: {', '.join(absent)}")
    return notes


def _cut_notes(cut: list[tuple[str, int, int]]) -> list[str]:
    """One note for the films cut to the shorter of prediction and truth (``--truncate``)."""
    if not cut:
        return []
    return [f"{len(cut)} film(s) truncated to the shorter of prediction and truth, as the organisers' script "
            f"cut them: " + "; ".join(f"{film} to {min(count, length)} segments (prediction {count}, truth {length})"
                                     for film, count, length in cut)]


# --------------------------------------------------------------------------- writing them out

def _number(value, decimals: int = 3) -> str:
    return "n/a" if _undefined(value) else f"{value:.{decimals}f}"


def _table(rows: dict[str, dict[str, float]]) -> str:
    import pandas as pd

    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame.to_string(float_format=lambda v: "nan" if math.isnan(v) else f"{v:.4f}", na_rep="nan")


INTERVAL_TEXT = "percentile bootstrap over films, 2,000 resamples, seed 0"


def intervals(scores: Scores, resamples: int | None = None, seed: int | None = None,
              level: float | None = None) -> dict[str, tuple[float, float]]:
    """The percentile bootstrap interval over films (:mod:`mediaeval.evidence`; by default 95 %,
    2,000 resamples, seed 0) of every official figure that is a mean over films
    (:meth:`~mediaeval.task.Subtask.film_figure`), in ``scores.official``'s order: ``{key: (low,
    high)}``, ``nan`` where undefined.  A PCC's interval is over the films where it is defined,
    even when the official mean is undefined; pooled figures (fear's pooled label figures) have
    none."""
    task = scores.subtask
    films = sorted(scores.per_film)
    if not films:
        return {}
    samples = evidence.film_resamples(len(films), resamples or evidence.RESAMPLES,
                                      evidence.SEED if seed is None else seed)
    out = {}
    for key in scores.official:
        source = task.film_figure(key)
        if source is not None:
            values = [scores.per_film[f].get(source, math.nan) for f in films]
            out[key] = evidence.interval(values, samples, level or evidence.LEVEL)
    return out


def _fold_name(folds: list[dict], k: int) -> str:
    """``fold k``, or ``repeat r fold j`` for the folds of scores over repeats."""
    fold = folds[k - 1]
    if "repeat" not in fold:
        return f"fold {k}"
    return f"repeat {fold['repeat']} fold {sum(1 for f in folds[:k] if f.get('repeat') == fold['repeat'])}"


def _repeat_lines(scores: Scores) -> list[str]:
    """The lines of scores over repeats (``score --folds`` of such a run): each repeat's official
    figures, and their standard deviation beside the intervals over films."""
    if not scores.repeats:
        return []
    rows = {f"repeat {r} (fold seed {seed})": repeat.official
            for r, (seed, repeat) in enumerate(zip(scores.repeat_seeds, scores.repeats), start=1)}
    rows["sd over repeats"] = {k: math.nan if scores.over_repeats(k)[1] is None else scores.over_repeats(k)[1]
                               for k in scores.official}
    return [f"\nover {len(scores.repeats)} repeats of the cross-validation (each film predicted out of fold once "
            f"per repeat, on other folds): the official figures are the mean over repeats; their sample sd is how "
            f"much the luck of the folds moves one repeat's figure:", _table(rows)]


def format_scores(scores: Scores, detail: bool = False) -> str:
    """The scores as text, the one way every command shows them.

    By default one line of the official figures (``train``, ``pipeline``, ``fuse``, the titles
    of ``plot``): their side figures (``*_defined_films``, ``*_per_film``, film counts) are left
    out, but an undefined figure shows its mean over the films where it is defined, and a
    figure scored by folds its mean ± standard deviation over folds, and one scored over repeats
    the standard deviation over repeats.  With ``detail`` (``score``): tables of the official and
    pooled figures, the 95 % interval of each official mean over films (:func:`intervals`), each
    repeat's figures and their standard deviation (over repeats), per film and per fold, then the
    notes.
    """
    if detail:
        bounds = intervals(scores)
        lines = [_table({"official (mean over films)": scores.official, "pooled*": scores.pooled}),
                 "* pooled: every segment of every film together; dominated by differences between films, "
                 "and biased on out-of-fold files (a leave-one-film-out constant gets a strongly negative "
                 "pooled PCC): not a figure to choose runs by"]
        if bounds:
            lines += [f"\n95 % intervals of the official figures ({INTERVAL_TEXT}; PCC over the films where it "
                      f"is defined):",
                      _table({"low": {k: lo for k, (lo, _) in bounds.items()},
                              "high": {k: hi for k, (_, hi) in bounds.items()}})]
        lines += _repeat_lines(scores) + ["\nper film:" if not scores.repeats else
                                          "\nper film (the mean over repeats):", _table(scores.per_film)]
        if scores.folds is not None:
            rows = {_fold_name(scores.folds, k): fold["official"] for k, fold in enumerate(scores.folds, start=1)}
            rows.update({"mean over folds": scores.fold_mean, "std over folds": scores.fold_std})
            lines += ["\nper fold:", _table(rows)]
        return "\n".join(lines + [f"note: {note}" for note in scores.notes])
    parts = []
    for key, value in scores.official.items():
        if key.startswith("map_films") or key == "false_alarm_films" or key.endswith(("_defined_films", "_per_film")):
            continue
        extra = []
        defined = scores.official.get(f"{key}_defined_films")
        if _undefined(value) and not _undefined(defined):
            extra.append(f"{_number(defined)} over the defined films")
        if scores.figure(key, "fold_mean") is not None:
            extra.append(f"folds {_number(scores.fold_mean[key])} ± {_number(scores.fold_std[key])}")
        if scores.repeats and scores.over_repeats(key)[1] is not None:
            extra.append(f"{len(scores.repeats)} repeats sd {_number(scores.over_repeats(key)[1])}")
        parts.append(f"{key} {_number(value)}" + (f" ({'; '.join(extra)})" if extra else ""))
    return ", ".join(parts)
