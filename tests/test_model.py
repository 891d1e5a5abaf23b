"""The LSTM (mediaeval/model.py, mediaeval/lstm_layer.py): the textbook LSTM, films packed into
rows of chunks, padding kept out of the loss and the normalisation, the concordance loss,
chunked training and inference, the positive weight of fear, a bfloat16 projection."""
import json

import numpy as np
import pytest

from conftest import invoke, write_tiny_run
from mediaeval.model import (ModelSettings, Piece, Trainer, build_model, concordance_loss, cut_films, pack_films,
                             pad_films, positive_weight, predict_films, set_seed)
from mediaeval.model_folder import stored_run
from mediaeval.runs import RunDefinition
from mediaeval.task import FEAR, VALENCE_AROUSAL

TINY = ModelSettings(lstm_units=4, epochs=3, patience=2, batch_films=2, chunk_steps=4, piece_steps=8)
SMALL = ModelSettings(lstm_units=16, chunk_steps=8, batch_films=3, epochs=2, patience=1)


def reference_lstm(x, kernel, recurrent, bias, units):
    """The textbook LSTM (gates i, f, g, o), one step at a time in NumPy."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def test_chunk_lstm_is_the_textbook_lstm():
    set_seed(0)
    model = build_model(5, VALENCE_AROUSAL, SMALL)
    layer = model.get_layer("lstm")
    x = np.random.default_rng(0).normal(size=(2, 9, 5)).astype(np.float32)
    sequence, h, c = layer(x, np.zeros((2, 16), np.float32), np.zeros((2, 16), np.float32))
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    expected = reference_lstm(x.astype(np.float64), kernel, recurrent, bias, 16)
    assert np.allclose(np.asarray(sequence), expected, atol=1e-5)
    assert np.allclose(np.asarray(h), expected[:, -1], atol=1e-5)
    assert np.allclose(bias[16:32], 1.0)  # forget gate bias starts at 1


def test_chunked_inference_equals_whole_film_inference():
    set_seed(1)
    model = build_model(6, FEAR, SMALL)
    trainer = Trainer(model, FEAR, SMALL)
    rng = np.random.default_rng(1)
    films = [rng.normal(size=(n, 6)).astype(np.float32) for n in (40, 13, 71, 5)]
    whole = predict_films(trainer.infer, films, 16, chunk_steps=128, batch_films=4)
    for chunk, group in ((7, 1), (16, 3), (1, 2)):
        chunked = predict_films(trainer.infer, films, 16, chunk_steps=chunk, batch_films=group)
        for a, b in zip(whole, chunked):
            assert a.shape == b.shape and a.shape[1] == 1
            assert np.allclose(a, b, atol=1e-5)


def test_padding_has_no_weight_in_the_loss():
    films = [np.ones((3, 2), np.float32), np.ones((5, 2), np.float32)]
    batch = pad_films(films, [np.zeros((3, 2)), np.zeros((5, 2))], None, 2)
    assert batch.weight.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.x.shape == (2, 5, 2) and batch.x[0, 3:].sum() == 0
    set_seed(2)
    trainer = Trainer(build_model(2, VALENCE_AROUSAL, SMALL), VALENCE_AROUSAL, SMALL)
    y = np.zeros((1, 4, 2), np.float32)
    prediction = np.full((1, 4, 2), 0.5, np.float32)
    prediction[0, 2:] = 9.0  # huge errors on padding
    loss = trainer.loss(y, prediction, np.array([[1, 1, 0, 0]], np.float32))
    assert float(loss) == pytest.approx(0.25)


@pytest.mark.slow
def test_training_learns_and_is_deterministic():
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(n, 4)).astype(np.float32) for n in (30, 25, 40)]
    ys = [np.tanh(x[:, :2]) for x in xs]
    results = []
    for _ in range(2):
        set_seed(5)
        trainer = Trainer(build_model(4, VALENCE_AROUSAL, SMALL), VALENCE_AROUSAL, SMALL)
        batch = pad_films(xs, ys, None, 2)
        losses = [trainer.train_batch(batch) for _ in range(15)]
        results.append((losses, trainer.model.get_weights()))
    assert results[0][0][-1] < results[0][0][0]
    assert results[0][0] == results[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_positive_weight():
    targets = [np.array([[0.0], [1.0], [0.0], [0.0]])]
    assert positive_weight(targets, ModelSettings()) == 3.0
    assert positive_weight([np.zeros((4, 1))], ModelSettings()) == 1.0
    assert positive_weight([np.array([[1.0]] + [[0.0]] * 99)], ModelSettings()) == 20.0  # capped
    assert positive_weight(targets, ModelSettings(fear_positive_weight=2.5)) == 2.5


@pytest.mark.slow
def test_bfloat16_run_loads_and_trains(tiny_dataset, features, tmp_path):
    config = write_tiny_run(tmp_path / "run1.toml", extra='projection_dtype = "bfloat16"\n')
    assert RunDefinition.load(config).model.projection_dtype == "bfloat16"
    from mediaeval import lstm_layer
    from mediaeval.cpu import NATIVE, bfloat16_support

    lstm_layer._WARNED.clear()   # warned once per process: this test expects it where bfloat16 is emulated
    import warnings

    expected = (pytest.warns(UserWarning, match="no native bfloat16, so it is emulated")
                if bfloat16_support() != NATIVE else warnings.catch_warnings())
    with expected:   # both restore the warning filters on leaving
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)   # as setup.cfg does
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert stored_run(tmp_path / "m").model.projection_dtype == "bfloat16"
    settings = json.loads((tmp_path / "m" / "final" / "seed1" / "settings.json").read_text())
    assert settings["settings"]["projection_dtype"] == "bfloat16"
    out = tmp_path / "me17ei_team_valence_arousal_run1.txt"
    result = invoke("predict", tmp_path / "m", "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 0, result.output
    values = np.array([ln.split() for ln in out.read_text().splitlines()[1:]], float)
    assert values.shape[1] == 2 and np.isfinite(values).all()


def test_cut_films_covers_every_step_once_with_warm_up():
    pieces = cut_films([9, 3, 0], piece_steps=8, chunk_steps=4)
    assert pieces == [Piece(0, 0, 8, 0), Piece(0, 4, 9, 8), Piece(1, 0, 3, 0), Piece(2, 0, 0, 0)]
    # piece_steps is rounded down to whole chunks, and never below one chunk
    assert cut_films([10], piece_steps=7, chunk_steps=4) == [Piece(0, 0, 4, 0), Piece(0, 0, 8, 4), Piece(0, 4, 10, 8)]


def test_pack_films_places_every_weighted_step_once_and_resets_on_chunk_boundaries():
    lengths = [9, 3, 6, 1]
    xs = [np.full((n, 1), 10 * (i + 1), np.float32) + np.arange(n, dtype=np.float32)[:, None]
          for i, n in enumerate(lengths)]
    ys = [x[:, :1] / 100 for x in xs]
    ws = [np.full(n, i + 1.0, np.float32) for i, n in enumerate(lengths)]
    batch = pack_films(xs, ys, ws, 2, TINY, np.random.default_rng(0))
    assert batch.x.shape[0] == 2 and batch.x.shape[1] % 4 == 0
    starts = np.argwhere(batch.reset)
    assert all(step % 4 == 0 for _, step in starts)
    weighted = batch.weight > 0
    # each film's weighted steps appear exactly once, with their own weights and targets
    values = sorted(batch.x[weighted, 0].tolist())
    assert values == sorted(float(v) for x in xs for v in x[:, 0])
    assert sorted(batch.weight[weighted].tolist()) == sorted(float(v) for w in ws for v in w)
    assert np.allclose(batch.y[weighted, 0], batch.x[weighted, 0] / 100)
    # the second piece of the 9-step film re-reads steps 4-7 with weight 0 (warm-up) after a reset
    row, at = next((r, s) for r, s in starts if batch.x[r, s, 0] == 14.0)
    assert batch.weight[row, at:at + 4].tolist() == [0, 0, 0, 0] and batch.x[row, at + 4, 0] == 18.0
    # the same generator state gives the same rows
    again = pack_films(xs, ys, ws, 2, TINY, np.random.default_rng(0))
    assert np.array_equal(again.x, batch.x) and np.array_equal(again.reset, batch.reset)


def test_padding_is_masked_out_of_the_batch_normalisation():
    set_seed(0)
    settings = ModelSettings(lstm_units=4, input_dropout=0.0, output_dropout=0.0, chunk_steps=8)
    trainer = Trainer(build_model(2, VALENCE_AROUSAL, settings), VALENCE_AROUSAL, settings)
    x = np.zeros((2, 8, 2), np.float32)
    x[0, :8] = [3.0, 5.0]
    x[1, :2] = [3.0, 5.0]                     # 6 steps of padding (zeros) after the second film
    weight = np.zeros((2, 8), np.float32)
    weight[0, :] = 1
    weight[1, :2] = 1
    h = np.zeros((2, 4), np.float32)
    trainer._train_step(x, np.zeros((2, 8, 2), np.float32), weight, h, h)
    norm = trainer.model.get_layer("input_norm")
    # momentum 0.99: the moving mean moved 1 % of the way to the real steps' mean (3, 5), and
    # the variance of the real steps is 0 (the padding's zeros would have made it 2.1 and 5.9)
    assert np.allclose(norm.moving_mean.numpy(), [0.03, 0.05], atol=1e-6)
    assert np.allclose(norm.moving_variance.numpy(), [0.99, 0.99], atol=1e-6)


def textbook_ccc(y, p):
    return 2 * np.cov(y, p, bias=True)[0, 1] / (y.var() + p.var() + (y.mean() - p.mean()) ** 2)


def test_concordance_loss_is_one_minus_lins_ccc_over_weighted_steps():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(2, 5, 2)).astype(np.float32)
    p = (0.5 * y + rng.normal(size=y.shape)).astype(np.float32)
    weight = np.ones((2, 5), np.float32)
    weight[1, 3:] = 0
    keep = weight > 0
    expected = 1 - np.mean([textbook_ccc(y[keep][:, j].astype(np.float64), p[keep][:, j].astype(np.float64))
                            for j in range(2)])
    assert float(concordance_loss(y, p, weight)) == pytest.approx(expected, abs=1e-5)
    assert float(concordance_loss(y, y, weight)) == pytest.approx(0.0, abs=1e-5)
