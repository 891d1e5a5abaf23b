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

    [model]                          # any field of mediaeval.model.ModelSettings
    lstm_units = 512
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import DataError
from .model import ModelSettings
from .submission import SUBTASKS

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
    model: ModelSettings = field(default_factory=ModelSettings)
    path: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.subtask}_run{self.run}"

    def describe(self) -> dict:
        """What goes into the submission's README."""
        return {"description": self.description, "features": list(self.features),
                "external_data": self.external_data,
                "model": f"BatchNorm, Dropout, LSTM({self.model.lstm_units}), Dropout, Dense"
                         + (f"; mean of {self.seeds} seeds" if self.seeds > 1 else ""),
                "settings": {"seed": self.seed, "folds": self.folds, **self.model.as_dict()}}


_TOP = {"subtask": str, "run": int, "description": str, "features": list, "external_data": bool,
        "seed": int, "seeds": int, "folds": int, "model": dict}
_MODEL_TYPES = {f.name: f.type for f in fields(ModelSettings)}


def _check_type(path, key, value, expected) -> None:
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise DataError(path, f"{key}: expected {expected.__name__}, got {value!r}")


def load_run(path) -> RunConfig:
    """Read and check a run definition; :class:`DataError` names the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise DataError(path, f"expected TOML: {error}") from error
    for key, value in data.items():
        if key not in _TOP:
            raise DataError(path, f"unknown key {key!r}; expected one of {', '.join(_TOP)}")
        _check_type(path, key, value, _TOP[key])
    for key in ("subtask", "run", "description", "features"):
        if key not in data:
            raise DataError(path, f"missing key {key!r}")
    if data["subtask"] not in SUBTASKS:
        raise DataError(path, f"subtask: expected one of {', '.join(SUBTASKS)}, got {data['subtask']!r}")
    if not 1 <= data["run"] <= 5:
        raise DataError(path, f"run: expected 1 to 5, got {data['run']}")
    if not data["features"] or not all(isinstance(f, str) for f in data["features"]):
        raise DataError(path, "features: expected a non-empty list of extractor names")
    if data.get("folds", 5) < 2:
        raise DataError(path, "folds: expected at least 2")
    if data.get("seeds", 1) < 1:
        raise DataError(path, "seeds: expected at least 1")
    model_values = {}
    for key, value in data.pop("model", {}).items():
        if key not in _MODEL_TYPES:
            raise DataError(path, f"model.{key}: unknown setting; expected one of {', '.join(_MODEL_TYPES)}")
        expected = {"int": int, "float": float, "float | None": float}.get(str(_MODEL_TYPES[key]), float)
        _check_type(path, f"model.{key}", value, expected)
        model_values[key] = value
    return RunConfig(model=ModelSettings(**model_values), path=path, **data)


def find_runs(folder) -> list[RunConfig]:
    """Every ``*.toml`` run under ``folder``, checking at most 5 per subtask and unique numbers."""
    runs = [load_run(p) for p in sorted(Path(folder).rglob("*.toml"))]
    seen: dict[tuple[str, int], Path] = {}
    for run in runs:
        key = (run.subtask, run.run)
        if key in seen:
            raise DataError(run.path, f"{run.subtask} run {run.run} is also defined in {seen[key]}")
        seen[key] = run.path
    return runs
