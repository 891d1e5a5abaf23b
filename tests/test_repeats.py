"""Issue 22 item 3: repeated cross-validation (``folds_repeats``).

Figures averaged over repeats, each repeat's kept; the spread over repeats beside the spread over
films; the final models unchanged; one repeat exactly as before.  Trained for real: per-segment
ridge on generated annotation-only films with imported 1 Hz tables (fast)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, invoke, write_weak_films
from mediaeval import evidence
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.folds import read_repeats, repeated_folds, write_folds
from mediaeval.leaderboard import leaderboard, to_flat_records, to_records
from mediaeval.repeats import mean_over_repeats, spread
from mediaeval.runs import RunDefinition, find_runs
from mediaeval.scoring import Scores, score_folds, score_repeats
from mediaeval.task import VALENCE_AROUSAL
from mediaeval.training import train_run

RIDGE = """subtask = "valence_arousal"
run = {run}
description = "ridge per segment, every choice fixed"
features = ["mine"]
seed = {seed}
folds = 4
{repeats}
[model]
type = "ridge"
context = 1
alphas = [100.0]
smoothing = [2.0]
calibrate = false
inner_repeats = 1   # one inner split, as when the seeds below were measured
"""




def _films(base: Path, generator: int) -> Dataset:
    write_weak_films(base / "data", base / "src", seed=generator)
    result = invoke("import-features", base / "src", "--dataset", base / "data", "--out", base / "features",
                    "--name", "mine")
    assert result.exit_code == 0, result.output
    return Dataset.discover(base / "data")


def _train(base: Path, dataset, run: int, seed: int, repeats: str, name: str) -> Path:
    (base / f"{name}.toml").write_text(RIDGE.format(run=run, seed=seed, repeats=repeats))
    return train_run(RunDefinition.load(base / f"{name}.toml"), dataset, base / "features", base / name, "T",
                     progress=False).model_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Generated set 0: one recipe (seed 0) trained without folds_repeats, with folds_repeats = 1
    and with folds_repeats = 3."""
    base = tmp_path_factory.mktemp("repeats")
    dataset = _films(base, 0)
    folders = {name: _train(base, dataset, 1, 0, repeats, name)
               for name, repeats in (("plain", ""), ("one", "folds_repeats = 1\n"), ("three", "folds_repeats = 3\n"))}
    return dataset, folders


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the definition


def test_folds_repeats_defaults_to_one_and_keeps_every_shipped_digest(tmp_path):
    text = RIDGE.format(run=1, seed=0, repeats="")
    (tmp_path / "plain.toml").write_text(text)
    (tmp_path / "one.toml").write_text(text.replace("folds = 4\n", "folds = 4\nfolds_repeats = 1\n"))
    plain, one = RunDefinition.load(tmp_path / "plain.toml"), RunDefinition.load(tmp_path / "one.toml")
    assert plain.folds_repeats == 1 and "folds_repeats" not in plain.to_data() and plain.digest() == one.digest()
    assert "folds_repeats" not in plain.to_toml() and "folds_repeats" not in plain.describe()["settings"]
    for run in find_runs(REPO / "runs"):   # a run defined before the key keeps its digest: no retraining
        assert "folds_repeats" not in run.to_data() and run.folds_repeats == 1
    (tmp_path / "three.toml").write_text(text.replace("folds = 4\n", "folds = 4\nfolds_repeats = 3\n"))
    three = RunDefinition.load(tmp_path / "three.toml")
    assert three.to_data()["folds_repeats"] == 3 and three.digest() != plain.digest()
    assert three.describe()["settings"]["folds_repeats"] == 3 and "folds_repeats = 3\n" in three.to_toml()
    (tmp_path / "bad.toml").write_text(text.replace("folds = 4\n", "folds = 4\nfolds_repeats = 0\n"))
    with pytest.raises(DataError, match="folds_repeats: expected 1 to 1000, got 0"):
        RunDefinition.load(tmp_path / "bad.toml")


def test_repeats_are_the_folds_of_consecutive_seeds_and_a_folds_file_holds_them(tmp_path):
    films = [f"F{i}" for i in range(10)]
    repeats = repeated_folds(films, 3, seed=4, repeats=3)
    assert [sorted(n for f in folds for n in f) for folds in repeats] == [films] * 3
    assert len({json.dumps(folds) for folds in repeats}) == 3          # three different splits
    write_folds(tmp_path / "one.json", repeats[0], 4)
    assert json.loads((tmp_path / "one.json").read_text()) == {"seed": 4, "folds": repeats[0]}   # as before
    write_folds(tmp_path / "three.json", repeats[0], 4, repeats)
    data = json.loads((tmp_path / "three.json").read_text())
    assert data["folds"] == repeats[0] and [r["seed"] for r in data["repeats"]] == [4, 5, 6]
    assert read_repeats(tmp_path / "three.json") == repeats and read_repeats(tmp_path / "one.json") == repeats[:1]
    data["repeats"][2]["folds"][0].append("Elsewhere")
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="repeat 3 splits other films than 'folds'"):
        read_repeats(tmp_path / "bad.json")


# --------------------------------------------------------------------------- figures over repeats


def test_scores_over_repeats_are_the_mean_of_each_repeats_and_keep_them():
    rng = np.random.default_rng(0)
    truth = {f"F{i}": rng.uniform(-0.5, 0.5, (12, 2)) for i in range(6)}
    repeats = repeated_folds(truth, 3, seed=0, repeats=3)
    predictions = [{f: t + rng.normal(0, 0.1 * (r + 1), t.shape) for f, t in truth.items()} for r in range(3)]
    predictions[1]["F2"][:, 0] = 0.3                       # a constant: F2's valence PCC undefined in repeat 2
    scores = score_repeats(truth, predictions, repeats, VALENCE_AROUSAL, seed=7)
    each = [score_folds(truth, p, folds, VALENCE_AROUSAL) for p, folds in zip(predictions, repeats)]
    for key in ("valence_mse", "arousal_mse", "arousal_pcc", "valence_pcc_defined_films"):
        assert scores.official[key] == pytest.approx(np.mean([s.official[key] for s in each]), abs=1e-15)
        values, sd = scores.over_repeats(key)
        assert values == [s.official[key] for s in each] and sd == pytest.approx(np.std(values, ddof=1), abs=1e-15)
    assert math.isnan(scores.official["valence_pcc"]) and scores.over_repeats("valence_pcc")[1] is None
    assert math.isnan(scores.per_film["F2"]["valence_pcc"])                     # undefined in one repeat: undefined
    assert scores.per_film["F1"]["valence_mse"] == pytest.approx(
        np.mean([s.per_film["F1"]["valence_mse"] for s in each]), abs=1e-15)
    # a mean over films of the per-film means is the mean over repeats of the official figure
    assert np.mean([v["arousal_mse"] for v in scores.per_film.values()]) == pytest.approx(
        scores.official["arousal_mse"], abs=1e-12)
    assert [f["repeat"] for f in scores.folds] == [1] * 3 + [2] * 3 + [3] * 3 and scores.repeat_seeds == [7, 8, 9]
    assert any(n.startswith("repeat 2 (fold seed 8): valence_pcc: undefined for 1 of 6 films") for n in scores.notes)
    again = Scores.from_json(json.loads(json.dumps(scores.to_json())))
    assert json.dumps(again.to_json()) == json.dumps(scores.to_json())
    data = scores.to_json()
    assert data["over_repeats"]["arousal_mse"]["values"] == [s.official["arousal_mse"] for s in each]
    assert [r["seed"] for r in data["repeats"]] == [7, 8, 9] and "subtask" not in data["repeats"][0]
    one = score_repeats(truth, predictions[:1], repeats[:1], VALENCE_AROUSAL)
    assert json.dumps(one.to_json()) == json.dumps(each[0].to_json())          # one repeat: as before


def test_mean_and_spread_over_repeats_say_undefined_rather_than_substitute():
    assert mean_over_repeats([{"a": 1.0, "n": 4}, {"a": 2.0, "n": 4}, {"a": 6.0, "n": 4}]) == {"a": 3.0, "n": 4}
    assert math.isnan(mean_over_repeats([{"a": 1.0}, {}])["a"])
    assert spread([1.0, 2.0, 6.0]) == pytest.approx(math.sqrt(7.0), abs=1e-15)   # sample sd: 14 / 2
    assert math.isnan(spread([1.0])) and math.isnan(spread([1.0, math.nan]))


def _textbook_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def test_repeated_difference_resamples_films_then_repeats_as_a_textbook_loop():
    """Per resample: the films drawn (the same for both runs), each run's repeats drawn, each
    repeat's film mean, their mean stretched by sqrt(R / (R - 1)) about the mean of every repeat."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.1, 0.05, (3, 9)), rng.normal(0.12, 0.05, (3, 9))
    samples, repeat_samples = evidence.film_resamples(9, 400, 3), evidence.repeat_resamples(3, 400, 3)
    differences = []
    for films, repeats in zip(samples, repeat_samples):
        resampled = []
        for run in (a, b):
            means = [sum(float(run[r][i]) for i in films) / len(films) for r in range(3)]
            center = sum(means) / 3
            drawn = sum(means[r] for r in repeats) / 3
            resampled.append(center + math.sqrt(3 / 2) * (drawn - center))
        differences.append(resampled[0] - resampled[1])
    difference, low, high = evidence.repeated_difference(a, b, samples, {3: repeat_samples})
    assert difference == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    # tolerance: the same sums in another order (NumPy's pairwise summation against a loop)
    assert (low, high) == pytest.approx((_textbook_percentile(differences, 2.5),
                                         _textbook_percentile(differences, 97.5)), abs=1e-12)
    plain = evidence.paired_difference(a[0], b[0], samples)
    assert evidence.repeated_difference(a[:1], b[:1], samples, {}) == plain   # one repeat: the paired difference


# --------------------------------------------------------------------------- trained


def test_one_repeat_is_exactly_the_run_without_the_key(trained):
    _, folders = trained
    plain, one = _files(folders["plain"]), _files(folders["one"])
    assert b"folds_repeats = 1" in one.pop("run.toml")   # the definition's own text, comment and key kept
    plain.pop("run.toml")
    assert plain == one                     # every other file, byte for byte (the same process: the same numbers)
    models = [f"{m}/seed0/{name}" for m in ("final", "fold1", "fold2", "fold3", "fold4")
              for name in ("segment_model.pkl", "settings.json")]
    assert sorted(plain) == models + ["folds.json", "me17ei_T_valence_arousal_run1.txt",
                                      "me17ei_T_valence_arousal_run1.txt.json", "model.json", "scores.json"]
    assert "repeats" not in json.loads(plain["folds.json"]) and "repeats" not in json.loads(plain["scores.json"])
    assert "lockbox" not in json.loads(plain["model.json"])


def test_three_repeats_keep_every_repeat_and_the_final_model_of_one(trained):
    dataset, folders = trained
    plain, three = _files(folders["plain"]), _files(folders["three"])
    for name in ("final/seed0/segment_model.pkl", "fold2/seed0/segment_model.pkl", "me17ei_T_valence_arousal_run1.txt"):
        assert three[name] == plain[name], name      # the final model, repeat 1's models and run file: unchanged
    repeats = read_repeats(folders["three"] / "folds.json")
    assert len(repeats) == 3 and repeats[0] == json.loads(plain["folds.json"])["folds"]
    for r in (2, 3):
        assert {f"repeat{r}/fold4/seed0/segment_model.pkl", f"repeat{r}/me17ei_T_valence_arousal_run1.txt"} <= set(
            three)
        settings = json.loads(three[f"repeat{r}/fold1/seed0/settings.json"])
        assert sorted(settings["train_films"]) == sorted(n for fold in repeats[r - 1][1:] for n in fold)
    manifest = json.loads(three["model.json"])
    assert set(manifest["files"]) == {f for f in three if not f.endswith("/settings.json")} - {
        "model.json", "me17ei_T_valence_arousal_run1.txt.json"}   # those two: the manifest and its run file's
    scores = json.loads(three["scores.json"])
    each = [json.loads(plain["scores.json"])["official"]] + [r["official"] for r in scores["repeats"][1:]]
    assert scores["repeats"][0]["official"] == each[0]
    for key in ("valence_mse", "arousal_pcc"):
        assert scores["official"][key] == pytest.approx(np.mean([e[key] for e in each]), abs=1e-15)
        assert scores["over_repeats"][key]["sd"] == pytest.approx(np.std([e[key] for e in each], ddof=1), abs=1e-15)
    base = folders["three"].parent
    again = invoke("train", base / "three.toml", "--dataset", dataset.root, "--features", base / "features", "--out",
                   folders["three"], "--team", "T")
    assert again.output.startswith(f"{folders['three']} is already trained") and "3 repeats sd" in again.output


def test_score_with_the_folds_of_three_repeats_reads_each_repeats_run_file(trained, tmp_path):
    import shutil

    dataset, folders = trained
    folder = folders["three"]
    run = folder / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("score", run, "--dataset", dataset.root, "--folds", folder / "folds.json", "--json")
    assert result.exit_code == 0, result.output
    scored, stored = json.loads(result.output), json.loads((folder / "scores.json").read_text())
    # tolerance: the run files hold six decimals, scores.json the unrounded predictions
    for key in ("valence_mse", "arousal_mse", "arousal_pcc"):
        assert scored["official"][key] == pytest.approx(stored["official"][key], abs=1e-5)
        assert scored["over_repeats"][key]["sd"] == pytest.approx(stored["over_repeats"][key]["sd"], abs=1e-5)
    text = invoke("score", run, "--dataset", dataset.root, "--folds", folder / "folds.json").output
    assert "over 3 repeats of the cross-validation" in text and "repeat 3 (fold seed 2)" in text
    assert "sd over repeats" in text and "repeat 2 fold 4" in text
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "repeat2/me17ei_T_valence_arousal_run1.txt").unlink()
    missing = invoke("score", copy / run.name, "--dataset", dataset.root, "--folds", copy / "folds.json")
    assert missing.exit_code == 1
    assert missing.output == (f"Error: {copy}/repeat2/me17ei_T_valence_arousal_run1.txt: missing: {copy}/folds.json "
                              f"names the folds of repeat 2, and the out-of-fold run file of that repeat is expected "
                              f"here (as mediaeval train writes it)\n")


def test_the_leaderboard_shows_the_spread_over_repeats_beside_the_intervals(trained):
    dataset, folders = trained
    board = leaderboard([folders["three"]], dataset)
    record = to_records(board)[0]
    stored = json.loads((folders["three"] / "scores.json").read_text())
    assert record["repeats"]["valence_mse"]["values"] == pytest.approx(
        stored["over_repeats"]["valence_mse"]["values"], abs=1e-12)
    assert record["repeats"]["valence_mse"]["sd"] == pytest.approx(stored["over_repeats"]["valence_mse"]["sd"],
                                                                   abs=1e-12)
    assert record["figures"]["valence_mse"]["value"] == pytest.approx(stored["official"]["valence_mse"], abs=1e-12)
    flat = to_flat_records(board)[0]
    assert flat["valence_mse_repeats_sd"] == record["repeats"]["valence_mse"]["sd"]
    assert [flat[f"arousal_pcc_repeat{r}"] for r in (1, 2, 3)] == record["repeats"]["arousal_pcc"]["values"]
    text = invoke("leaderboard", folders["three"], "--dataset", dataset.root).output
    assert "sd over repeats: the figure's sample sd over the repeats of the cross-validation" in text
    sd = record["repeats"]["valence_mse"]["sd"]
    assert any(line.split()[:1] == ["valence_mse"] and f"{sd:.4f} (3)" in line for line in text.splitlines())
    markdown = invoke("leaderboard", folders["three"], "--dataset", dataset.root, "--markdown").output
    assert f" ±{sd:.3f}" in markdown and "± the sample sd of a figure over the repeats" in markdown
    assert r"$\pm$" in invoke("leaderboard", folders["three"], "--dataset", dataset.root, "--latex").output
    # a board of runs cross-validated once says nothing of repeats
    plain = to_records(leaderboard([folders["plain"]], dataset))[0]
    assert "repeats" not in plain and "sd over repeats" not in invoke("leaderboard", folders["plain"], "--dataset",
                                                                      dataset.root).output


def test_two_seeds_of_one_recipe_told_apart_once_are_indistinguishable_over_three_repeats(tmp_path):
    """Generated set 6 (the generator of tests/test_evidence.py), seeds 0 and 5 of one recipe with
    every choice fixed: they differ by the luck of their folds only.  Cross-validated once, the
    paired film bootstrap tells them apart on arousal CCC (measured: [+0.020, +0.091]; on arousal MSE
    too, by a hair); over 3
    repeats (fold seeds 0-2 and 5-7, no split shared), with the repeats resampled too, every figure
    is indistinguishable (the nearest bound measured +0.020, arousal CCC).  Of 12 generated sets,
    seeds 0 and 5 were told apart on some figure in 7 once, in 1 over 3 repeats, in 2 over 5."""
    dataset = _films(tmp_path, 6)
    others = {}
    for name, repeats in (("one", ""), ("three", "folds_repeats = 3\n")):
        folders = [_train(tmp_path, dataset, run, seed, repeats, f"{name}{run}") for run, seed in ((1, 0), (2, 5))]
        others[name] = next(r for r in to_records(leaderboard(folders, dataset)) if not r["best"])["vs_best"]
    told = others["one"]["arousal_ccc"]
    assert told["verdict"] in ("better", "worse") and min(abs(b) for b in told["ci"]) > 0.01, told
    for key, versus in others["three"].items():
        assert versus["verdict"] == "indistinguishable", (key, versus)
        assert versus["ci"][0] < -0.01 < 0.01 < versus["ci"][1], (key, versus)   # not by a hair
