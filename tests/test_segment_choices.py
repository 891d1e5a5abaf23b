"""What the inner cross-validation of a per-segment model chooses (mediaeval.segment_choices,
mediaeval.segment_inputs): a between-film level is learnt when the features carry it and left
alone when they do not, a planted delay is found, no choice sees the films it is scored on
(poisoned labels), and a fear run's valence/arousal recipe is refitted inside each fold."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import VA_ANNOTATIONS, random_walk_film, write_annotations, write_feature_table
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.families.segment import fit_segment_model
from mediaeval.film_data import FilmData
from mediaeval.post_processing import PostProcessing, choose_shrinkage
from mediaeval.run_files import RunFile
from mediaeval.runs import RunDefinition
from mediaeval.segment_choices import choices_text, film_weights, hedged, segment_weights
from mediaeval.segment_inputs import InputSpec, delay_steps, delayed, spec_inputs
from mediaeval.segment_models import SegmentModel, SegmentSettings
from mediaeval.task import FEAR, VALENCE_AROUSAL
from mediaeval.training import train_run
from mediaeval.windows import STEP_SECONDS, segments_to_n_steps, step_count


def _curve(rng, seconds: int) -> np.ndarray:
    """A per-second valence/arousal curve: a slow walk and faster swings, within +-0.6."""
    slow = np.cumsum(rng.normal(0, 0.02, (seconds, 2)), axis=0)
    fast = np.convolve(rng.normal(0, 1, seconds + 20), np.ones(8) / 8, "same")[10:10 + seconds]
    return np.clip(slow - slow.mean(axis=0) + 0.15 * np.c_[fast, -fast], -0.6, 0.6)


def _segments(curve: np.ndarray) -> np.ndarray:
    k = (len(curve) - 10) // 5 + 1
    return np.array([curve[5 * j:5 * j + 10].mean(axis=0) for j in range(k)])


def _level_films(n: int, level: bool, seed: int) -> list[FilmData]:
    """Films whose labels each have a level of their own (sd 0.3 over films) beside within-film
    swings; one feature column follows each label's swings with noise, shifted by the film's
    level (``level``) or by a random offset of sd 1 that has nothing to do with it."""
    rng = np.random.default_rng(seed)
    films = []
    for i in range(n):
        seconds = int(rng.integers(150, 250))
        labels = np.clip(_segments(_curve(rng, seconds)) + rng.normal(0, 0.3, 2), -1, 1)
        steps = segments_to_n_steps(labels, step_count(seconds))
        shift = 3 * labels.mean(axis=0) if level else rng.normal(0, 1, 2)
        x = steps - labels.mean(axis=0) + shift + rng.normal(0, 0.2, steps.shape)
        films.append(FilmData(f"Film_{i:02d}", np.c_[x, rng.normal(0, 1, (len(x), 2))].astype(np.float32),
                              len(labels), labels))
    return films


LEVEL = SegmentSettings(type="ridge", choose=("standardise",), context=0, inner_folds=4, smoothing=(0.0,),
                        alphas=(1.0, 100.0))


def test_a_between_film_level_is_learnt_when_the_features_carry_it():
    films = _level_films(16, level=True, seed=1)
    model = fit_segment_model(films[:12], VALENCE_AROUSAL, LEVEL, 0)
    assert {o.spec.standardise for o in model.outputs} <= {"global", "both"}
    predicted = np.array([model.predict_curves(f.x, f.n_segments).mean(axis=0) for f in films[12:]])
    truth = np.array([f.labels.mean(axis=0) for f in films[12:]])
    # the held-out films' levels are predicted: within 0.1 of each (their sd over films is 0.3)
    assert np.abs(predicted - truth).max() < 0.1


def test_a_between_film_level_is_left_alone_when_the_features_do_not_carry_it():
    films = _level_films(16, level=False, seed=1)
    model = fit_segment_model(films[:12], VALENCE_AROUSAL, LEVEL, 0)
    assert [o.spec.standardise for o in model.outputs] == ["film", "film"]
    path = model.outputs[0].path
    assert [p["step"] for p in path] == ["regularisation", "standardise", "regularisation"]


def _deviations(curves: np.ndarray) -> np.ndarray:
    return curves - curves.mean(axis=0)


def test_a_hedged_model_keeps_the_chosen_level_and_averages_the_two_shapes(tmp_path):
    films = _level_films(16, level=True, seed=1)
    chosen = fit_segment_model(films[:12], VALENCE_AROUSAL, LEVEL, 0)
    model = fit_segment_model(films[:12], VALENCE_AROUSAL, dataclasses.replace(LEVEL, hedge=0.5), 0)
    assert [o.spec for o in model.outputs] == [o.spec for o in chosen.outputs]   # the hedge chooses nothing
    assert [(o.hedge, o.plain.spec.standardise, o.plain.hyper) for o in model.outputs] == [
        (0.5, "film", o.path[0]["value"]) for o in chosen.outputs]
    assert [o.plain.hyper for o in model.outputs] == [{"alpha": 100.0}, {"alpha": 100.0}]
    # the plain shape: the run's fixed inputs (per-film z-scores) with the first step's alpha
    plain = fit_segment_model(films[:12], VALENCE_AROUSAL, dataclasses.replace(LEVEL, choose=(), alphas=(100.0,)), 0)
    for f in films[12:]:
        mixed, alone = model.raw_curves(f.x, f.n_segments), chosen.raw_curves(f.x, f.n_segments)
        # the level is the chosen inputs' (1e-9: the same estimators, refitted in this process)
        np.testing.assert_allclose(mixed.mean(axis=0), alone.mean(axis=0), atol=1e-9)
        expected = (_deviations(alone) + _deviations(plain.raw_curves(f.x, f.n_segments))) / 2
        np.testing.assert_allclose(_deviations(mixed), expected, atol=1e-9)
    # what was chosen says so, and the model predicts the same after a save and a load and refits with its hedge
    assert "shape hedged 0.5 with film standardisation" in choices_text(model.choices(), ("valence", "arousal"))
    model.save(tmp_path / "model.pkl")
    loaded = SegmentModel.load(tmp_path / "model.pkl")
    np.testing.assert_allclose(loaded.predict_rows(films[12].x, films[12].n_segments),
                               model.predict_rows(films[12].x, films[12].n_segments), atol=1e-12)
    assert [o.hedge for o in model.refitted(films[:12]).outputs] == [0.5, 0.5]


def _inner_curves(monkeypatch, films, task, settings) -> tuple:
    """``(model, {film: (K, outputs) inner out-of-fold raw curves})`` of a fit: what its
    post-processing is chosen on."""
    seen = {}
    choose = PostProcessing.choose.__func__

    def spy(cls, truth, raw, *args, **kwargs):
        seen.update(raw)
        return choose(cls, truth, raw, *args, **kwargs)

    monkeypatch.setattr(PostProcessing, "choose", classmethod(spy))
    model = fit_segment_model(films, task, settings, 0)
    monkeypatch.undo()
    return model, seen


def test_the_inner_curves_are_hedged_as_the_test_curves_are(monkeypatch):
    films = _level_films(16, level=True, seed=1)[:12]
    settings = dataclasses.replace(LEVEL, hedge=0.5)
    model, hedged_inner = _inner_curves(monkeypatch, films, VALENCE_AROUSAL, settings)
    _, chosen_inner = _inner_curves(monkeypatch, films, VALENCE_AROUSAL, LEVEL)
    _, plain_inner = _inner_curves(monkeypatch, films, VALENCE_AROUSAL,
                                   dataclasses.replace(LEVEL, choose=(), alphas=(100.0,)))
    assert [o.plain.hyper for o in model.outputs] == [{"alpha": 100.0}, {"alpha": 100.0}]
    for name, curves in hedged_inner.items():
        for j in range(2):
            np.testing.assert_allclose(curves[:, j], hedged(chosen_inner[name][:, j], plain_inner[name][:, j], 0.5),
                                       atol=1e-9)
    # refitted on the films it was fitted on, the model predicts as it did (1e-9: one process)
    np.testing.assert_allclose(model.refitted(films).raw_curves(films[0].x, films[0].n_segments),
                               model.raw_curves(films[0].x, films[0].n_segments), atol=1e-9)


def test_a_hedged_fear_model_keeps_its_confidences_in_range(monkeypatch):
    films = [dataclasses.replace(f, labels=(f.labels[:, :1] < -0.1).astype(np.float64))
             for f in _level_films(16, level=True, seed=1)[:12]]
    settings = dataclasses.replace(LEVEL, hedge=1.0)
    model, inner = _inner_curves(monkeypatch, films, FEAR, settings)
    assert model.outputs[0].plain is not None and model.outputs[0].hedge == 1.0
    values = np.concatenate(list(inner.values()))
    assert values.min() >= 0.0 and values.max() <= 1.0
    rows = model.predict_rows(films[0].x, films[0].n_segments)
    assert rows[:, 1].min() >= 0.0 and rows[:, 1].max() <= 1.0


def test_a_hedge_changes_nothing_where_the_choice_kept_the_fixed_inputs():
    films = _level_films(16, level=False, seed=1)
    alone = fit_segment_model(films[:12], VALENCE_AROUSAL, LEVEL, 0)
    model = fit_segment_model(films[:12], VALENCE_AROUSAL, dataclasses.replace(LEVEL, hedge=0.5), 0)
    assert [(o.hedge, o.plain) for o in model.outputs] == [(0.0, None), (0.0, None)]
    np.testing.assert_allclose(model.predict_rows(films[12].x, films[12].n_segments),
                               alone.predict_rows(films[12].x, films[12].n_segments), atol=1e-12)


def _delayed_films(n: int, lead_seconds: float, seed: int) -> list[FilmData]:
    """Films whose one informative column shows the label ``lead_seconds`` early: the content
    at t - lead predicts the label at t."""
    rng = np.random.default_rng(seed)
    films = []
    for i in range(n):
        seconds = int(rng.integers(200, 300))
        curve = _curve(rng, seconds + 20)
        labels = _segments(curve[:seconds])
        t = np.arange(step_count(seconds)) * STEP_SECONDS + STEP_SECONDS / 2 + lead_seconds
        x = np.c_[np.interp(t, np.arange(len(curve)) + 0.5, curve[:, 0]),
                  np.interp(t, np.arange(len(curve)) + 0.5, curve[:, 1])]
        x = x + rng.normal(0, 0.05, x.shape)
        films.append(FilmData(f"Film_{i:02d}", np.c_[x, rng.normal(0, 1, (len(x), 2))].astype(np.float32),
                              len(labels), labels))
    return films


def test_a_planted_delay_is_found():
    films = _delayed_films(10, lead_seconds=4.0, seed=2)
    settings = SegmentSettings(type="ridge", choose=("delay",), context=0, inner_folds=5, smoothing=(0.0,),
                               alphas=(0.1, 10.0))
    model = fit_segment_model(films, VALENCE_AROUSAL, settings, 0)
    assert [o.spec.delay_seconds for o in model.outputs] == [4.0, 4.0]
    undelayed = fit_segment_model(_delayed_films(10, lead_seconds=0.0, seed=2), VALENCE_AROUSAL, settings, 0)
    assert [o.spec.delay_seconds for o in undelayed.outputs] == [0.0, 0.0]


def test_delays_fall_on_the_steps_and_pad_the_start_with_the_first_step():
    assert [delay_steps(d) for d in (0, 2, 4, 6, 8)] == [0, 4, 8, 11, 15]
    x = np.arange(6.0)[:, None]
    assert delayed(x, 4).ravel().tolist() == [0, 0, 0, 0, 0, 1]
    assert delayed(x, 9).ravel().tolist() == [0] * 6
    inputs = spec_inputs(np.arange(37.0)[:, None], 3, InputSpec("global", 2.0, past=2, future=0))
    # mean, std, then the means of 1 and 2 segments before (edges repeat the first segment)
    assert inputs.shape == (3, 4) and inputs[2, 2] == inputs[1, 0] and inputs[2, 3] == inputs[0, 0]
    both = spec_inputs(np.arange(37.0)[:, None] + 5, 3, InputSpec("both", 0.0, past=0, future=0))
    assert both[:, 2].tolist() == [23.0] * 3     # the film's mean of the column beside its z-scores


def test_film_weights_count_every_film_as_the_official_mean_does():
    weights = film_weights([2, 6])
    assert weights.sum() == pytest.approx(8.0) and weights[:2].sum() == pytest.approx(weights[2:].sum())
    assert segment_weights([2, 6], 0.0) is None
    assert segment_weights([2, 6], 0.5).tolist() == pytest.approx([1.5, 1.5, 5 / 6, 5 / 6, 5 / 6, 5 / 6, 5 / 6, 5 / 6])


@pytest.mark.parametrize("weighting", [0.0, 0.5, 1.0])
def test_a_regression_level_is_the_mean_of_the_films_means_whatever_the_weighting(weighting):
    """Features that say nothing: a ridge predicts a constant, and the constant that minimises the
    official MSE (a mean over films) is the mean of the films' mean labels, 0.5 here, not the
    mean of all their segments (0.2: the long film at 0.1 holds 9 segments of 10); exact up to
    float rounding (1e-9)."""
    from mediaeval.families import family
    from mediaeval.segment_choices import fit_estimator

    x = np.zeros((10, 2))
    y = np.r_[0.9, np.full(9, 0.1)]
    model = fit_estimator(family("ridge"), SegmentSettings(type="ridge"), {"alpha": 1.0}, False, 0, x, y,
                          [1, 9], weighting)
    assert model.predict(np.zeros((1, 2)))[0] == pytest.approx(0.5, abs=1e-9)


def test_shrinkage_is_never_worse_than_the_constant_on_the_films_it_is_chosen_on():
    rng = np.random.default_rng(4)
    truth = {f"F{i}": rng.normal(0, 0.1, 20) for i in range(5)}
    noise = {n: rng.normal(0, 1.0, 20) for n in truth}          # predictions that are pure noise
    means = {n: 0.0 for n in truth}
    scale = choose_shrinkage(truth, noise, means, (0.05, 0.5, 1.0))
    assert scale == 0.05


# --------------------------------------------------------------------------- end to end: poisoned labels

RUN = """subtask = "{subtask}"
run = {run}
description = "choices test run"
features = ["mine"]
folds = 3

[model]
type = "ridge"
inner_folds = 2
alphas = [1.0, 100.0]
smoothing = [0.0, 2.0]
choose = ["standardise", "delay", "context", "weights", "shrink"]
delays = [0.0, 4.0]
context_past = [0, 2]
context_future = [0, 1]
{extra}
"""


def _write_set(root, src, poison_va: bool = False, poison_fear: bool = False, n: int = 6):
    """``n`` annotation-only films and their 1 Hz feature tables (two columns follow valence and
    arousal with noise, two are noise); Film_0's valence/arousal or fear labels poisoned on asking."""
    rng = np.random.default_rng(0)
    src.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        k = 20 + 2 * i
        seconds, curve, segments = random_walk_film(rng, k, level=False)
        fear = ((segments[:, 1] > np.median(segments[:, 1])) | (np.arange(k) == 1)).astype(int)
        if i == 0 and poison_va:
            segments = -segments[::-1]
        if i == 0 and poison_fear:
            fear = 1 - fear
        write_annotations(root, f"Film_{i}", valence_arousal=segments, fear=fear)
        table = np.c_[curve + rng.normal(0, 0.05, curve.shape), rng.normal(0, 1, (seconds, 2))]
        write_feature_table(src / f"Film_{i}.csv", "v,a,n1,n2", table)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    from mediaeval.features.imported import import_features

    base = tmp_path_factory.mktemp("choices")
    _write_set(base / "data", base / "src")
    import_features(base / "src", Dataset.discover(base / "data"), base / "features", "mine", progress=False)
    return base


def _train(tmp_path, data, features, subtask, run, extra=""):
    runs = tmp_path / "runs"
    (runs / subtask).mkdir(parents=True, exist_ok=True)
    (runs / "valence_arousal").mkdir(exist_ok=True)
    (runs / "valence_arousal" / "run1.toml").write_text(RUN.format(subtask="valence_arousal", run=1, extra=""))
    path = runs / subtask / f"run{run}.toml"
    path.write_text(RUN.format(subtask=subtask, run=run, extra=extra))
    out = tmp_path / f"model-{data.name}-{subtask}"
    return train_run(RunDefinition.load(path), Dataset.discover(data), features, out, "T", progress=False)


def test_no_choice_sees_the_labels_of_the_film_it_is_scored_on(clean, tmp_path):
    """Every choice on (standardisation, delay, context, weights, shrinkage): poisoning one film's
    labels leaves its own out-of-fold predictions byte-identical, and changes other folds' films."""
    _write_set(tmp_path / "poisoned", tmp_path / "src", poison_va=True)
    trained = _train(tmp_path, clean / "data", clean / "features", "valence_arousal", 1)
    before = RunFile.read(trained.run_file).films
    poisoned = _train(tmp_path, tmp_path / "poisoned", clean / "features", "valence_arousal", 1)
    after = RunFile.read(poisoned.run_file).films
    assert np.array_equal(before["Film_0"], after["Film_0"])
    assert any(not np.array_equal(before[f], after[f]) for f in before if f != "Film_0")
    # what the final model chose is on the leaderboard, in words, output by output
    from mediaeval.leaderboard import leaderboard, to_records
    from mediaeval.leaderboard_tables import format_table

    board = leaderboard([trained.model_dir], Dataset.discover(clean / "data"), resamples=50)
    chosen = to_records(board)[0]["chosen"]
    settings = json.loads((trained.model_dir / "final" / "seed0" / "settings.json").read_text())["chosen"]
    first = settings["targets"][0]
    assert chosen.startswith(f"valence: {first['standardise']} standardisation, delay {first['delay_seconds']:g} s")
    assert "; arousal: " in chosen
    assert f"chosen by inner cross-validation (final model): {chosen}" in format_table(board)


def test_fear_from_valence_arousal_is_nested(clean, tmp_path):
    """A fear run taking valence_arousal run 1's predictions: poisoning a film's valence/arousal
    labels leaves its own out-of-fold fear predictions byte-identical (the valence/arousal model
    of its fold never saw them), while films of other folds, whose models learnt from them, change."""
    _write_set(tmp_path / "poisoned", tmp_path / "src", poison_va=True)
    extra = "from_valence_arousal = 1"
    clean_run = _train(tmp_path, clean / "data", clean / "features", "fear", 4, extra)
    before = RunFile.read(clean_run.run_file).films
    after = RunFile.read(_train(tmp_path, tmp_path / "poisoned", clean / "features", "fear", 4, extra).run_file).films
    assert np.array_equal(before["Film_0"], after["Film_0"])
    assert any(not np.array_equal(before[f], after[f]) for f in before if f != "Film_0")
    stored = RunDefinition.load(clean_run.model_dir / "run.toml")           # the recipe itself, not the run number
    assert stored.model.from_valence_arousal.delays == (0.0, 4.0)
    chosen = json.loads((clean_run.model_dir / "final" / "seed0" / "settings.json").read_text())["chosen"]
    assert len(chosen["from_valence_arousal"]["targets"]) == 2


@pytest.mark.parametrize("weighting", [0.0, 0.5, 1.0])
def test_the_closed_form_ridge_predicts_as_the_fitted_one(weighting):
    """The inner cross-validation's ridge in closed form (every alpha for the cost of one) gives
    the predictions of scikit-learn's pipeline fitted for each alpha: within 1e-7 (float64
    solvers of the same normal equations, Cholesky against an eigendecomposition), a column
    constant at a value far from 0 included (its segment means differ by rounding only: scaled as
    scikit-learn's StandardScaler scales it, not blown up to unit variance)."""
    from mediaeval.families import family
    from mediaeval.segment_choices import Candidate, InnerCV
    from mediaeval.segment_models import inner_folds

    films = [dataclasses.replace(f, x=np.c_[f.x, np.full(len(f.x), 1234.567, np.float32)])
             for f in _level_films(8, level=True, seed=3)]
    settings = SegmentSettings(type="ridge", inner_folds=3)
    cv = InnerCV(family("ridge"), settings, films, inner_folds([f.name for f in films], 3, 0), False, 0)
    truth = {f.name: f.labels[:, 0] for f in films}
    for spec in (InputSpec("film", 2.0, 1, 0), InputSpec("both", 0.0, 0, 1, spread=False),
                 InputSpec("global", 0.0, 1, 1)):
        for alpha in (0.1, 1000.0):
            candidate = Candidate(spec, weighting, (("alpha", alpha),))
            fast, fitted = cv.predictions(candidate, truth), cv.fitted_predictions(candidate, truth)
            assert all(np.allclose(fast[n], fitted[n], rtol=0, atol=1e-7) for n in truth)


def test_a_repeated_inner_cross_validation_predicts_each_film_by_the_mean_over_its_splits():
    """With ``repeats``, a film's inner out-of-fold prediction is the mean of its predictions by
    each split's models (the closed form and the fitted ridge agreeing within 1e-7, as above)."""
    from mediaeval.families import family
    from mediaeval.segment_choices import Candidate, InnerCV
    from mediaeval.segment_models import inner_folds

    films = _level_films(8, level=True, seed=3)
    names = [f.name for f in films]
    splits = [inner_folds(names, 3, 0, r) for r in range(2)]
    assert splits[0] != splits[1]
    settings = SegmentSettings(type="ridge", inner_folds=3)
    truth = {f.name: f.labels[:, 0] for f in films}
    candidate = Candidate(InputSpec("film", 0.0, 1, 0), 0.5, (("alpha", 10.0),))
    single = [InnerCV(family("ridge"), settings, films, folds, False, 0).predictions(candidate, truth)
              for folds in splits]
    cv = InnerCV(family("ridge"), settings, films, splits[0], False, 0, repeats=[splits[1]])
    both, fitted = cv.predictions(candidate, truth), cv.fitted_predictions(candidate, truth)
    for n in truth:
        assert np.allclose(both[n], (single[0][n] + single[1][n]) / 2, rtol=0, atol=1e-12)
        assert np.allclose(both[n], fitted[n], rtol=0, atol=1e-7)


def test_a_fear_run_from_valence_arousal_needs_them_on_every_training_film(clean, tmp_path):
    """Every fold and inner fold refits the valence/arousal recipe: a film without valence/arousal
    annotations is refused before anything trains, in one line naming the run file and the film."""
    import shutil

    shutil.copytree(clean / "data", tmp_path / "data")
    (tmp_path / "data" / VA_ANNOTATIONS / "Film_3-MEDIAEVAL2017-valence_arousal.txt").unlink()
    with pytest.raises(DataError) as error:
        _train(tmp_path, tmp_path / "data", clean / "features", "fear", 4, "from_valence_arousal = 1")
    assert str(error.value) == (f"{tmp_path / 'runs' / 'fear' / 'run4.toml'}: model.from_valence_arousal: the "
                                f"valence/arousal recipe needs valence/arousal annotations of every development "
                                f"film the run trains on; missing for 1 of 6: Film_3")


def test_an_error_in_the_named_valence_arousal_recipe_names_its_file_and_value(tmp_path):
    from mediaeval.runs import RunDefinition

    (tmp_path / "fear").mkdir()
    (tmp_path / "valence_arousal").mkdir()
    (tmp_path / "valence_arousal" / "run1.toml").write_text(
        RUN.format(subtask="valence_arousal", run=1, extra="").replace("alphas = [1.0, 100.0]", "alphas = [1.0, -2.0]"))
    (tmp_path / "fear" / "run4.toml").write_text(RUN.format(subtask="fear", run=4, extra="from_valence_arousal = 1"))
    with pytest.raises(DataError) as error:
        RunDefinition.load(tmp_path / "fear" / "run4.toml")
    assert str(error.value) == (f"{tmp_path / 'fear' / 'run4.toml'}: model.from_valence_arousal: valence_arousal run 1 "
                                f"({tmp_path / 'valence_arousal' / 'run1.toml'}): model.alphas: expected a non-empty "
                                f"list, each greater than 0, got [1.0, -2.0]")
