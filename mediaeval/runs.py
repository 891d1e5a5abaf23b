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
    criterion = "mse"                # optional: what choices optimise (default: the subtask's; see below)

    [model]                          # any field of mediaeval.model.ModelSettings
    lstm_units = 512

    [light]                          # pipeline --light (make demo): [model] settings to train instead,
    epochs = 8                       # and optionally other features (registered extractors, or some of
                                     # the run's own) with the description of the run on them
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from .errors import DataError
from .model import SETTING_RANGES, ModelSettings
from .segment_models import FAMILIES, SegmentSettings
from .task import SUBTASKS, Subtask
from .task import get as get_subtask

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class RunConfig:
    subtask: str
    run: int
    description: str
    features: list[str]
    external_data: bool = False
    seed: int = 0
    seeds: int = 1
    folds: int = 5
    ensemble: Literal["final", "folds"] = "final"   # test predictions: the final model(s), or the fold models' mean
    # What every inner choice optimises (hyper-parameters, smoothing, early stopping on "official",
    # fusion weights) and the leaderboard ranks by: one of the subtask's criteria; None: its default
    # (mediaeval.task.Subtask.criterion).  Calibration stays least squares whatever it is.
    criterion: str | None = None
    model: ModelSettings | SegmentSettings = field(default_factory=ModelSettings)
    fuse: list[int] = field(default_factory=list)   # a fused run: the numbers of the runs it fuses
    light: dict = field(default_factory=dict)       # [light]: [model] settings (and features) that make demo runs quick
    path: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.subtask}_run{self.run}"

    @property
    def task(self) -> Subtask:
        return get_subtask(self.subtask)

    @property
    def fused(self) -> bool:
        return bool(self.fuse)

    @property
    def chosen_by(self) -> str:
        """The criterion the run's choices optimise: its own ``criterion``, else the subtask's."""
        return self.task.criterion_of(self.criterion)

    def lightened(self) -> RunConfig:
        """This run with its ``[light]`` settings in place of the ``[model]`` ones (``pipeline
        --light``, which ``make demo`` uses): the same recipe, trained lighter; ``light`` emptied.
        A ``[light]`` ``features`` list replaces the run's features, and the ``description``
        that goes with it the run's own (which names the features it no longer uses).  The
        description ends with the light settings, the features first, say ``(light settings:
        features = visual-stats + audio-stats instead of i3d + musicnn, alphas = [100.0])``."""
        if not self.light:
            return self
        import dataclasses

        settings = {k: v for k, v in self.light.items() if k not in LIGHT_KEYS}
        table = {**self.model.as_dict(), **settings}
        if not isinstance(self.model, SegmentSettings):
            table.pop("type", None)
        features = self.light.get("features", self.features)
        said = [f"{k} = {v}" for k, v in settings.items()]
        if features != self.features:
            said.insert(0, f"features = {' + '.join(features)} instead of {' + '.join(self.features)}")
        return dataclasses.replace(self, model=model_settings(self.path, table), light={}, features=list(features),
                                   description=self.light.get("description", self.description)
                                   + (" (light settings: " + ", ".join(said) + ")" if said else ""))

    def describe(self) -> dict:
        """What goes into the submission's README.  A fused run has no model: its model line
        names the runs it fuses (``fused_runs``, their numbers), its settings are the folds (and
        their seed) on which the weights are chosen; :func:`mediaeval.fusion.describe_fused` adds
        the weights once chosen."""
        out = {"description": self.description, "features": list(self.features), "external_data": self.external_data}
        chosen = {} if self.criterion is None else {"criterion": self.criterion}
        if self.fused:
            return {**out, "model": f"late fusion (weighted mean, weights by nested CV over films) of {self.subtask} "
                                    f"runs {', '.join(map(str, self.fuse))}",
                    "fused_runs": list(self.fuse), "settings": {"seed": self.seed, "folds": self.folds, **chosen}}
        return {**out, "model": (self.model.describe() if isinstance(self.model, SegmentSettings) else
                                 f"BatchNorm, Dropout, LSTM({self.model.lstm_units}), Dropout, Dense")
                + (f"; mean of {self.seeds} seeds" if self.seeds > 1 else "")
                + (f"; test predictions: mean of the {self.folds} fold models" if self.ensemble == "folds" else ""),
                "settings": {"seed": self.seed, "folds": self.folds, **chosen, **self.model.as_dict()}}

    def to_data(self) -> dict:
        """The definition as JSON-ready data: every field but ``path``, every model setting
        (``None`` included), but ``criterion`` only when set (so that runs defined before it existed
        keep their digest).  ``run_from_data(path, config.to_data()) == config`` up to ``path``."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("model", "path")}
        if self.criterion is None:
            del data["criterion"]
        if self.fused:   # a fused run has no model of its own
            return {**data, "features": list(self.features), "fuse": list(self.fuse)}
        return {**data, "features": list(self.features), "fuse": list(self.fuse), "model": self.model.as_dict()}

    def digest(self) -> str:
        """sha256 of the canonical definition: equal digests, equal runs."""
        return hashlib.sha256(json.dumps(self.to_data(), sort_keys=True).encode()).hexdigest()

    def to_toml(self) -> str:
        """The definition as the text of a run file, which :func:`load_run` reads back to an equal
        definition (``to_data`` alike): every field, then the ``[model]`` table (none for a fused
        run) and the ``[light]`` one if any.  A ``None`` setting is left out (TOML has no null;
        every setting that may be ``None`` defaults to it), as are an empty ``fuse`` and ``light``."""
        data = self.to_data()
        model, light = data.pop("model", None), data.pop("light")
        if not data["fuse"]:
            del data["fuse"]
        lines = _toml_lines(data)
        for name, table in (("model", model), ("light", light)):
            if table:
                lines += ["", f"[{name}]", *_toml_lines(table)]
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        """The definition as TOML text, for a model folder's ``run.toml``: its file's own text
        (comments kept) when that file still loads to this very definition, else
        :meth:`to_toml` (a run built or changed in code, a :meth:`lightened` one), checked to
        load back to it (:class:`DataError` naming the file, or ``<name>.toml`` for a run built
        in code, otherwise)."""
        if self.path is not None:
            try:
                written = self.path.read_text(encoding="utf-8")
                if _run_from_text(self.path, written).to_data() == self.to_data():
                    return written
            except (OSError, UnicodeDecodeError, DataError):
                pass
        return _checked_toml(self, self.path or Path(f"{self.name}.toml"))


def _checked_toml(config: RunConfig, path: Path) -> str:
    """:meth:`RunConfig.to_toml`, checked to read back (as ``path``) to ``config``, to be UTF-8,
    and to hold only what TOML can (:class:`DataError` naming ``path`` and the key otherwise:
    a setting out of its range, an int beyond 64 bits, a ``None`` in ``[light]``, ...)."""
    text = config.to_toml()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataError(path, f"expected text that UTF-8 can write, got {text[error.start:error.end]!r} "
                              f"(a lone surrogate) in the definition") from None
    loaded = _run_from_text(path, text)
    if loaded.to_data() != config.to_data():   # a value TOML cannot hold as it is
        raise DataError(path, "the definition does not survive as TOML: "
                              + "; ".join(changes(config.to_data(), loaded.to_data())))
    return text


def _toml_value(value) -> str:
    """One value of a run definition as TOML: a string (as JSON writes it, whose escapes are
    TOML's; characters beyond ASCII written as they are, since TOML refuses JSON's surrogate
    pairs, and DEL escaped, which TOML wants escaped), a bool, a number, or an array of them.

    >>> _toml_value(["a", 1, 2.5, True, 1e-05])
    '["a", 1, 2.5, true, 1e-05]'
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"a run definition holds no {type(value).__name__} ({value!r})")


def _toml_lines(table: dict) -> list[str]:
    """``key = value`` lines of a table, its ``None`` values left out."""
    return [f"{key} = {_toml_value(value)}" for key, value in table.items() if value is not None]


def _type_error(hint, value) -> str | None:
    """What ``value`` should have been to match the annotation ``hint``, or None if it matches.
    Handles ``X | None``, ``Literal[...]``, ``list[X]``, and bool apart from int (an int is a
    float); a float must be finite, an int fit in 64 bits (TOML's range)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = [_type_error(a, value) for a in args if a is not type(None)]
        return None if None in errors else " or ".join(errors)
    if origin is typing.Literal:
        return None if value in args else "one of " + ", ".join(json.dumps(a) for a in args)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)) or (origin is list and not isinstance(value, list)):
            return f"a list of {args[0].__name__}"
        bad = [_type_error(args[0], v) for v in value]
        return None if not any(bad) else f"a list of {args[0].__name__}"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):   # no setting means anything by inf or nan
            return "a finite float"
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -2**63 <= value < 2**63:   # TOML's integers are 64-bit
            return "an int of 64 bits"
    else:
        ok = isinstance(value, hint)
    return None if ok else hint.__name__


def _checked(path, key: str, hint, value):
    """``value`` if it matches ``hint`` (an int given for a float becomes a float), else DataError."""
    expected = _type_error(hint, value)
    if expected is not None:
        raise DataError(path, f"{key}: expected {expected}, got {value!r}")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(hint) is tuple:   # a TOML array for a tuple field (numbers as floats where asked)
        item = typing.get_args(hint)[0]
        return tuple(float(v) if item is float and not isinstance(v, bool) else v for v in value)
    return float(value) if is_int and float in (hint, *typing.get_args(hint)) else value


MODEL_TYPES = ("lstm", *FAMILIES)
LIGHT_KEYS = ("features", "description")   # the keys of [light] that are not [model] settings


def _check_light(path, data: dict, table: dict) -> None:
    """The ``[light]`` table: ``[model]`` settings that load beside ``table`` (not ``type``),
    and optionally ``features``, a non-empty list of registered extractors or of the run's own
    features, with a ``description`` of the run on them; :class:`DataError` names ``path`` and
    the key."""
    light = data.get("light", {})
    settings_names = set(typing.get_type_hints(ModelSettings)) | set(typing.get_type_hints(SegmentSettings))
    unknown = sorted(set(light) - settings_names - set(LIGHT_KEYS))
    if unknown or "type" in light:
        raise DataError(path, f"light.{(unknown or ['type'])[0]}: expected a [model] setting to lighten (not type), "
                              f"features or description")
    if data.get("fuse") and set(light) & set(LIGHT_KEYS):
        raise DataError(path, "light: a fused run (fuse = [...]) has no features of its own to lighten")
    if "description" in light:
        _checked(path, "light.description", str, light["description"])
        if "features" not in light:
            raise DataError(path, "light.description: only beside light.features (the run's own description "
                                  "holds for its own features)")
    if "features" in light:
        _check_light_features(path, light, data["features"])
    settings = {k: v for k, v in light.items() if k not in LIGHT_KEYS}
    if settings:
        try:
            model_settings(path, {**table, **settings})
        except DataError as error:
            raise DataError(path, "light: " + error.message) from None


def _check_light_features(path, light: dict, own: list[str]) -> None:
    """``[light] features``: a non-empty list of names, each a registered extractor or one of the
    run's ``own`` features (an imported set, say), and a ``description`` beside it."""
    from .features import available

    names = _checked(path, "light.features", list[str], light["features"])
    if not names:
        raise DataError(path, "light.features: expected a non-empty list of extractor names")
    known = available()
    for name in names:
        if name not in known and name not in own:
            raise DataError(path, f"light.features: unknown extractor {name!r}; expected one of "
                                  f"{', '.join(known)}, or one of the run's own features")
    if len(set(names)) < len(names):
        raise DataError(path, f"light.features: a name is given twice: {', '.join(names)}")
    if "description" not in light:
        raise DataError(path, "light.description: missing; [light] features = [...] needs the description "
                              "of the run on them (the run's own names the features it replaces)")


def model_settings(path, table: dict) -> ModelSettings | SegmentSettings:
    """The ``[model]`` table checked against its family's settings: ``type = "lstm"`` (the
    default, :class:`ModelSettings`) or a per-segment family (:class:`SegmentSettings`); names
    and types from the dataclass's annotations, ranges from :data:`mediaeval.model.SETTING_RANGES`
    or :meth:`SegmentSettings.check`."""
    kind = table.get("type", "lstm")
    if kind not in MODEL_TYPES:
        raise DataError(path, f"model.type: expected one of {', '.join(MODEL_TYPES)}, got {kind!r}")
    family = ModelSettings if kind == "lstm" else SegmentSettings
    if family is ModelSettings:
        table = {k: v for k, v in table.items() if k != "type"}
    hints = typing.get_type_hints(family)
    values = {}
    for key, value in table.items():
        if key not in hints:
            raise DataError(path, f"model.{key}: unknown setting of type {kind!r}; expected one of "
                                  f"{', '.join(h for h in hints if h != 'type')}")
        values[key] = _checked(path, f"model.{key}", hints[key], value)
        allowed = SETTING_RANGES.get(key) if family is ModelSettings else None
        if allowed is not None and values[key] is not None and values[key] not in allowed:
            raise DataError(path, f"model.{key}: expected {allowed}, got {value!r}")
    settings = family(**values)
    problems = settings.check()
    if problems:
        raise DataError(path, f"model.{problems[0]}")
    return settings


def run_from_data(path, data: dict) -> RunConfig:
    """A checked :class:`RunConfig` from parsed data (a run TOML, or a model folder's stored
    definition); :class:`DataError` names ``path`` and the key."""
    if not isinstance(data, dict):
        raise DataError(path, "expected a table of run settings")
    data = dict(data)
    hints = {k: v for k, v in typing.get_type_hints(RunConfig).items() if k not in ("model", "path")}
    for key, value in data.items():
        if key not in hints and key != "model":
            raise DataError(path, f"unknown key {key!r}; expected one of {', '.join([*hints, 'model'])}")
        if key != "model":
            data[key] = _checked(path, key, hints[key], value)
    if data.get("fuse"):
        if "model" in data:
            raise DataError(path, "model: a fused run (fuse = [...]) trains no model of its own; remove [model]")
        if len(set(data["fuse"])) < 2 or not all(1 <= n <= 5 for n in data["fuse"]):
            raise DataError(path, f"fuse: expected at least 2 distinct run numbers from 1 to 5, got {data['fuse']}")
        data.setdefault("features", [])
    for key in ("subtask", "run", "description", "features"):
        if key not in data:
            raise DataError(path, f"missing key {key!r}")
    if data["subtask"] not in SUBTASKS:
        raise DataError(path, f"subtask: expected one of {', '.join(SUBTASKS)}, got {data['subtask']!r}")
    if not 1 <= data["run"] <= 5:
        raise DataError(path, f"run: expected 1 to 5, got {data['run']}")
    if not data["features"] and not data.get("fuse"):
        raise DataError(path, "features: expected a non-empty list of extractor names")
    twice = sorted({name for name in data["features"] if data["features"].count(name) > 1})
    if twice:
        raise DataError(path, f"features: {', '.join(map(repr, twice))} named twice; expected each feature set once")
    if data.get("folds", 5) < 2:
        raise DataError(path, "folds: expected at least 2")
    if not 1 <= data.get("seeds", 1) <= 2**32:
        raise DataError(path, f"seeds: expected 1 to 2**32, got {data['seeds']}")
    seed, last = data.get("seed", 0), 2**32 - data.get("seeds", 1)
    if not 0 <= seed <= last:   # seeds seed, seed + 1, ... seed NumPy's and scikit-learn's generators
        raise DataError(path, f"seed: expected 0 to {last}" + (f" (with seeds = {data['seeds']}, the last seed "
                              f"is below 2**32)" if data.get("seeds", 1) > 1 else "") + f", got {seed}")
    if data.get("criterion") is not None:
        try:
            SUBTASKS[data["subtask"]].criterion_of(data["criterion"])
        except ValueError as error:
            raise DataError(path, str(error)) from None
    table = data.pop("model", {})
    if not isinstance(table, dict):
        raise DataError(path, f"model: expected a table, got {table!r}")
    settings = model_settings(path, table)
    task, loss = SUBTASKS[data["subtask"]], getattr(settings, "loss", None)
    if loss is not None and loss not in task.losses:
        others = " and ".join(t.title for t in SUBTASKS.values() if loss in t.losses)
        raise DataError(path, f"model.loss: \"{loss}\" is for {others}; {task.name} trains on {task.loss_text}")
    _check_light(path, data, table)
    return RunConfig(model=settings, path=Path(path), **data)


def load_run(path) -> RunConfig:
    """Read and check a run definition; :class:`DataError` names the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read: {error}") from error
    return _run_from_text(path, text)


def _run_from_text(path, text: str) -> RunConfig:
    """The checked definition the TOML ``text`` of ``path`` holds."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DataError(path, f"expected TOML: {error}") from error
    return run_from_data(path, data)


def save_run(config: RunConfig, path) -> Path:
    """Write ``config`` as a new run file ``path`` (:meth:`RunConfig.to_toml`), complete or not
    at all; an existing ``path`` (a link too, even a broken one) is refused and left as it is,
    and so is one made meanwhile by another process.  The text is checked first to load back to
    this definition (:class:`DataError` naming ``path`` and the key otherwise, say for a setting
    out of its range).  Returns ``path``."""
    import os
    import tempfile

    path = Path(path)
    if path.exists() or path.is_symlink():
        raise DataError(path, "exists; save_run writes a new run file and overwrites none: remove it or "
                              "choose another name")
    text = _checked_toml(config, path)
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


def changes(old, new, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two nested dicts (dotted keys).

    >>> changes({"a": 1, "m": {"u": 512, "d": 0.5}}, {"a": 1, "m": {"u": 64, "d": 0.5}, "b": 2})
    ['b: (none) -> 2', 'm.u: 512 -> 64']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(set(old) | set(new), key=str)
                for line in changes(old.get(key, _NONE), new.get(key, _NONE), f"{prefix}{key}.")]
    if old == new and isinstance(old, bool) == isinstance(new, bool):
        return []
    show = lambda v: "(none)" if v is _NONE else json.dumps(v)  # noqa: E731
    return [f"{prefix[:-1]}: {show(old)} -> {show(new)}"]


_NONE = object()


def find_runs(folder) -> list[RunConfig]:
    """Every ``*.toml`` run under ``folder``, checking at most 5 per subtask and unique numbers."""
    runs = [load_run(p) for p in sorted(Path(folder).rglob("*.toml"))]
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
