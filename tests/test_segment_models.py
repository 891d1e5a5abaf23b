"""Per-segment models: inputs by hand, every family fits and predicts, choices made on training films only."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pytest
from pydantic import Field

from mediaeval.families.segment import FAMILIES, SegmentFamily, fit_segment_model
from mediaeval.film_data import FilmData
from mediaeval.segment_inputs import InputSpec, segment_inputs
from mediaeval.segment_models import SegmentModel, SegmentSettings
from mediaeval.task import FEAR, SUBTASKS, VALENCE_AROUSAL
from mediaeval.validation import Int
from mediaeval.windows import segments_to_n_steps, step_count


def test_segment_inputs_by_hand():
    # a 20 s film (37 steps, 3 segments) whose one feature is 1 on steps 0-17 and 3 after
    x = np.r_[np.ones(18), np.full(19, 3.0)][:, None]
    inputs = segment_inputs(x, 3, context=1, per_film_standardise=False)
    # segment 0 [0, 10) holds steps 0-17 plus 0.4 s of step 18 (overlap-weighted): mean 1 + 2 * 0.4 / 10
    assert inputs[0, 0] == pytest.approx(1.08, abs=1e-9)
    assert inputs[2, 0] == pytest.approx(3.0, abs=1e-9) and inputs[2, 1] == pytest.approx(0.0, abs=1e-6)
    # context: the previous segment's mean (segment 0 repeats itself), then the next one's
    assert inputs[0, 2] == inputs[0, 0] and inputs[0, 3] == inputs[1, 0] and inputs[2, 3] == inputs[2, 0]


def _films(n=8, seed=0, subtask="valence_arousal", noise=0.3):
    rng = np.random.default_rng(seed)
    films = []
    for i in range(n):
        k = int(rng.integers(12, 20))
        curve = np.clip(np.cumsum(rng.normal(0, 0.1, (k, 2)), axis=0), -0.9, 0.9)
        steps = segments_to_n_steps(curve, step_count(5 * (k - 1) + 10))
        x = np.c_[steps + rng.normal(0, noise, steps.shape), rng.normal(0, 1, (len(steps), 3))].astype(np.float32)
        labels = curve if subtask == "valence_arousal" else ((curve[:, 1] > 0.1) | (np.arange(k) == 3)).astype(int)
        films.append(FilmData(f"Film_{i}", x, k, labels))
    return films


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.slow) if f == "hgb" else f for f in FAMILIES])
@pytest.mark.parametrize("subtask", ["valence_arousal", "fear"])
def test_every_family_fits_and_predicts_run_rows(family, subtask, tmp_path):
    films = _films(subtask=subtask)
    settings = SegmentSettings(type=family, inner_folds=3, alphas=(1.0, 100.0), svr_c=(1.0,),
                               hgb_max_leaf_nodes=(7,), hgb_max_iter=20, smoothing=(0.0, 2.0))
    model = fit_segment_model(films[:6], SUBTASKS[subtask], settings, seed=1)
    rows = model.predict_rows(films[6].x, films[6].n_segments)
    assert rows.shape == (films[6].n_segments, 2)
    if subtask == "fear":
        assert set(np.unique(rows[:, 0])) <= {0.0, 1.0} and rows[:, 1].min() >= 0 and rows[:, 1].max() <= 1
    else:
        assert np.abs(rows).max() <= 1.0 and rows[:, 0].std() > 0      # never constant: PCC stays defined
    model.save(tmp_path / "model.pkl")
    again = SegmentModel.load(tmp_path / "model.pkl")
    assert np.array_equal(again.predict_rows(films[7].x, films[7].n_segments),
                          model.predict_rows(films[7].x, films[7].n_segments))


def test_the_same_seed_gives_the_same_choices_and_predictions():
    films = _films()
    settings = SegmentSettings(type="ridge", inner_folds=3)
    a, b = (fit_segment_model(films[:6], VALENCE_AROUSAL, settings, 3) for _ in range(2))
    assert a.choices() == b.choices()
    assert np.array_equal(a.predict_rows(films[6].x, films[6].n_segments),
                          b.predict_rows(films[6].x, films[6].n_segments))


def test_a_learnable_signal_is_learnt():
    films = _films(n=12, seed=2, noise=0.05)
    model = fit_segment_model(films[:8], VALENCE_AROUSAL, SegmentSettings(type="ridge", inner_folds=4), 0)
    for film in films[8:]:
        rows = model.predict_rows(film.x, film.n_segments)
        for j in (0, 1):
            assert np.corrcoef(rows[:, j], film.labels[:, j])[0, 1] > 0.6    # 0.66-0.97 here; 0 if nothing is learnt


def test_settings_out_of_range_are_listed():
    problems = SegmentSettings(type="forest", context=-1, inner_folds=1, alphas=()).check()
    assert [p.split(":")[0] for p in problems] == ["type", "context", "inner_folds", "alphas"]


def test_fear_training_folds_without_a_fear_segment_predict_zero_confidence():
    films = _films(n=4, subtask="fear")
    for film in films[:3]:
        film.labels = np.zeros_like(film.labels)
    model = fit_segment_model(films[:3], FEAR, SegmentSettings(type="ridge", inner_folds=3), 0)
    rows = model.predict_rows(films[3].x, films[3].n_segments)
    assert rows[:, 1].tolist() == [0.0] * films[3].n_segments


def test_calibrated_predictions_of_training_films_spread_no_wider_than_their_truth():
    """Many noise columns and few films: inner models are timid, the final one is not; the scale
    fitted on the first must not blow the second up (it did, to the [-1, 1] clip, on i3d + musicnn)."""
    rng = np.random.default_rng(7)
    films = _films(n=6, seed=7, noise=0.1)
    for film in films:
        film.x = np.c_[film.x, rng.normal(0, 1, (len(film.x), 100))].astype(np.float32)
    model = fit_segment_model(films, VALENCE_AROUSAL, SegmentSettings(type="ridge", inner_folds=5, alphas=(1.0,)), 0)
    predicted = np.concatenate([model.predict_curves(f.x, f.n_segments) for f in films])
    truth = np.concatenate([f.labels for f in films])
    assert np.all(predicted.std(axis=0) <= truth.std(axis=0) + 1e-9)   # 1.057 times wider without the cap


def test_a_column_nearly_constant_in_the_training_films_cannot_blow_up_a_test_film():
    """It did: its training scale, set by float rounding noise (~1e-9), turned a test film's
    ordinary values into 10^9 standard deviations and every prediction into the [-1, 1] clip
    (i3d + musicnn on the demo).  Standardised inputs are clipped to +-10."""
    rng = np.random.default_rng(3)
    films = _films(n=7, seed=3)
    for film in films[:6]:
        film.x = np.c_[film.x, rng.normal(0, 1e-9, len(film.x))].astype(np.float32)
    films[6].x = np.c_[films[6].x, rng.normal(0, 1.0, len(films[6].x))].astype(np.float32)
    settings = SegmentSettings(type="ridge", inner_folds=3, alphas=(1.0,), per_film_standardise=False, context=0)
    model = fit_segment_model(films[:6], VALENCE_AROUSAL, settings, 0)
    rows = model.predict_rows(films[6].x, films[6].n_segments)
    assert np.abs(rows).max() < 0.95


def test_films_without_a_segment_are_left_out_of_fitting():
    films = _films(n=5)
    films.append(FilmData("Short", np.zeros((9, films[0].x.shape[1]), np.float32), 0, np.zeros((0, 2))))
    model = fit_segment_model(films, VALENCE_AROUSAL, SegmentSettings(type="ridge", inner_folds=3), 0)
    assert model.predict_rows(films[-1].x, 0).shape == (0, 2)


LEGACY = Path(__file__).parent / "data" / "legacy"


@pytest.mark.parametrize("name", ["ridge_fear", "svr_valence_arousal", "hgb_fear"])
def test_models_pickled_before_the_families_still_load_and_predict_alike(name):
    """``segment_model.pkl`` files written by main's code before issue 23 (tests/data/legacy/README.md:
    ``mediaeval.segment_models.Target`` held each output's post-processing) load into today's
    model and predict the rows they predicted then (float64 throughout: within 1e-9, a margin of
    about a million times what another CPU's BLAS kernels may change)."""
    expected = np.load(LEGACY / "expected.npz")
    model = SegmentModel.load(LEGACY / f"{name}.pkl")
    family, subtask = name.split("_", 1)
    assert model.task is SUBTASKS[subtask] and model.settings.type == family
    assert len(model.outputs) == SUBTASKS[subtask].outputs and model.post.threshold == model.threshold
    rows = model.predict_rows(expected["x"], int(expected["n_segments"]))
    assert np.allclose(rows, expected[f"{name}_rows"], rtol=0, atol=1e-9)


def test_a_pickle_of_anything_else_is_refused_naming_the_file(tmp_path):
    import pickle

    from mediaeval.errors import DataError

    path = tmp_path / "segment_model.pkl"
    path.write_bytes(pickle.dumps(print))   # builtins.print: not part of a model
    with pytest.raises(DataError, match=r"segment_model.pkl: expected a per-segment model written by mediaeval "
                                        r"train \(UnpicklingError: builtins.print is not part of a per-segment "
                                        r"model\); retrain"):
        SegmentModel.load(path)


# --------------------------------------------------------------------------- a family added in one module

@dataclass(frozen=True)
class KnnSettings(SegmentSettings):
    type: Literal["knn"] = "knn"
    knn_neighbours: tuple[Annotated[Int, Field(ge=1)], ...] = (3, 9)


class Knn(SegmentFamily):
    type, title, settings = "knn", "k nearest neighbours", KnnSettings

    def candidates(self, settings):
        return [{"n_neighbors": k} for k in settings.knn_neighbours]

    def estimator(self, settings, params, classify, seed):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        return (KNeighborsClassifier if classify else KNeighborsRegressor)(**params)


@pytest.fixture
def knn():
    from mediaeval import families

    families.register(Knn())
    yield
    families._REGISTRY.pop("knn")


def test_a_family_registered_by_its_module_is_a_run_type_checked_fitted_and_described(knn, tmp_path):
    from mediaeval.errors import DataError
    from mediaeval.families import family_of
    from mediaeval.runs import RunDefinition

    path = tmp_path / "run1.toml"
    path.write_text('subtask = "valence_arousal"\nrun = 1\ndescription = "d"\nfeatures = ["a"]\n'
                    '[model]\ntype = "knn"\nknn_neighbours = [2, 4]\ninner_folds = 3\n')
    config = RunDefinition.load(path)
    assert config.model == KnnSettings(knn_neighbours=(2, 4), inner_folds=3) and family_of(config.model).type == "knn"
    assert config.describe()["model"].startswith("k nearest neighbours per 10 s segment")
    path.write_text(path.read_text().replace("[2, 4]", "[0]"))
    with pytest.raises(DataError, match=r"run1.toml: model.knn_neighbours: expected a non-empty list, each at least 1, "
                                        r"got \[0\]$"):
        RunDefinition.load(path)
    path.write_text(path.read_text().replace('type = "knn"', 'type = "knm"'))
    with pytest.raises(DataError, match=r"model.type: expected one of lstm, ridge, svr, hgb, knn, got 'knm'$"):
        RunDefinition.load(path)
    films = _films()
    model = fit_segment_model(films[:6], VALENCE_AROUSAL, config.model, seed=1)
    assert {o.params["n_neighbors"] for o in model.outputs} <= {2, 4}
    assert model.predict_rows(films[6].x, films[6].n_segments).shape == (films[6].n_segments, 2)
    # its estimator takes no sample weights: fitted, and recorded, with every segment alike
    assert [o.weighting for o in model.outputs] == [0.0, 0.0]


def test_a_model_of_before_the_weighting_was_a_share_reads_its_weights_as_a_share():
    """A FittedOutput pickled with ``weighted`` (every film, or every segment) reads it as
    ``weighting`` 1 or 0, and its settings.json's choices still print."""
    from mediaeval.segment_choices import choices_text
    from mediaeval.segment_models import FittedOutput

    for weighted, share in ((True, 1.0), (False, 0.0)):
        output = FittedOutput.__new__(FittedOutput)
        output.__setstate__({"params": {"alpha": 10.0}, "estimator": None, "inner_score": -0.1,
                             "spec": InputSpec(), "weighted": weighted, "path": []})
        assert output.weighting == share and not hasattr(output, "weighted")
        assert (output.hedge, output.plain, output.plain_estimator) == (0.0, None, None)   # of before the hedge
    assert choices_text({"targets": [{"film_weighted": True, "params": {"alpha": 10.0}}]}, ["valence"]) == (
        "valence: films weighted, alpha 10")
