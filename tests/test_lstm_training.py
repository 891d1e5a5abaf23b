"""Training one LSTM (mediaeval/lstm_training.py): the validation figure, balanced film weights,
per-film standardisation, early stopping on the official figure, the final model on every film,
post-processing chosen on held-out films."""
import json

import numpy as np
import pytest

from mediaeval.families.lstm import final_epochs
from mediaeval.film_data import FilmData
from mediaeval.lstm_training import Normaliser, _balanced, choose_post_processing, validation_figure
from mediaeval.model import ModelSettings
from mediaeval.post_processing import PostProcessing
from mediaeval.task import FEAR, VALENCE_AROUSAL
from mediaeval.training import _train_into


def _film(name, n_segments, labels, rng, n_features=3):
    n_steps = int(round((5 * n_segments + 5) * 30 / 16))
    return FilmData(name, rng.normal(size=(n_steps, n_features)).astype(np.float32), n_segments, labels)


def test_validation_figure_is_the_official_figure_of_the_segments():
    rng = np.random.default_rng(5)
    labels = np.column_stack([np.linspace(-0.5, 0.5, 6), np.linspace(0.2, -0.2, 6)])
    film = _film("A", 6, labels, rng)
    constant = np.zeros((len(film.x), 2), np.float32)
    expected_mse = np.mean([np.mean(labels[:, 0] ** 2), np.mean(labels[:, 1] ** 2)])
    assert validation_figure([film], [constant], VALENCE_AROUSAL, "official") == pytest.approx(expected_mse)
    # a constant prediction has no PCC: it counts 0, so 1 - PCC is 1
    assert validation_figure([film], [constant], VALENCE_AROUSAL, "pcc") == pytest.approx(1.0)
    fear = FilmData("F", film.x, 6, np.array([0, 0, 1, 1, 0, 0.0]))
    ranked = np.zeros((len(film.x), 1), np.float32)
    assert validation_figure([fear], [ranked], FEAR, "official") == pytest.approx(1 - 2 / 6)


def test_balanced_weights_make_every_film_weigh_the_same():
    weights = _balanced([np.ones(10, np.float32), np.full(30, 2.0, np.float32)])
    assert [float(w.sum()) for w in weights] == pytest.approx([20.0, 20.0])


def test_per_film_standardisation_round_trips(tmp_path):
    rng = np.random.default_rng(6)
    films = [FilmData(n, rng.normal(loc=i * 5, scale=i + 1, size=(20, 2)).astype(np.float32), 0) for i, n in
             enumerate("AB")]
    normaliser = Normaliser.fit(films, per_film=True)
    for film in films:  # each film's own level and scale are gone
        assert np.allclose(normaliser(film.x).mean(axis=0), 0, atol=1e-5)
    normaliser.save(tmp_path / "n.npz")
    loaded = Normaliser.load(tmp_path / "n.npz")
    assert loaded.per_film and np.array_equal(loaded(films[0].x), normaliser(films[0].x))


@pytest.mark.slow
def test_early_stopping_is_nested_and_the_final_model_sees_every_film(tmp_path):
    from mediaeval.runs import RunDefinition

    rng = np.random.default_rng(7)
    films = [_film(f"Film{i}", 8, np.tanh(rng.normal(size=(8, 2))), rng) for i in range(6)]
    config = RunDefinition("valence_arousal", 1, "t", ["x"], seed=3, folds=2,
                           model=ModelSettings(lstm_units=4, epochs=3, patience=1, batch_films=2, chunk_steps=8,
                                               validation_share=0.34))
    from mediaeval.model_folder import ModelFolder
    from mediaeval.workers import as_executor

    ModelFolder(tmp_path).write_manifest(state="partial", token="t")   # as train_run marks the folder it writes
    _, folds, _ = _train_into(tmp_path, config, films, [], "run.txt", progress=False, jobs=as_executor(1), token="t")
    kept = []
    for k, held in enumerate(folds, start=1):
        fold = json.loads((tmp_path / f"fold{k}/seed3/settings.json").read_text())
        # early stopping looks at a film of the training fold, never at the scored fold
        assert fold["validation_films"] and not set(fold["validation_films"]) & set(held)
        assert not set(fold["train_films"]) & set(held)
        kept.append(fold["best_epoch"])
    final = json.loads((tmp_path / "final/seed3/settings.json").read_text())
    assert sorted(final["train_films"]) == [f.name for f in films] and final["validation_films"] == []
    assert final["settings"]["epochs"] == final_epochs(kept) == final["best_epoch"]
    # the final model post-processes as the median of the fold models' choices
    folds_post = [PostProcessing.load(tmp_path / f"fold{k}/seed3") for k in (1, 2)]
    assert PostProcessing.load(tmp_path / "final/seed3") == PostProcessing.median(folds_post)


def test_post_processing_is_chosen_on_held_out_films_and_undoes_a_linear_distortion():
    rng = np.random.default_rng(8)
    films, steps = [], []
    for i in range(3):
        labels = np.column_stack([np.sin(np.arange(12) / (2 + i)), np.cos(np.arange(12) / 3)]) * 0.4
        film = _film(f"F{i}", 12, labels, rng)
        from mediaeval.windows import segments_to_n_steps

        steps.append((2 * segments_to_n_steps(labels, len(film.x)) + 0.1).astype(np.float32))   # too wide, shifted
        films.append(film)
    assert choose_post_processing(films, steps, VALENCE_AROUSAL, ModelSettings(smoothing=(0.0, 4.0))).sigma == (
        4.0, 4.0)   # by the uncalibrated MSE, smoothing shrinks the too wide curves: it is chosen
    post = choose_post_processing(films, steps, VALENCE_AROUSAL, ModelSettings(smoothing=(0.0,)))
    assert post.sigma == (0.0, 0.0)
    from mediaeval.windows import steps_to_n_segments

    raw = np.concatenate([steps_to_n_segments(s.astype(np.float64), f.n_segments) for f, s in zip(films, steps)])
    truth = np.concatenate([f.labels for f in films])
    for j in range(2):   # the textbook least-squares line over every segment of the held-out films
        slope = np.sum((raw[:, j] - raw[:, j].mean()) * (truth[:, j] - truth[:, j].mean())) / np.sum(
            (raw[:, j] - raw[:, j].mean()) ** 2)
        assert post.scale[j] == pytest.approx(slope, rel=1e-9)
        assert post.offset[j] == pytest.approx(truth[:, j].mean() - slope * raw[:, j].mean(), abs=1e-9)
        assert 0.45 < slope < 0.55    # about undoing the factor 2
    for film, s in zip(films, steps):
        assert np.allclose(post.curves(s, film.n_segments, VALENCE_AROUSAL), film.labels, atol=0.05)
    assert choose_post_processing(films, steps, VALENCE_AROUSAL, ModelSettings(calibrate=False)).scale == (1.0, 1.0)
    # with the level of every film the model was given, the slope stays and the mean goes to that level
    level = np.array([0.25, -0.125])
    anchored = choose_post_processing(films, steps, VALENCE_AROUSAL, ModelSettings(smoothing=(0.0,)), level)
    assert anchored.scale == post.scale and anchored.sigma == post.sigma
    for j in range(2):
        assert anchored.offset[j] == pytest.approx(level[j] - post.scale[j] * raw[:, j].mean(), abs=1e-12)
        assert anchored.curves_of(raw)[:, j].mean() == pytest.approx(level[j], abs=1e-12)
    assert choose_post_processing(films, steps, VALENCE_AROUSAL, ModelSettings(smoothing=(0.0,), calibrate=False),
                                  level) == choose_post_processing(films, steps, VALENCE_AROUSAL,
                                                                   ModelSettings(smoothing=(0.0,), calibrate=False))


def test_the_lstm_inputs_are_clipped_as_the_per_segment_inputs_are():
    """A film-mean column of "both" barely varies over a few training films: a held-out film's
    ordinary value would be thousands of standard deviations away; clipped to +-10 instead."""
    rng = np.random.default_rng(0)
    films = [FilmData(f"F{i}", np.c_[rng.normal(0, 1, 40), np.full(40, 5.0 + 1e-4 * i)].astype(np.float32), 4,
                      np.zeros((4, 2))) for i in range(6)]
    normaliser = Normaliser.fit(films, standardise="both")
    inputs = normaliser(np.c_[rng.normal(0, 1, 40), np.full(40, 7.0)].astype(np.float32))
    assert inputs.shape == (40, 4)
    assert np.abs(inputs).max() == 10.0 and (inputs[:, 3] == 10.0).all()
