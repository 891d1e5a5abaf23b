"""Issue 22 item 5: a lockbox, development films that no choice of a submission sees.

Chosen once (seeded, stratified for fear), recorded beside the runs, left out of every fold of
every repeat, every inner choice, every fusion weight and the final models' training, scored once
by the submitted models, and shown apart on the leaderboard.  Trained for real: per-segment ridge
and logistic regression on generated annotation-only films with imported 1 Hz tables."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_runs_close, invoke, random_walk_film, write_annotations, write_feature_table
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError, MediaevalError
from mediaeval.folds import read_repeats
from mediaeval.leaderboard import ranked, read_entry, to_flat_records, to_records
from mediaeval.lockbox import LOCKBOX_FILE, Lockbox, choose_lockbox, find_lockbox, quotas, strata
from mediaeval.run_files import RunFile
from mediaeval.runs import RunDefinition, find_runs
from mediaeval.scoring import score_run
from mediaeval.training import train_run

RUN = """subtask = "{subtask}"
run = {run}
description = "per segment, every choice fixed but the regularisation"
features = ["mine"]
seed = 0
folds = 3
{extra}
[model]
type = "ridge"
context = 1
alphas = {alphas}
smoothing = [2.0]
calibrate = false
inner_folds = 3
"""


def _write_films(root, src, n: int = 12, seed: int = 1) -> None:
    """``n`` annotation-only films of 40-62 segments (random-walk curves), fear where arousal is
    high in two films of three (none in the others), and their 1 Hz tables: a cue of each curve in
    slow noise, and a column of noise."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    src.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        k = 40 + 2 * i
        seconds, curve, segments = random_walk_film(rng, k)
        fear = (segments[:, 1] > np.quantile(segments[:, 1], 0.8)).astype(int) if i % 3 else np.zeros(k, int)
        write_annotations(root, f"Film_{i:02d}", valence_arousal=segments, fear=fear)
        slow = lfilter([np.sqrt(1 - 0.9 ** 2)], [1, -0.9], rng.normal(0, 1, (seconds, 3)), axis=0)
        z = (curve - curve.mean(axis=0)) / (curve.std(axis=0) + 1e-9)
        table = np.c_[0.5 * z + slow[:, :2], slow[:, 2:]] * rng.lognormal(0, 0.3, 3) + rng.normal(0, 1, 3)
        write_feature_table(src / f"Film_{i:02d}.csv", "v,a,n", table)


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    base = tmp_path_factory.mktemp("lockbox")
    _write_films(base / "data", base / "src")
    result = invoke("import-features", base / "src", "--dataset", base / "data", "--out", base / "features",
                    "--name", "mine")
    assert result.exit_code == 0, result.output
    return base, Dataset.discover(base / "data")


def _run(base: Path, name: str, subtask: str = "valence_arousal", run: int = 1, alphas: str = "[1.0, 100.0]",
         extra: str = "") -> Path:
    path = base / "runs" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(RUN.format(subtask=subtask, run=run, alphas=alphas, extra=extra))
    return path


@pytest.fixture(scope="module")
def boxed(films):
    """A lockbox of 4 films (chosen by mediaeval lockbox), two valence/arousal runs trained with
    it over 2 repeats, a fear run, and the fusion of the two valence/arousal runs."""
    from mediaeval.fusion import fuse_trained

    base, dataset = films
    (base / "runs").mkdir(exist_ok=True)
    result = invoke("lockbox", "--dataset", dataset.root, "--runs", base / "runs", "--count", "4")
    assert result.exit_code == 0, result.output
    lockbox = Lockbox.load(base / "runs" / LOCKBOX_FILE)
    models = base / "models"
    folders = {}
    for name, kwargs in (("valence_arousal_run1", {"extra": "folds_repeats = 2\n"}),
                         ("valence_arousal_run2", {"run": 2, "alphas": "[10.0]", "extra": "folds_repeats = 2\n"}),
                         ("fear_run1", {"subtask": "fear"})):
        config = RunDefinition.load(_run(base, name, **kwargs))
        folders[name] = train_run(config, dataset, base / "features", models / name, "T", progress=False,
                                  lockbox=lockbox).model_dir
    fused = RunDefinition.load(_write(base / "runs" / "run5.toml", 'subtask = "valence_arousal"\nrun = 5\n'
                                      'description = "1 and 2"\nfuse = [1, 2]\nfolds = 3\nfolds_repeats = 2\n'))
    folders["valence_arousal_run5"] = fuse_trained(fused, dataset, models, "T", lockbox)[0]
    return base, dataset, lockbox, folders


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- choosing one


def test_quotas_give_each_stratum_its_share_and_every_large_one_a_film():
    assert quotas([8, 4, 4], 4) == [2, 1, 1]
    assert quotas([20, 10], 6) == [4, 2] and quotas([28, 2], 6) == [5, 1] and quotas([29, 1], 6) == [6, 0]
    assert quotas([25, 3, 2], 3) == [1, 1, 1]       # 2.5, 0.3, 0.2: each stratum of 2 or more gives one
    assert sum(quotas([13, 9, 8], 7)) == 7


def test_a_lockbox_is_drawn_within_the_fear_strata_seeded_and_written_once(films, tmp_path):
    base, dataset = films
    groups = strata(dataset)
    assert [len(v) for v in groups.values()] == [8, 4, 0]           # fear in two films of three
    box = choose_lockbox(dataset, count=4, seed=0)
    assert [sum(n in box.films for n in names) for names in groups.values()] == [3, 1, 0]
    assert box == choose_lockbox(dataset, count=4, seed=0) and box.films != choose_lockbox(dataset, count=4,
                                                                                            seed=1).films
    assert box.films == tuple(sorted(box.films)) and box.count == 4 and box.share is None
    share = choose_lockbox(dataset, seed=0)                                 # the default: a fifth, rounded
    assert len(share.films) == 2 and share.share == 0.2 and share.count is None
    with pytest.raises(MediaevalError, match="leaves 1 with valence_arousal annotations to train on"):
        choose_lockbox(dataset, count=11)
    path = box.save(tmp_path / LOCKBOX_FILE)
    text = path.read_text()
    assert text.startswith("# The lockbox of a submission (mediaeval lockbox)")
    assert f"films = {json.dumps(list(box.films))}\nseed = 0\ncount = 4\n" in text
    assert Lockbox.load(path) == dataclasses.replace(box, path=path)
    with pytest.raises(DataError, match="exists: a lockbox is chosen once"):
        box.save(path)
    assert path.read_text() == text


def test_the_lockbox_command_writes_beside_the_runs_which_do_not_read_it_as_a_run(films, tmp_path):
    base, dataset = films
    runs = tmp_path / "runs"
    _run(tmp_path, "run1")
    result = invoke("lockbox", "--dataset", dataset.root, "--runs", runs, "--share", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    chosen = choose_lockbox(dataset, share=0.25, seed=3)
    assert result.output == (f"wrote {runs / LOCKBOX_FILE}: 3 development films set aside: {', '.join(chosen.films)}\n"
                             f"fear: 2 of 8; no fear: 1 of 4\n")
    assert find_lockbox(runs).films == chosen.films and [r.name for r in find_runs(runs)] == ["valence_arousal_run1"]
    again = invoke("lockbox", "--dataset", dataset.root, "--runs", runs)
    assert again.exit_code == 1 and "exists: a lockbox is chosen once" in again.output
    assert find_lockbox(tmp_path) is None
    said = " ".join(invoke("lockbox", "--help").output.split())   # as wrapped at any width
    assert "--share FLOAT RANGE" in said and "[default: 0.2; 0<x<1]" in said and "[default: runs]" in said


@pytest.mark.parametrize("text, said", [
    ('films = []\n', "films: expected a non-empty list"),
    ('films = ["Film_01", "Film_01"]\n', "films: Film_01 named twice"),
    ('films = ["Film_01"]\nshare = 2.0\n', "share: expected greater than 0 and less than 1, got 2.0"),
    ('films = ["Film_01"]\nfilm = 1\n', "unknown key 'film'; expected films, seed, share or count"),
    ('films = ["Nowhere"]\n', "films: Nowhere is not a development film of"),
    ('films = [', "expected TOML"),
])
def test_a_wrong_lockbox_is_one_line_naming_the_file(films, tmp_path, text, said):
    base, dataset = films
    path = _write(tmp_path / LOCKBOX_FILE, text)
    result = invoke("train", _run(tmp_path, "run1"), "--dataset", dataset.root, "--features", base / "features",
                    "--out", tmp_path / "m", "--lockbox", path)
    assert result.exit_code == 1 and result.output.startswith(f"Error: {path}: ") and said in result.output
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------------------- trained with one


def test_lockbox_films_are_in_no_fold_no_model_and_no_out_of_fold_file(boxed):
    base, dataset, lockbox, folders = boxed
    held = set(lockbox.films)
    for name, folder in folders.items():
        repeats = read_repeats(folder / "folds.json")
        assert len(repeats) == (1 if name == "fear_run1" else 2)
        for folds in repeats:                                             # every fold of every repeat
            films = {n for fold in folds for n in fold}
            assert len(films) == 8 and not films & held, name
        for settings in folder.rglob("settings.json"):                    # every fold model and final model
            trained_on = set(json.loads(settings.read_text())["train_films"])
            assert trained_on and not trained_on & held, settings
        for run_file in [folder / f"me17ei_T_{name[:-5]}_{name[-4:]}.txt", *folder.glob("repeat*/*.txt")]:
            assert not set(RunFile.read(run_file).films) & held, run_file
        manifest = json.loads((folder / "model.json").read_text())
        assert manifest["lockbox"] == sorted(held) and set(json.loads((folder / "lockbox.json").read_text())
                                                           ["per_film"]) == held
    final = json.loads((folders["valence_arousal_run1"] / "final/seed0/settings.json").read_text())
    assert sorted(final["train_films"]) == sorted(f.name for f in dataset.dev_films if f.name not in held)


def test_the_fusion_never_chooses_on_the_lockbox_and_applies_its_weights_to_it_once(boxed):
    from mediaeval.fusion import Fusion, columns, read_runs
    from mediaeval.task import VALENCE_AROUSAL

    base, dataset, lockbox, folders = boxed
    fused = folders["valence_arousal_run5"]
    for folds in read_repeats(fused / "folds.json"):
        assert not {n for fold in folds for n in fold} & set(lockbox.films)
    weights = json.loads((fused / "fusion.json").read_text())
    parts = [columns(r, VALENCE_AROUSAL) for r in read_runs(
        [folders[f"valence_arousal_run{n}"] / f"lockbox/me17ei_T_valence_arousal_run{n}.txt" for n in (1, 2)])]
    expected = Fusion(np.asarray(weights["weights"]), weights["threshold"]).rows(parts, VALENCE_AROUSAL)
    written = RunFile.read(fused / "lockbox/me17ei_T_valence_arousal_run5.txt").films
    assert sorted(written) == list(lockbox.films)
    for film, rows in expected.items():     # tolerance: the fused file holds six decimals
        np.testing.assert_allclose(written[film], rows, rtol=0, atol=5e-7)
    assert json.loads((fused / "model.json").read_text())["lockbox"] == list(lockbox.films)
    other = dataclasses.replace(lockbox, films=lockbox.films[:2])
    from mediaeval.fusion import fuse_trained

    with pytest.raises(DataError, match="was trained with the lockbox .*; the fused run valence_arousal_run5 has the "
                                        "lockbox"):
        fuse_trained(RunDefinition.load(base / "runs" / "run5.toml"), dataset, base / "models", "T", other)


def test_the_lockbox_is_predicted_once_by_the_submitted_models(boxed, tmp_path):
    base, dataset, lockbox, folders = boxed
    folder = folders["valence_arousal_run1"]
    lockbox_run = folder / "lockbox/me17ei_T_valence_arousal_run1.txt"
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", folder, "--dataset", dataset.root, "--features", base / "features", "--films",
                    ",".join(lockbox.films), "--out", out)
    assert result.exit_code == 0, result.output
    assert_runs_close(out, lockbox_run, atol=1e-6)          # the final model, loaded: what the lockbox holds
    assert "in_sample_films" not in json.loads(out.with_name(out.name + ".json").read_text())   # never seen
    stored = json.loads((folder / "lockbox.json").read_text())
    rescored = score_run(lockbox_run, dataset).to_json()
    for key in ("valence_mse", "arousal_mse", "arousal_pcc"):   # tolerance: the run file's six decimals
        assert stored["official"][key] == pytest.approx(rescored["official"][key], abs=1e-5)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (lockbox_run, folder / "lockbox.json")}
    again = train_run(RunDefinition.load(base / "runs" / "valence_arousal_run1.toml"), dataset, base / "features",
                      folder, "T", progress=False, lockbox=lockbox)
    assert again.skipped and again.lockbox.to_json() == stored          # scored once: not again
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before


def test_a_run_whose_test_predictions_are_its_fold_models_has_its_lockbox_predicted_by_them(films, tmp_path):
    from mediaeval.film_data import load_films
    from mediaeval.prediction import ensemble_dirs, ensemble_rows
    from mediaeval.segment_models import SegmentModel
    from mediaeval.task import VALENCE_AROUSAL

    base, dataset = films
    lockbox = choose_lockbox(dataset, count=3, seed=2)
    config = RunDefinition.load(_run(tmp_path, "folds", extra='ensemble = "folds"\nfolds_repeats = 2\n'))
    folder = train_run(config, dataset, base / "features", tmp_path / "m", "T", progress=False,
                       lockbox=lockbox).model_dir
    data = load_films(dataset, base / "features", ["mine"], [dataset.films[n] for n in lockbox.films],
                      VALENCE_AROUSAL, with_labels=False)
    dirs = ensemble_dirs(folder, config)
    assert [d.relative_to(folder).as_posix() for d in dirs] == ["fold1/seed0", "fold2/seed0", "fold3/seed0"]
    per_model = [SegmentModel.load(d / "segment_model.pkl").predictions(data) for d in dirs]
    written = RunFile.read(folder / "lockbox/me17ei_T_valence_arousal_run1.txt").films
    for i, film in enumerate(data):          # tolerance: the run file's six decimals
        np.testing.assert_allclose(written[film.name], ensemble_rows([m[i] for m in per_model], VALENCE_AROUSAL),
                                   rtol=0, atol=5e-7)


def test_another_lockbox_retrains_and_none_is_no_lockbox(boxed, tmp_path):
    import shutil

    base, dataset, lockbox, folders = boxed
    said = []
    config = RunDefinition.load(base / "runs" / "fear_run1.toml")
    other = dataclasses.replace(lockbox, films=lockbox.films[1:])
    copy = shutil.copytree(folders["fear_run1"], tmp_path / "fear")
    result = train_run(config, dataset, base / "features", copy, "T", progress=False, echo=said.append, lockbox=other)
    assert not result.skipped and said[0].endswith(
        f"retraining: lockbox: {json.dumps(sorted(lockbox.films))} -> {json.dumps(sorted(other.films))}")
    plain = train_run(config, dataset, base / "features", tmp_path / "plain", "T", progress=False)
    assert plain.lockbox is None and not (plain.model_dir / "lockbox.json").exists()
    assert "lockbox" not in json.loads((plain.model_dir / "model.json").read_text())
    annotated = Lockbox(("Film_00", "Film_03", "Film_06", "Film_09"))   # the films without fear
    assert [f.name for f in annotated.films_of(config.task, dataset)] == list(annotated.films)


# --------------------------------------------------------------------------- shown apart


def test_the_leaderboard_shows_the_lockbox_apart_and_ranks_by_out_of_fold_figures_only(boxed):
    base, dataset, lockbox, folders = boxed
    va = [folders[f"valence_arousal_run{n}"] for n in (1, 2, 5)]
    entries = [read_entry(folder, dataset) for folder in va]
    board = ranked(entries)
    blind = ranked([dataclasses.replace(e, lockbox=None, lockbox_baseline=None) for e in entries])
    assert [e.name for e in board["valence_arousal"]] == [e.name for e in blind["valence_arousal"]]
    assert [e.evidence.figures for e in board["valence_arousal"]] == [e.evidence.figures
                                                                      for e in blind["valence_arousal"]]
    records = to_records(board)
    assert all(r["films"] == 8 for r in records)                    # out of fold: the 8 other films
    for record in records:
        box = record["lockbox"]
        assert box["films"] == list(lockbox.films) and set(box["figures"]) == set(record["figures"])
        stored = json.loads((Path(record["path"]) / "lockbox.json").read_text())
        assert box["figures"]["valence_mse"]["value"] == pytest.approx(stored["official"]["valence_mse"],
                                                                       abs=1e-12)
        low, high = box["figures"]["arousal_mse"]["ci"]
        assert low <= box["figures"]["arousal_mse"]["value"] <= high and set(box["vs_constant"]) == {
            "valence_mse", "arousal_mse"}
    assert "lockbox" not in to_records(blind)[0]
    flat = to_flat_records(board)[0]
    assert flat["lockbox_films"] == 4 and {"lockbox_valence_mse", "lockbox_valence_mse_ci_low",
                                           "lockbox_constant_arousal_mse", "lockbox_vs_constant_arousal_mse_verdict"
                                           } <= set(flat)
    text = invoke("leaderboard", *va, "--dataset", dataset.root).output
    section = text.split("  lockbox: ")[1]
    assert section.startswith(f"the 4 development films set aside from every choice and predicted once by the "
                              f"submitted models ({', '.join(lockbox.films)})")
    assert "a sanity check that the out-of-fold figures hold on films that no choice saw, not a ranking: 4 films " \
           "give wide intervals" in section
    assert text.index("  1. ") < text.index("  lockbox: ") and section.count("out of fold") == 3
    markdown = invoke("leaderboard", *va, "--dataset", dataset.root, "--markdown").output
    assert "**valence_arousal, lockbox.** Lockbox: figures on the 4 development films" in markdown
    assert markdown.count("| constant (training mean) |") == 2
    latex = invoke("leaderboard", *va, "--dataset", dataset.root, "--latex").output
    assert r"\label{tab:valence-arousal-lockbox}" in latex and latex.count(r"\begin{table*}") == 2
    fear = invoke("leaderboard", folders["fear_run1"], "--dataset", dataset.root).output
    assert "  lockbox: the 4 development films" in fear and "map" in fear.split("  lockbox: ")[1]


def test_the_pipeline_honours_the_lockbox_beside_the_runs(tmp_path):
    """runs/lockbox.toml of mediaeval lockbox: every run and the fusion trained without its films,
    the leaderboard printing their figures apart; --no-lockbox trains them again on every film."""
    from mediaeval.sample import make_sample

    root = tmp_path / "data"
    make_sample(root, films=6, test_films=1, durations=(12.0, 16.0), seed=3, jobs=1, progress=False)
    dataset = Dataset.discover(root)
    src = tmp_path / "tables"
    src.mkdir()
    for film in dataset.films.values():
        rows = ["time,a,b"] + [f"{t + 0.5},{np.sin(t / 3 + len(film.name)):.4f},{t % 5}" for t in range(14)]
        (src / f"{film.name}.csv").write_text("\n".join(rows) + "\n")
    assert invoke("import-features", src, "--dataset", root, "--out", tmp_path / "features", "--name",
                  "mine").exit_code == 0
    runs = tmp_path / "runs"
    runs.mkdir()
    for n, alphas in ((1, "[1.0]"), (2, "[100.0]")):
        _write(runs / f"run{n}.toml", f'subtask = "valence_arousal"\nrun = {n}\ndescription = "ridge {n}"\n'
                                      f'features = ["mine"]\nfolds = 2\n[model]\ntype = "ridge"\ninner_folds = 2\n'
                                      f'alphas = {alphas}\n')
    _write(runs / "run5.toml", 'subtask = "valence_arousal"\nrun = 5\ndescription = "fused"\nfuse = [1, 2]\n'
                               'folds = 2\n')
    assert invoke("lockbox", "--dataset", root, "--runs", runs, "--count", "2").exit_code == 0
    boxed = Lockbox.load(runs / LOCKBOX_FILE).films
    args = ["pipeline", "--dataset", root, "--team", "T", "--runs", runs, "--features", tmp_path / "features",
            "--models", tmp_path / "models", "--out", tmp_path / "submission"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert f"lockbox: 2 development films set aside from every choice ({runs / LOCKBOX_FILE}): " \
           f"{', '.join(boxed)}" in result.output
    assert "  lockbox: the 2 development films set aside from every choice" in result.output
    for n in (1, 2, 5):
        folder = tmp_path / "models" / f"valence_arousal_run{n}"
        assert json.loads((folder / "model.json").read_text())["lockbox"] == list(boxed)
        assert not {m for fold in read_repeats(folder / "folds.json")[0] for m in fold} & set(boxed)
    again = invoke(*args, "--no-lockbox")
    assert again.exit_code == 0 and again.output.count(f"retraining: lockbox: {json.dumps(list(boxed))} -> []") == 2
    assert "  lockbox: " not in again.output
    assert "lockbox" not in json.loads((tmp_path / "models/valence_arousal_run5/model.json").read_text())
