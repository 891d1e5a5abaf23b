"""Issue 22: figures with intervals over films, paired comparisons, one criterion, fear as 2017
reported it, tables for the working notes.

The bootstrap is checked against a textbook re-implementation (plain loops); the leaderboard's
verdicts on model folders trained for real (per-segment ridge on imported feature tables)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import REPO, invoke, write_annotations, write_weak_films
from mediaeval import evidence
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.folds import write_folds
from mediaeval.leaderboard import leaderboard, to_flat_records, to_records
from mediaeval.runs import RunDefinition
from mediaeval.scoring import intervals, score_folds, score_valence_arousal
from mediaeval.task import FEAR, SUBTASKS, VALENCE_AROUSAL
from mediaeval.training import train_run

# --------------------------------------------------------------------------- the bootstrap


def _textbook_percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics (NumPy's
    default, Hyndman and Fan's definition 7), by hand."""
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _textbook_mean(values: list[float]) -> float:
    """The mean of the defined values, by a loop; nan if none."""
    total, count = 0.0, 0
    for v in values:
        if not math.isnan(v):
            total, count = total + v, count + 1
    return total / count if count else math.nan


@pytest.mark.parametrize("seed", range(3))
def test_bootstrap_interval_matches_a_textbook_loop(seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(0.1, 0.05, 17)
    values[[2, 9]] = np.nan                       # films without the figure (a PCC undefined) are left out
    reference = values + rng.normal(0.01, 0.02, 17)
    samples = evidence.film_resamples(17, 500, seed)
    means, differences = [], []
    for row in samples:                           # each resample: 17 films drawn with replacement
        drawn = [float(values[i]) for i in row]
        means.append(_textbook_mean(drawn))
        differences.append(_textbook_mean(drawn) - _textbook_mean([float(reference[i]) for i in row]))
    means = [m for m in means if not math.isnan(m)]
    # tolerance: the same sums in another order (NumPy's pairwise summation against a loop)
    assert evidence.interval(values, samples) == pytest.approx(
        (_textbook_percentile(means, 2.5), _textbook_percentile(means, 97.5)), abs=1e-12)
    difference, low, high = evidence.paired_difference(values, reference, samples)
    assert difference == pytest.approx(_textbook_mean(list(values)) - _textbook_mean(list(reference)), abs=1e-12)
    assert (low, high) == pytest.approx((_textbook_percentile(differences, 2.5),
                                         _textbook_percentile(differences, 97.5)), abs=1e-12)


def test_difference_pooled_over_draws_matches_a_textbook_loop():
    """make bench-accuracy's pooled interval: every draw takes the same film resamples, and each
    resample's difference is the mean over draws of the draws' paired differences."""
    rng = np.random.default_rng(3)
    draws = [(rng.normal(0.1, 0.05, 11), rng.normal(0.12, 0.05, 11)) for _ in range(4)]
    samples = evidence.film_resamples(11, 300, 5)
    pooled = []
    for row in samples:
        per_draw = [_textbook_mean([float(a[i]) for i in row]) - _textbook_mean([float(b[i]) for i in row])
                    for a, b in draws]
        pooled.append(sum(per_draw) / len(per_draw))
    difference, low, high = evidence.pooled_difference(draws, samples)
    assert difference == pytest.approx(np.mean([a.mean() - b.mean() for a, b in draws]), abs=1e-12)
    assert (low, high) == pytest.approx((_textbook_percentile(pooled, 2.5), _textbook_percentile(pooled, 97.5)),
                                        abs=1e-12)


def test_resamples_are_seeded_uniform_draws_of_films():
    samples = evidence.film_resamples(5, 4000, seed=7)
    assert samples.shape == (4000, 5)
    assert np.array_equal(samples, evidence.film_resamples(5, 4000, seed=7))
    assert not np.array_equal(samples, evidence.film_resamples(5, 4000, seed=8))
    counts = np.bincount(samples.ravel(), minlength=5) / samples.size
    assert counts == pytest.approx([0.2] * 5, abs=0.01)    # 20,000 draws: a share's sd is 0.003
    with pytest.raises(ValueError, match="at least one film"):
        evidence.film_resamples(0)


def test_films_are_resampled_not_segments():
    """A film of 100 segments weighs what a film of 2 does: the interval of the official mean of
    two films, one perfect and one wrong everywhere, is what drawing 0, 1 or 2 of the bad film
    gives, whatever their lengths."""
    truth = {"Long": np.zeros((100, 2)), "Short": np.zeros((2, 2))}
    prediction = {"Long": np.zeros((100, 2)), "Short": np.ones((2, 2))}
    scores = score_valence_arousal(truth, prediction)
    assert scores.official["valence_mse"] == 0.5
    low, high = intervals(scores)["valence_mse"]
    assert (low, high) == (0.0, 1.0)


def test_verdicts_say_which_way_and_only_when_the_interval_excludes_zero():
    samples = evidence.film_resamples(4)
    same = evidence.paired_difference([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], samples)
    assert same == (0.0, 0.0, 0.0)
    assert evidence.verdict(*same[1:], lower_is_better=True) == "indistinguishable"
    lower = evidence.paired_difference([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5], samples)
    assert evidence.verdict(*lower[1:], lower_is_better=True) == "better"
    assert evidence.verdict(*lower[1:], lower_is_better=False) == "worse"
    mixed = evidence.paired_difference([0.1, 0.3, 0.3, 0.5], [0.2, 0.2, 0.4, 0.4], samples)
    assert evidence.verdict(*mixed[1:], lower_is_better=True) == "indistinguishable"
    assert evidence.verdict(math.nan, math.nan, True) is None


# --------------------------------------------------------------------------- one criterion

VA_RUN = 'subtask = "valence_arousal"\nrun = 1\ndescription = "d"\nfeatures = ["x"]\n'


def test_a_run_may_name_its_criterion_and_runs_that_do_not_keep_their_digest(tmp_path):
    shipped = RunDefinition.load(REPO / "runs/valence_arousal/run1.toml")
    assert shipped.criterion is None and shipped.chosen_by == "mse" and "criterion" not in shipped.to_data()
    assert RunDefinition.load(REPO / "runs/fear/run1.toml").chosen_by == "map"
    (tmp_path / "pcc.toml").write_text(VA_RUN + 'criterion = "pcc"\n')
    pcc = RunDefinition.load(tmp_path / "pcc.toml")
    assert pcc.chosen_by == "pcc" and pcc.to_data()["criterion"] == "pcc"
    (tmp_path / "plain.toml").write_text(VA_RUN)
    assert pcc.digest() != RunDefinition.load(tmp_path / "plain.toml").digest()
    (tmp_path / "again.toml").write_text(pcc.to_toml())
    assert RunDefinition.load(tmp_path / "again.toml").to_data() == pcc.to_data()
    (tmp_path / "bad.toml").write_text(VA_RUN + 'criterion = "map"\n')
    with pytest.raises(DataError, match="criterion: expected one of mse, pcc, ccc for valence_arousal, got 'map'"):
        RunDefinition.load(tmp_path / "bad.toml")
    (tmp_path / "fear.toml").write_text(VA_RUN.replace("valence_arousal", "fear") + 'criterion = "pcc"\n')
    with pytest.raises(DataError, match="criterion: expected one of map for fear"):
        RunDefinition.load(tmp_path / "fear.toml")


def test_column_and_stopping_figures_follow_the_criterion():
    from mediaeval.metrics import concordance_correlation, film_mean_mse, pearson_correlation
    from mediaeval.task import FEAR, VALENCE_AROUSAL as VA

    rng = np.random.default_rng(0)
    truth = {f: rng.uniform(-0.5, 0.5, 12) for f in "ABC"}
    prediction = {f: 0.5 * t + rng.normal(0.1, 0.1, 12) for f, t in truth.items()}
    prediction["C"] = np.full(12, 0.2)                     # constant: PCC undefined, counts 0
    assert VA.column_figure(truth, prediction) == -film_mean_mse(truth, prediction)   # the default: mse
    assert VA.column_figure(truth, prediction, "pcc") == pytest.approx(
        np.mean([pearson_correlation(truth[f], prediction[f]) for f in "AB"] + [0.0]), abs=1e-12)
    assert VA.column_figure(truth, prediction, "ccc") == pytest.approx(
        np.mean([concordance_correlation(truth[f], prediction[f]) for f in "ABC"]), abs=1e-12)
    scores = score_valence_arousal({f: np.c_[t, t] for f, t in truth.items()},
                                   {f: np.c_[p, p] for f, p in prediction.items()})
    assert VA.stopping_figure(scores, "official") == pytest.approx(scores.official["valence_mse"])
    assert VA.stopping_figure(scores, "official", "ccc") == pytest.approx(1 - scores.official["valence_ccc"])
    assert VA.stopping_figure(scores, "pcc", "mse") == VA.stopping_figure(scores, "official", "pcc")
    assert VA.criterion == "mse" and FEAR.criterion == "map"
    assert VA.criterion_keys() == ("valence_mse", "arousal_mse") and FEAR.criterion_keys() == ("map",)
    assert VA.rank_value({"valence_mse": 0.1, "arousal_mse": 0.3}.get) == pytest.approx(-0.2)
    assert VA.rank_value({"valence_pcc": 0.1, "arousal_pcc": None}.get, "pcc") == -math.inf


def test_early_stopping_figure_follows_the_criterion():
    from mediaeval.film_data import FilmData
    from mediaeval.lstm_training import validation_figure
    from mediaeval.task import VALENCE_AROUSAL as VA
    from mediaeval.windows import segments_to_n_steps

    rng = np.random.default_rng(1)
    films, steps = [], []
    for name in ("A", "B"):
        labels = rng.uniform(-0.5, 0.5, (8, 2))
        n_steps = 85                                       # 45 s: 8 segments
        films.append(FilmData(name, np.zeros((n_steps, 1), np.float32), 8, labels))
        steps.append(segments_to_n_steps(0.5 * labels + 0.1, n_steps))
    mse = validation_figure(films, steps, VA, "official")
    ccc = validation_figure(films, steps, VA, "official", "ccc")
    assert mse == validation_figure(films, steps, VA, "official", "mse")
    assert 0 < mse < 0.2 and 0 < ccc < 1 and ccc != pytest.approx(mse)


def test_fusion_weights_follow_the_criterion():
    from mediaeval.fusion import choose
    from mediaeval.task import VALENCE_AROUSAL as VA

    rng = np.random.default_rng(2)
    truth = {f: rng.uniform(-0.5, 0.5, (30, 2)) for f in "ABCD"}
    shape = {f: 3.0 * t for f, t in truth.items()}                       # the right shape, far too wide
    level = {f: 0.2 * t + rng.normal(0, 0.1, t.shape) for f, t in truth.items()}   # timid and noisy
    by_mse = choose([shape, level], truth, sorted(truth), VA)
    by_pcc = choose([shape, level], truth, sorted(truth), VA, criterion="pcc")
    assert by_pcc.weights[0].tolist() == [1.0, 1.0]      # PCC cannot see the scale: the perfect shape
    assert by_mse.weights[0, 0] < 0.5                    # MSE keeps the timid run mostly


# --------------------------------------------------------------------------- acceptance: trained runs

NOISE_RUN = """subtask = "valence_arousal"
run = {run}
description = "ridge per segment, every choice fixed"
features = ["mine"]
seed = {seed}
folds = 4

[model]
type = "ridge"
context = 1
alphas = [100.0]
smoothing = [2.0]
calibrate = false
choose = []
"""




@pytest.fixture(scope="module")
def noise_pair(tmp_path_factory):
    """Two model folders of one recipe (every choice fixed) trained with seeds 0 and 1, so on other
    folds: they differ by noise only.  Returns (dataset root, [folders])."""
    base = tmp_path_factory.mktemp("noise")
    write_weak_films(base / "data", base / "src")
    result = invoke("import-features", base / "src", "--dataset", base / "data", "--out", base / "features",
                    "--name", "mine")
    assert result.exit_code == 0, result.output
    dataset = Dataset.discover(base / "data")
    folders = []
    for run, seed in ((1, 0), (2, 1)):
        (base / f"run{run}.toml").write_text(NOISE_RUN.format(run=run, seed=seed))
        folders.append(train_run(RunDefinition.load(base / f"run{run}.toml"), dataset, base / "features",
                                 base / f"m{run}", "T", progress=False).model_dir)
    return base / "data", folders


def test_two_runs_that_differ_by_noise_are_indistinguishable_on_every_figure(noise_pair):
    root, folders = noise_pair
    result = invoke("leaderboard", *folders, "--dataset", root, "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["films"] for r in records] == [16, 16] and [r["criterion"] for r in records] == ["mse", "mse"]
    best, other = records
    assert best["best"] and best["vs_best"] == {k: None for k in best["figures"]}
    assert set(other["vs_best"]) == {"valence_mse", "valence_pcc", "valence_ccc", "arousal_mse", "arousal_pcc",
                                     "arousal_ccc"}
    for key, versus in other["vs_best"].items():
        assert versus["verdict"] == "indistinguishable", (key, versus)
        low, high = versus["ci"]
        assert low <= 0 <= high
        assert versus["difference"] == pytest.approx(other["figures"][key]["value"] - best["figures"][key]["value"],
                                                     abs=1e-12)
    assert other["tied_with_best"] and [r["rank"] for r in records] == [1, 2]


def test_a_run_with_real_signal_beats_the_constant_on_arousal_mse(noise_pair):
    root, folders = noise_pair
    records = json.loads(invoke("leaderboard", *folders, "--dataset", root, "--json").output)
    for record in records:
        versus = record["vs_constant"]["arousal_mse"]
        assert versus["verdict"] == "better" and versus["ci"][1] < 0, versus
        assert set(record["vs_constant"]) == {"valence_mse", "arousal_mse"}      # the constant has no PCC
        constant = record["constant"]["arousal_mse"]["value"]
        assert versus["difference"] == pytest.approx(record["figures"]["arousal_mse"]["value"] - constant, abs=1e-12)
    table = invoke("leaderboard", *folders, "--dataset", root).output
    assert "tied with the best" in table and "worse than the best on a criterion figure" not in table
    arousal = [line for line in table.splitlines() if line.strip().startswith("arousal_mse")]
    assert len(arousal) == 3 and all(line.endswith("better") for line in arousal[:2])   # two runs, the constant


def test_a_run_defined_with_a_criterion_chooses_by_it(noise_pair, tmp_path):
    root, folders = noise_pair
    text = NOISE_RUN.format(run=3, seed=0).replace("alphas = [100.0]", "alphas = [1.0, 100.0]")
    (tmp_path / "pcc.toml").write_text(text.replace("folds = 4\n", 'folds = 4\ncriterion = "pcc"\n'))
    features = folders[0].parent / "features"
    folder = train_run(RunDefinition.load(tmp_path / "pcc.toml"), Dataset.discover(root), features, tmp_path / "m", "T",
                       progress=False).model_dir
    settings = json.loads((folder / "fold1" / "seed0" / "settings.json").read_text())
    assert settings["criterion"] == "pcc"
    scores = [t["inner_score"] for t in settings["chosen"]["targets"]]
    assert all(0 < s < 1 for s in scores)              # a mean PCC, where the default (mse) stores minus an MSE
    default = json.loads((folders[0] / "fold1" / "seed0" / "settings.json").read_text())
    assert default["criterion"] == "mse" and all(t["inner_score"] < 0 for t in default["chosen"]["targets"])
    # a board of runs of different criteria ranks by the subtask's default, and says so
    records = json.loads(invoke("leaderboard", folders[0], folder, "--dataset", root, "--json").output)
    assert records[0]["criterion"] == "mse" and "declare different criteria (mse, pcc)" in records[0]["notes"][0]
    by_pcc = json.loads(invoke("leaderboard", folders[0], folder, "--dataset", root, "--json",
                               "--criterion", "pcc").output)
    pccs = [np.mean([r["figures"][k]["value"] for k in ("valence_pcc", "arousal_pcc")]) for r in by_pcc]
    assert by_pcc[0]["criterion"] == "pcc" and by_pcc[0]["best"] and pccs[0] >= pccs[1]
    refused = invoke("leaderboard", folder, "--dataset", root, "--criterion", "map")
    assert refused.exit_code == 2 and "expected one of mse, pcc, ccc" in refused.output


# --------------------------------------------------------------------------- boards of synthetic scores

LABELS = {f"Film_{c}": np.column_stack([np.sin(np.arange(12) / (2 + i)) * 0.4 + 0.1 * i,
                                         np.cos(np.arange(12) / (3 + i)) * 0.3 - 0.05 * i])
          for i, c in enumerate("ABCDEF")}
# as the annotation files hold them (six decimals), so that a model folder's digests are the dataset's
LABELS = {f: np.vectorize(lambda x: float(f"{x:.6f}"))(rows) for f, rows in LABELS.items()}
FOLDS = [["Film_A", "Film_B"], ["Film_C", "Film_D"], ["Film_E", "Film_F"]]


@pytest.fixture()
def six_films(tmp_path):
    for name, rows in LABELS.items():
        write_annotations(tmp_path / "data", name, valence_arousal=rows,
                          fear=(rows[:, 1] > 0.2).astype(int) if name < "Film_D" else np.zeros(len(rows), int))
    return Dataset.discover(tmp_path / "data")


def _folder(root, run: int, prediction: dict, subtask: str = "valence_arousal", folds=FOLDS, truth=None):
    """What mediaeval train leaves that the leaderboard reads: run.toml, folds.json, scores.json,
    and the manifest with its labels' digests."""
    from mediaeval.provenance import labels_digests
    from mediaeval.model_folder import write_manifest

    root.mkdir(parents=True)
    (root / "run.toml").write_text(f'subtask = "{subtask}"\nrun = {run}\ndescription = "d"\nfeatures = ["x"]\n'
                                   f'folds = {len(folds)}\n')
    write_folds(root / "folds.json", folds, 0)
    truth = truth or {f: LABELS[f] for fold in folds for f in fold}
    (root / "scores.json").write_text(json.dumps(score_folds(truth, prediction, folds, SUBTASKS[subtask]).to_json()))
    write_manifest(root, state="complete", files=["run.toml", "folds.json", "scores.json"],
                    labels=labels_digests(truth))
    return root


def _noisy(seed: int, scale: float, films=LABELS) -> dict:
    rng = np.random.default_rng(seed)
    return {f: np.clip(LABELS[f] + rng.normal(0, scale, LABELS[f].shape), -1, 1) for f in films}


def test_runs_on_different_films_are_compared_on_the_common_films(six_films, tmp_path):
    full = _folder(tmp_path / "full", 1, _noisy(0, 0.05))
    five = [["Film_A", "Film_B"], ["Film_C", "Film_D"], ["Film_E"]]
    part = _folder(tmp_path / "part", 2, _noisy(1, 0.05, [f for fold in five for f in fold]), folds=five)
    board = leaderboard([full, part], six_films)
    entries = board["valence_arousal"]
    assert [e.evidence.films for e in entries] == [tuple(f"Film_{c}" for c in "ABCDE")] * 2
    assert entries[0].evidence.notes == ("the runs hold different films: figures and comparisons are on the 5 "
                                        "films common to all (valence_arousal_run1 1 more)",)
    first = next(e for e in entries if e.name == "valence_arousal_run1")
    per_film = [first.scores.per_film[f"Film_{c}"]["valence_mse"] for c in "ABCDE"]
    assert first.evidence.figures["valence_mse"].value == pytest.approx(np.mean(per_film), abs=1e-15)
    assert first.evidence.figures["valence_mse"].value != pytest.approx(first.figure("valence_mse"))


def test_csv_is_flat_and_markdown_and_latex_hold_the_intervals(six_films, tmp_path):
    good = _folder(tmp_path / "good", 1, _noisy(0, 0.02))
    bad = _folder(tmp_path / "bad", 2, _noisy(1, 0.6))
    base = ["leaderboard", good, bad, "--dataset", six_films.root]
    rows = invoke(*base, "--csv").output.splitlines()
    header = rows[0].split(",")
    assert header[:9] == ["rank", "subtask", "run", "path", "description", "criterion", "films", "best",
                          "tied_with_best"]
    assert {"valence_mse", "valence_mse_ci_low", "valence_mse_ci_high", "constant_valence_mse",
            "vs_best_valence_mse", "vs_best_valence_mse_verdict", "vs_constant_arousal_mse_verdict"} <= set(header)
    assert len(rows) == 3
    records = to_flat_records(leaderboard([good, bad], six_films))
    assert records[1]["vs_best_valence_mse_verdict"] == "worse" and records[0]["vs_best_valence_mse"] is None
    markdown = invoke(*base, "--markdown").output.splitlines()
    assert markdown[0].startswith("**valence_arousal.** Out-of-fold figures on the 6 development films")
    assert markdown[2] == ("| run | valence MSE | valence PCC | valence CCC | arousal MSE | arousal PCC | "
                           "arousal CCC |")
    good_row = next(line for line in markdown if line.startswith("| valence_arousal_run1 †"))
    figures = to_records(leaderboard([good, bad], six_films))[0]["figures"]["valence_mse"]
    assert f"{figures['value']:.3f} [{figures['ci'][0]:.3f}, {figures['ci'][1]:.3f}] *" in good_row
    assert next(line for line in markdown if line.startswith("| constant (training mean) |")).count("—") == 2
    latex = invoke(*base, "--latex").output
    assert r"\begin{tabular}{lcccccc}" in latex and r"valence\_arousal\_run1 $^\dagger$ & " in latex
    assert r"95 \% interval" in latex and latex.count(r"\midrule") == 2 and r"\end{table*}" in latex
    assert invoke(*base, "--latex", "--markdown").exit_code == 2


def test_fear_board_shows_map_label_figures_per_film_and_false_alarms(six_films, tmp_path):
    truth = {f: six_films.films[f].labels(FEAR) for f in LABELS}

    def rows(confidence):
        return {f: np.column_stack([(c >= 0.5).astype(float), c]) for f, c in confidence.items()}

    rng = np.random.default_rng(0)
    sharp = rows({f: np.clip(0.8 * t + rng.uniform(0, 0.3, len(t)), 0, 1) for f, t in truth.items()})
    blunt = rows({f: rng.uniform(0, 1, len(t)) for f, t in truth.items()})
    board = leaderboard([_folder(tmp_path / "s", 1, sharp, "fear", truth=truth),
                         _folder(tmp_path / "b", 2, blunt, "fear", truth=truth)], six_films)
    record = to_records(board)[0]
    assert list(record["figures"]) == ["map", "accuracy_per_film", "precision_per_film", "recall_per_film",
                                       "f1_per_film", "false_alarm_rate"]
    assert record["criterion"] == "map" and list(record["vs_constant"]) == ["map"]
    alarms = [np.mean(sharp[f][:, 0]) for f in ("Film_D", "Film_E", "Film_F")]    # the films without fear
    assert record["figures"]["false_alarm_rate"]["value"] == pytest.approx(np.mean(alarms), abs=1e-12)
    table = invoke("leaderboard", tmp_path / "s", tmp_path / "b", "--dataset", six_films.root).output
    assert "false_alarm_rate" in table and "f1_per_film" in table


def test_score_prints_each_official_figure_with_its_interval(six_films, tmp_path):
    folder = _folder(tmp_path / "m", 1, _noisy(0, 0.1))
    from mediaeval.submission import write_run

    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", _noisy(0, 0.1), VALENCE_AROUSAL)
    (folder / "folds.json").rename(tmp_path / "folds.json")
    result = invoke("score", run, "--dataset", six_films.root, "--folds", tmp_path / "folds.json")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "95 % intervals of the official figures (percentile bootstrap over films, 2,000 resamples, seed 0" in text
    block = text.split("95 % intervals")[1].split("per film:")[0].splitlines()
    assert block[1].split()[:2] == ["valence_mse", "valence_pcc"] and [b.split()[0] for b in block[2:4]] == ["low",
                                                                                                           "high"]


def test_a_scores_json_written_before_ccc_is_completed_from_the_run_file_or_named(six_films, tmp_path):
    from mediaeval.submission import write_run
    from mediaeval.model_folder import MADE_BY, MANIFEST

    prediction = _noisy(2, 0.1)
    folders = []
    for name, with_run_file in (("kept", True), ("bare", False)):
        folder = _folder(tmp_path / name, 1 if with_run_file else 2, prediction)
        old = json.loads((folder / "scores.json").read_text())
        for figures in old["per_film"].values():            # as an older version wrote it
            del figures["valence_ccc"], figures["arousal_ccc"]
        (folder / "scores.json").write_text(json.dumps(old))
        if with_run_file:
            run_name = "me17ei_T_valence_arousal_run1.txt"
            write_run(folder / run_name, prediction, VALENCE_AROUSAL)
            (folder / MANIFEST).write_text(json.dumps({"made_by": MADE_BY, "state": "complete",
                                                       "run_file": run_name}))
        folders.append(folder)
    kept, bare = sorted(
        leaderboard(folders, six_films)["valence_arousal"], key=lambda e: e.name)
    rounded = {f: np.round(p, 6) for f, p in prediction.items()}     # as the files hold them
    truth = {f: six_films.films[f].labels(VALENCE_AROUSAL) for f in LABELS}
    expected = score_valence_arousal(truth, rounded).official["valence_ccc"]
    assert kept.evidence.figures["valence_ccc"].value == pytest.approx(expected, abs=1e-12)
    assert bare.evidence.figures["valence_ccc"].value is None
    assert ("valence_arousal_run2: no valence_ccc, arousal_ccc in its scores.json (written by an older version, "
            "without its out-of-fold run file): retrain it to get them") in bare.evidence.notes
