"""Run definitions: one TOML file per submitted run (``runs/<subtask>/run<N>.toml``).

Example::

    subtask = "valence_arousal"      # or "fear"
    run = 1                          # 1..5, the N of me17ei_<TEAM>_<subtask>_run<N>.txt
    description = "LSTM on the default visual and audio statistics"
    external_data = false
    features = ["visual-stats", "audio-stats"]
    seed = 0
    seeds = 1                        # > 1: average the predictions of models trained with seeds seed, seed+1, ...
    folds = 5                        # cross-validation folds over the development films
    folds_repeats = 1                # > 1: the cross-validation repeated on fold splits seeded seed, seed+1, ...
    criterion = "mse"                # optional: what choices optimise (default: the subtask's; see below)

    [model]                          # the settings of a model family (mediaeval.families): without
    lstm_units = 512                 # type, the LSTM's (mediaeval.model.ModelSettings)

    [light]                          # pipeline --light (make demo): [model] settings to train instead,
    epochs = 8                       # and optionally other features (registered extractors, or some of
                                     # the run's own) with the description of the run on them

A :class:`RunDefinition` is a dataclass whose fields carry their types and ranges; reading one
(:meth:`RunDefinition.load`, :meth:`RunDefinition.from_data`) validates it with pydantic, the
``[model]`` table as one of the families' settings told apart by ``type``, and says the first
problem as a :class:`~mediaeval.errors.DataError` naming the file and the key
(:func:`mediaeval.validation.error_text`).  Its TOML is written by tomlkit.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tomlkit
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import DataError
from .families import family, family_of, settings_types, settings_union, types
from .model import ModelSettings
from .task import SUBTASKS, Subtask
from .validation import Bool, Int, Str, adapter, error_text, expected, problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FamilySettings = settings_union()   # the [model] annotation; made again when a family is registered (_validators)
LIGHT_KEYS = ("features", "description")   # the keys of [light] that are not [model] settings


def _known_subtask(name: str) -> str:
    if name not in SUBTASKS:
        raise expected(f"one of {', '.join(SUBTASKS)}")
    return name


@dataclass
class RunDefinition:
    """One run: its subtask and number, description, features, folds and seeds, and the
    settings of its model (or the runs it fuses)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    subtask: Annotated[Str, AfterValidator(_known_subtask)]
    run: Annotated[Int, Field(ge=1, le=5)]
    description: Str
    features: list[Str]
    external_data: Bool = False
    seed: Int = 0
    seeds: Annotated[Int, Field(ge=1, le=2**32)] = 1   # > 1: the mean of models seeded seed, seed + 1, ...
    folds: Annotated[Int, Field(ge=2)] = 5
    # > 1: the cross-validation repeated on that many fold splits (seeded seed, seed + 1, ...), its
    # figures the mean over them; the final model(s) are those of one repeat (mediaeval.training)
    folds_repeats: Annotated[Int, Field(ge=1, le=1000)] = 1
    # test predictions: the final model(s), or the fold models' mean; None: the family's (Family.ensemble: the
    # LSTM's "folds", the per-segment families' "final")
    ensemble: Literal["final", "folds"] | None = None
    # What every inner choice optimises (hyper-parameters, smoothing, early stopping on "official",
    # fusion weights) and the leaderboard ranks by: one of the subtask's criteria; None: its default
    # (mediaeval.task.Subtask.criterion).  Calibration stays least squares whatever it is.
    criterion: Str | None = None
    model: FamilySettings = field(default_factory=ModelSettings)
    fuse: list[Int] = field(default_factory=list)   # a fused run: the numbers of the runs it fuses
    light: dict[str, Any] = field(default_factory=dict)   # [light]: [model] settings (and features) that
                                                          # make demo runs quick
    path: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.subtask}_run{self.run}"

    @property
    def task(self) -> Subtask:
        return SUBTASKS[self.subtask]

    @property
    def fused(self) -> bool:
        return bool(self.fuse)

    @property
    def test_ensemble(self) -> str:
        """Which models predict test films: the run's ``ensemble``, else its family's default
        (``"folds"`` for the LSTM, whose final model's post-processing no film checks; ``"final"``
        for the per-segment families)."""
        return self.ensemble or getattr(family_of(self.model), "ensemble", "final")

    @property
    def chosen_by(self) -> str:
        """The criterion the run's choices optimise: its own ``criterion``, else the subtask's."""
        return self.task.criterion_of(self.criterion)

    # ------------------------------------------------------------------ reading

    @classmethod
    def load(cls, path) -> RunDefinition:
        """Read and check a run definition; :class:`DataError` names the file and the key."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(path, f"cannot read: {error}") from error
        return cls.from_text(path, text)

    @classmethod
    def from_text(cls, path, text: str) -> RunDefinition:
        """The checked definition the TOML ``text`` of ``path`` holds."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise DataError(path, f"expected TOML: {error}") from error
        return cls.from_data(path, data)

    @classmethod
    def from_data(cls, path, data) -> RunDefinition:
        """A checked definition from parsed data (a run TOML, or a model folder's stored
        definition); :class:`DataError` names ``path`` and the key."""
        if not isinstance(data, dict):
            raise DataError(path, "expected a table of run settings")
        try:
            definition = _validators()[0].validate_python(data, context={"subtask": data.get("subtask"), "path": path})
        except ValidationError as error:
            raise DataError(path, error_text(error, data, cls, unknown=_unknown, tagged=_tagged())) from None
        return dataclasses.replace(definition, path=Path(path))

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, data):
        """A fused run has no features (``[]`` when not given) and no ``[model]``; ``path`` is
        where a definition was read from, not a key of it."""
        if isinstance(data, dict):
            if "path" in data:
                raise problem(_unknown("path", None))
            if data.get("fuse") and "model" in data:
                raise problem("a fused run (fuse = [...]) trains no model of its own; remove [model]", key="model")
            if data.get("fuse"):
                data = {"features": [], **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunDefinition:
        """What involves several keys: the runs fused, the features, the seeds, the criterion,
        the ``[light]`` table."""
        if self.fuse and (len(set(self.fuse)) < 2 or not all(1 <= n <= 5 for n in self.fuse)):
            raise problem(f"expected at least 2 distinct run numbers from 1 to 5, got {self.fuse}", key="fuse")
        if not self.features and not self.fuse:
            raise problem("expected a non-empty list of extractor names", key="features")
        twice = sorted({name for name in self.features if self.features.count(name) > 1})
        if twice:
            raise problem(f"{', '.join(map(repr, twice))} named twice; expected each feature set once", key="features")
        last = 2**32 - self.seeds
        if not 0 <= self.seed <= last:   # seeds seed, seed + 1, ... seed NumPy's and scikit-learn's generators
            raise problem(f"expected 0 to {last}" + (f" (with seeds = {self.seeds}, the last seed is below 2**32)"
                                                     if self.seeds > 1 else "") + f", got {self.seed}", key="seed")
        try:
            self.task.criterion_of(self.criterion)
        except ValueError as error:
            raise problem(str(error)) from None
        _check_light(self)
        return self

    # ------------------------------------------------------------------ what it says

    def lightened(self) -> RunDefinition:
        """This run with its ``[light]`` settings in place of the ``[model]`` ones (``pipeline
        --light``, which ``make demo`` uses): the same recipe, trained lighter; ``light`` emptied.
        A ``[light]`` ``features`` list replaces the run's features, and the ``description``
        that goes with it the run's own (which names the features it no longer uses).  The
        description ends with the light settings, the features first, say ``(light settings:
        features = visual-stats + audio-stats instead of i3d + musicnn, alphas = [100.0])``."""
        if not self.light:
            return self
        settings = {k: v for k, v in self.light.items() if k not in LIGHT_KEYS}
        features = self.light.get("features", self.features)
        said = [f"{k} = {v}" for k, v in settings.items()]
        if features != self.features:
            said.insert(0, f"features = {' + '.join(features)} instead of {' + '.join(self.features)}")
        model = _settings(self.path, {"type": self.model.type, **self.model.as_dict(), **settings}, self.subtask)
        return dataclasses.replace(self, model=model, light={}, features=list(features),
                                   description=self.light.get("description", self.description)
                                   + (" (light settings: " + ", ".join(said) + ")" if said else ""))

    def describe(self) -> dict:
        """What goes into the submission's README.  A fused run has no model: its model line
        names the runs it fuses (``fused_runs``, their numbers), its settings are the folds (and
        their seed) on which the weights are chosen; :func:`mediaeval.fusion.describe_fused` adds
        the weights once chosen."""
        out = {"description": self.description, "features": list(self.features), "external_data": self.external_data}
        chosen = {} if self.criterion is None else {"criterion": self.criterion}
        if self.folds_repeats > 1:
            chosen["folds_repeats"] = self.folds_repeats
        if self.fused:
            return {**out, "model": f"late fusion (weighted mean, weights by nested CV over films) of {self.subtask} "
                                    f"runs {', '.join(map(str, self.fuse))}",
                    "fused_runs": list(self.fuse), "settings": {"seed": self.seed, "folds": self.folds, **chosen}}
        return {**out, "model": family_of(self.model).describe(self.model)
                + (f"; mean of {self.seeds} seeds" if self.seeds > 1 else "")
                + (f"; test predictions: mean of the {self.folds} fold models"
                   if self.test_ensemble == "folds" else ""),
                "settings": {"seed": self.seed, "folds": self.folds, **chosen, **self.model.as_dict()}}

    def to_data(self) -> dict:
        """The definition as JSON-ready data: every field but ``path``, every model setting
        (``None`` included), but ``criterion`` and ``ensemble`` only when set and ``folds_repeats``
        only above 1 (so that runs defined before them keep their digest).
        ``from_data(path, definition.to_data())`` is equal up to ``path``."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("model", "path")}
        for optional in ("criterion", "ensemble"):
            if data[optional] is None:
                del data[optional]
        if self.folds_repeats == 1:
            del data["folds_repeats"]
        if self.fused:   # a fused run has no model of its own
            return {**data, "features": list(self.features), "fuse": list(self.fuse)}
        return {**data, "features": list(self.features), "fuse": list(self.fuse), "model": self.model.as_dict()}

    def digest(self) -> str:
        """sha256 of the canonical definition: equal digests, equal runs."""
        return hashlib.sha256(json.dumps(self.to_data(), sort_keys=True).encode()).hexdigest()

    # ------------------------------------------------------------------ writing

    def to_toml(self) -> str:
        """The definition as the text of a run file (tomlkit), which :meth:`load` reads back to
        an equal definition (``to_data`` alike): every field, then the ``[model]`` table (none for
        a fused run) and the ``[light]`` one if any.  A ``None`` setting is left out (TOML has no
        null; every setting that may be ``None`` defaults to it), as are an empty ``fuse`` and
        ``light``."""
        data = self.to_data()
        model, light = data.pop("model", None), data.pop("light")
        if not data["fuse"]:
            del data["fuse"]
        document = tomlkit.document()
        for name, value in [*data.items(), ("model", model), ("light", light)]:
            if isinstance(value, dict) and value:
                table = tomlkit.table()
                for key, setting in value.items():
                    if setting is not None:
                        table.add(key, setting)
                document.add(name, table)
            elif value is not None and not isinstance(value, dict):
                document.add(name, value)
        return tomlkit.dumps(document)

    def text(self) -> str:
        """The definition as TOML text, for a model folder's ``run.toml``: its file's own text
        (comments kept) when that file still loads to this very definition, else
        :meth:`to_toml` (a run built or changed in code, a :meth:`lightened` one), checked to
        load back to it (:class:`DataError` naming the file, or ``<name>.toml`` for a run built
        in code, otherwise)."""
        if self.path is not None:
            try:
                written = self.path.read_text(encoding="utf-8")
                if (RunDefinition.from_text(self.path, written).to_data() == self.to_data()
                        and not _refers_to_runs(written)):
                    return written
            except (OSError, UnicodeDecodeError, DataError):
                pass
        return _checked_toml(self, self.path or Path(f"{self.name}.toml"))

    def save(self, path) -> Path:
        """Write the definition as a new run file ``path`` (:meth:`to_toml`), complete or not at
        all; an existing ``path`` (a link too, even a broken one) is refused and left as it is,
        and so is one made meanwhile by another process.  The text is checked first to load back
        to this definition (:class:`DataError` naming ``path`` and the key otherwise, say for a
        setting out of its range).  Returns ``path``."""
        import os
        import tempfile

        path = Path(path)
        if path.exists() or path.is_symlink():
            raise DataError(path, "exists; RunDefinition.save writes a new run file and overwrites none: "
                                  "remove it or choose another name")
        text = _checked_toml(self, path)
        try:
            handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                try:
                    os.link(tmp, path)   # fails if path appeared meanwhile: never replaces a file
                except FileExistsError:
                    raise
                except OSError:          # a file system without hard links (FAT, some shares): create it exclusively
                    with open(path, "x", encoding="utf-8") as out:
                        out.write(text)
            finally:
                os.unlink(tmp)
        except FileExistsError:
            raise DataError(path, "was made by something else while it was being saved; left as it is") from None
        except OSError as error:
            raise DataError(path, f"cannot write: {error.strerror or error}") from None
        return path


def _refers_to_runs(text: str) -> bool:
    """Whether a run file's text names another run by its number (``from_valence_arousal = 1``),
    which reads only beside the runs folder: a model folder keeps the definition with that
    run's settings in place of the number (:meth:`RunDefinition.to_toml`)."""
    model = tomllib.loads(text).get("model")
    reference = model.get("from_valence_arousal") if isinstance(model, dict) else None
    return isinstance(reference, int) and not isinstance(reference, bool)


_VALIDATORS: dict = {}


def _validators() -> tuple[TypeAdapter, TypeAdapter]:
    """pydantic's validators of a definition and of a ``[model]`` table, for the families
    registered now (a family registered after this module was imported, say by a user's module,
    makes them again)."""
    global FamilySettings
    registered = tuple(types())
    if registered not in _VALIDATORS:
        FamilySettings = settings_union()
        _VALIDATORS[registered] = (TypeAdapter(RunDefinition), TypeAdapter(FamilySettings))
    return _VALIDATORS[registered]


def _unknown(key: str, tag: str | None) -> str:
    """What to say of a key a definition (or, with the family ``tag``, its ``[model]``) does not have."""
    if tag is not None:
        names = [f.name for f in dataclasses.fields(family(tag).settings) if f.name != "type"]
        return f"{key}: unknown setting of type {tag!r}; expected one of {', '.join(names)}"
    names = [f.name for f in dataclasses.fields(RunDefinition) if f.name not in ("model", "path")]
    return f"unknown key {key!r}; expected one of {', '.join([*names, 'model'])}"


def _tagged() -> dict[str, type]:
    """The settings dataclass of each family's ``type``."""
    return {t: family(t).settings for t in types()}


def _settings(path, table: dict, subtask: str | None = None):
    """A ``[model]`` table validated as one of the families' settings; DataError naming ``path``."""
    try:
        return _validators()[1].validate_python(table, context={"subtask": subtask})
    except ValidationError as error:
        raise DataError(path, _settings_problem(error, table)) from None


def _settings_problem(error: ValidationError, table: dict) -> str:
    """The first problem of a ``[model]`` table, in one line (``model.<key>: ...``)."""
    return error_text(error, table, prefix="model.", unknown=_unknown, tagged=_tagged())


@dataclass
class _LightNames:
    """What ``[light]`` holds besides ``[model]`` settings: other features, and the description
    of the run on them."""

    features: list[Str] | None = None
    description: Str | None = None


def _check_light(definition: RunDefinition) -> None:
    """The ``[light]`` table: ``[model]`` settings that load beside the run's (not ``type``),
    and optionally ``features``, a non-empty list of registered extractors or of the run's own
    features, with a ``description`` of the run on them; raises pydantic's error of the first
    problem, naming the key."""
    light = definition.light
    settings_names = {f.name for cls in settings_types() for f in dataclasses.fields(cls)}
    unknown = sorted(set(light) - settings_names - set(LIGHT_KEYS))
    if unknown or "type" in light:
        raise problem(f"light.{(unknown or ['type'])[0]}: expected a [model] setting to lighten (not type), "
                      f"features or description")
    if definition.fuse and set(light) & set(LIGHT_KEYS):
        raise problem("light: a fused run (fuse = [...]) has no features of its own to lighten")
    names = {k: v for k, v in light.items() if k in LIGHT_KEYS}
    try:
        adapter(_LightNames).validate_python(names)
    except ValidationError as error:
        raise problem(error_text(error, names, _LightNames, prefix="light.")) from None
    if "description" in light and "features" not in light:
        raise problem("light.description: only beside light.features (the run's own description holds for its "
                      "own features)")
    if "features" in light:
        _check_light_features(light, definition.features)
    settings = {k: v for k, v in light.items() if k not in LIGHT_KEYS}
    if settings and not definition.fuse:
        table = {"type": definition.model.type, **definition.model.as_dict(), **settings}
        try:
            _validators()[1].validate_python(table, context={"subtask": definition.subtask})
        except ValidationError as error:
            raise problem("light: " + _settings_problem(error, table)) from None


def _check_light_features(light: dict, own: list[str]) -> None:
    """``[light] features``: a non-empty list of names, each a registered extractor or one of the
    run's ``own`` features (an imported set, say), and a ``description`` beside it."""
    from .features import available

    names = light["features"]
    if not names:
        raise problem("light.features: expected a non-empty list of extractor names")
    known = available()
    for name in names:
        if name not in known and name not in own:
            raise problem(f"light.features: unknown extractor {name!r}; expected one of {', '.join(known)}, or one "
                          f"of the run's own features")
    if len(set(names)) < len(names):
        raise problem(f"light.features: a name is given twice: {', '.join(names)}")
    if "description" not in light:
        raise problem("light.description: missing; [light] features = [...] needs the description of the run on "
                      "them (the run's own names the features it replaces)")


def _checked_toml(definition: RunDefinition, path: Path) -> str:
    """:meth:`RunDefinition.to_toml`, checked to read back (as ``path``) to ``definition``, to be
    UTF-8, and to hold only what TOML can (:class:`DataError` naming ``path`` and the key
    otherwise: a setting out of its range, an int beyond 64 bits, a ``None`` in ``[light]``, ...)."""
    from .changes import changes

    text = definition.to_toml()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataError(path, f"expected text that UTF-8 can write, got {text[error.start:error.end]!r} "
                              f"(a lone surrogate) in the definition") from None
    loaded = RunDefinition.from_text(path, text)
    if loaded.to_data() != definition.to_data():   # a value TOML cannot hold as it is
        raise DataError(path, "the definition does not survive as TOML: "
                              + "; ".join(changes(definition.to_data(), loaded.to_data())))
    return text


def find_runs(folder) -> list[RunDefinition]:
    """Every ``*.toml`` run under ``folder`` (but its lockbox, :mod:`mediaeval.lockbox`), checking
    at most 5 per subtask and unique numbers."""
    from .lockbox import LOCKBOX_FILE

    lockbox = Path(folder) / LOCKBOX_FILE
    runs = [RunDefinition.load(p) for p in sorted(Path(folder).rglob("*.toml")) if p != lockbox]
    seen: dict[tuple[str, int], Path] = {}
    for run in runs:
        key = (run.subtask, run.run)
        if key in seen:
            raise DataError(run.path, f"{run.subtask} run {run.run} is also defined in {seen[key]}")
        seen[key] = run.path
    for run in runs:
        for number in run.fuse:
            fused = seen.get((run.subtask, number))
            if number == run.run or fused is None:
                raise DataError(run.path, f"fuse: {run.subtask} run {number} is not defined under {folder}")
            if next(r for r in runs if r.path == fused).fused:
                raise DataError(run.path, f"fuse: run {number} is itself a fused run; fuse trained runs")
    return runs
