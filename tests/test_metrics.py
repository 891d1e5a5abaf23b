import json

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn import metrics as sk

from mediaeval.metrics import (accuracy, average_precision, concordance_correlation, f1, mean_squared_error,
                               pearson_correlation, precision, quadrant_accuracy, recall)
from mediaeval.scoring import score_fear, score_valence_arousal


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_match_scipy_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(-1, 1, 50)
    prediction = 0.5 * truth + rng.normal(0, 0.3, 50)
    assert mean_squared_error(truth, prediction) == pytest.approx(sk.mean_squared_error(truth, prediction), abs=1e-12)
    assert pearson_correlation(truth, prediction) == pytest.approx(pearsonr(truth, prediction)[0], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    truth = (rng.random(80) < 0.2).astype(int)
    confidence = np.clip(0.3 * truth + rng.random(80) * 0.7, 0, 1)
    confidence[::7] = 0.5  # ties
    labels = (confidence >= 0.5).astype(int)
    expected = sk.average_precision_score(truth, confidence)
    assert average_precision(truth, confidence) == pytest.approx(expected, abs=1e-12)
    assert accuracy(truth, labels) == pytest.approx(sk.accuracy_score(truth, labels))
    assert precision(truth, labels) == pytest.approx(sk.precision_score(truth, labels))
    assert recall(truth, labels) == pytest.approx(sk.recall_score(truth, labels))
    assert f1(truth, labels) == pytest.approx(sk.f1_score(truth, labels))


def test_hand_computed_values():
    assert mean_squared_error([1, 2], [1, 4]) == 2.0
    assert pearson_correlation([1, 2, 3], [3, 2, 1]) == -1.0
    # ranking 1, 0, 1: precision 1 at recall 1/2, 2/3 at recall 1
    assert average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # all tied: one threshold, precision 2/3 at recall 1
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.5]) == pytest.approx(2 / 3)
    assert quadrant_accuracy([[0.0, 0.0], [-0.1, 0.1]], [[0.2, 0.3], [0.1, 0.1]]) == 0.5


def test_degenerate_inputs_are_nan_by_rule():
    assert np.isnan(pearson_correlation([0.1, 0.1, 0.1], [0.2, 0.3, 0.4]))   # constant truth
    assert np.isnan(pearson_correlation([0.1, 0.2, 0.3], [0.2, 0.2, 0.2]))   # constant prediction
    assert np.isnan(pearson_correlation([0.1], [0.2]))                       # one value
    assert np.isnan(average_precision([0, 0, 0], [0.1, 0.5, 0.9]))           # no positive
    assert np.isnan(precision([1, 0], [0, 0]))                               # nothing predicted
    assert np.isnan(recall([0, 0], [1, 0]))                                  # nothing true
    assert np.isnan(f1([0, 0], [0, 0]))
    assert np.isnan(mean_squared_error([], []))
    with pytest.raises(ValueError, match="shape"):
        mean_squared_error([1, 2], [1])


def _va(seed, n):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(-0.8, 0.8, (n, 2))
    return truth, np.clip(truth + rng.normal(0, 0.2, (n, 2)), -1, 1)


def test_valence_arousal_official_is_the_mean_over_films_and_pooled_is_pooled():
    (t1, p1), (t2, p2) = _va(0, 30), _va(1, 10)
    scores = score_valence_arousal({"A": t1, "B": t2}, {"A": p1, "B": p2})
    assert scores.official["valence_mse"] == pytest.approx(
        (sk.mean_squared_error(t1[:, 0], p1[:, 0]) + sk.mean_squared_error(t2[:, 0], p2[:, 0])) / 2)
    assert scores.official["arousal_pcc"] == pytest.approx(
        (pearsonr(t1[:, 1], p1[:, 1])[0] + pearsonr(t2[:, 1], p2[:, 1])[0]) / 2)
    pooled_t, pooled_p = np.vstack([t1, t2]), np.vstack([p1, p2])
    assert scores.pooled["valence_pcc"] == pytest.approx(pearsonr(pooled_t[:, 0], pooled_p[:, 0])[0])
    assert scores.per_film["B"]["arousal_mse"] == pytest.approx(sk.mean_squared_error(t2[:, 1], p2[:, 1]))


def test_constant_prediction_film_makes_official_pcc_undefined_and_is_named():
    # issue 11 item 3: the official mean over films is undefined, as in the 2017 script (it was
    # the mean over the defined films before; that figure is now valence_pcc_defined_films)
    (t1, p1), (t2, _) = _va(0, 30), _va(1, 10)
    scores = score_valence_arousal({"A": t1, "B": t2}, {"A": p1, "B": np.zeros_like(t2)})
    assert np.isnan(scores.official["valence_pcc"])
    assert scores.official["valence_pcc_defined_films"] == pytest.approx(pearsonr(t1[:, 0], p1[:, 0])[0])
    assert np.isnan(scores.per_film["B"]["valence_pcc"])
    assert any("valence_pcc" in n and "B" in n for n in scores.notes)
    out = scores.to_json()
    assert out["per_film"]["B"]["valence_pcc"] is None and out["official"]["valence_pcc"] is None
    json.dumps(out)


def test_fear_map_leaves_out_films_without_fear():
    truth = {"A": np.array([0, 1, 0, 1]), "B": np.array([0, 0, 0]), "C": np.array([1, 0])}
    conf = {"A": np.array([0.1, 0.9, 0.6, 0.4]), "B": np.array([0.2, 0.7, 0.1]), "C": np.array([0.3, 0.8])}
    prediction = {f: np.column_stack([(c >= 0.5).astype(float), c]) for f, c in conf.items()}
    scores = score_fear(truth, prediction)
    ap_a = sk.average_precision_score(truth["A"], conf["A"])
    ap_c = sk.average_precision_score(truth["C"], conf["C"])
    assert scores.official["map"] == pytest.approx((ap_a + ap_c) / 2)
    assert scores.official["map_films"] == 2 and scores.official["map_films_left_out"] == 1
    assert any("B" in n for n in scores.notes)
    y = np.concatenate(list(truth.values()))
    c = np.concatenate(list(conf.values()))
    assert scores.pooled["map"] == pytest.approx(sk.average_precision_score(y, c))
    assert scores.official["f1"] == pytest.approx(sk.f1_score(y, c >= 0.5))
    assert scores.official["accuracy"] == pytest.approx(sk.accuracy_score(y, c >= 0.5))


def _textbook_ccc(y, p) -> float:
    """Lin (1989): 2 s_xy / (s_x² + s_y² + (x̄ - ȳ)²), moments divided by n, by a loop."""
    n = len(y)
    my, mp = sum(y) / n, sum(p) / n
    syy = sum((a - my) ** 2 for a in y) / n
    spp = sum((b - mp) ** 2 for b in p) / n
    syp = sum((a - my) * (b - mp) for a, b in zip(y, p)) / n
    return 2 * syp / (syy + spp + (my - mp) ** 2)


@pytest.mark.parametrize("seed", range(5))
def test_ccc_matches_the_textbook_formula_and_is_pcc_times_the_bias_factor(seed):
    # issue 22 item 4: CCC beside MSE and PCC
    rng = np.random.default_rng(seed)
    truth = rng.uniform(-1, 1, 40)
    prediction = 0.6 * truth + 0.2 + rng.normal(0, 0.2, 40)
    value = concordance_correlation(truth, prediction)
    assert value == pytest.approx(_textbook_ccc(list(truth), list(prediction)), abs=1e-12)
    sy, sp = truth.std(), prediction.std()
    bias = 2 / (sy / sp + sp / sy + (truth.mean() - prediction.mean()) ** 2 / (sy * sp))
    assert value == pytest.approx(pearsonr(truth, prediction)[0] * bias, abs=1e-12)
    assert value < pearsonr(truth, prediction)[0]              # a wrong level and scale cost CCC, not PCC
    assert concordance_correlation(truth, truth) == 1.0
    assert concordance_correlation(truth, np.full(40, 0.3)) == 0.0     # a constant: 0, where its PCC is undefined
    assert np.isnan(concordance_correlation([0.2], [0.1]))
    assert np.isnan(concordance_correlation([0.2, 0.2], [0.2, 0.2]))


def test_ccc_is_reported_per_film_and_as_the_mean_over_films():
    (t1, p1), (t2, p2) = _va(0, 30), _va(1, 10)
    scores = score_valence_arousal({"A": t1, "B": t2}, {"A": p1, "B": p2})
    per_film = [_textbook_ccc(list(t[:, 1]), list(p[:, 1])) for t, p in ((t1, p1), (t2, p2))]
    assert scores.per_film["B"]["arousal_ccc"] == pytest.approx(per_film[1], abs=1e-12)
    assert scores.official["arousal_ccc"] == pytest.approx(np.mean(per_film), abs=1e-12)


def test_fear_false_alarm_rate_is_on_the_films_without_fear():
    # issue 22 item 7: MAP leaves out the films without fear; the false-alarm rate is about them
    truth = {"A": np.array([0, 1, 0, 1]), "B": np.array([0, 0, 0, 0]), "C": np.array([0, 0]),
             "D": np.array([1, 0])}
    labels = {"A": [1, 1, 1, 1], "B": [1, 0, 0, 0], "C": [1, 1], "D": [1, 1]}
    prediction = {f: np.column_stack([np.array(v, float), np.array(v, float) * 0.9]) for f, v in labels.items()}
    scores = score_fear(truth, prediction)
    assert scores.per_film["B"]["false_alarm"] == 0.25 and scores.per_film["C"]["false_alarm"] == 1.0
    assert np.isnan(scores.per_film["A"]["false_alarm"])             # a film with fear has none
    assert scores.official["false_alarm_rate"] == pytest.approx((0.25 + 1.0) / 2)
    assert scores.official["false_alarm_films"] == 2
    assert "false_alarm" not in scores.pooled
    json.dumps(scores.to_json())
