import numpy as np
import pytest

from mediaeval.windows import (STEP_SECONDS, overlap_seconds, segment_count, segment_starts,
                               segments_to_steps, step_count, step_starts, steps_to_segments)


@pytest.mark.parametrize("duration, steps, segments", [
    (0.0, 0, 0), (9.99, 18, 0), (10.0, 18, 1), (14.99, 28, 1), (15.0, 28, 2),
    (20.0, 37, 3), (119.0, 223, 22), (590.0, 1106, 117), (4568.0, 8565, 912),
    (137.4, 257, 26), (16 / 30, 1, 0), (59.99999999, 112, 11),
])
def test_counts(duration, steps, segments):
    assert step_count(duration) == steps
    assert segment_count(duration) == segments


def test_starts_are_times():
    assert step_starts(3).tolist() == pytest.approx([0.0, 16 / 30, 32 / 30])
    assert segment_starts(3).tolist() == [0.0, 5.0, 10.0]
    assert STEP_SECONDS == 16 / 30


def test_negative_or_nan_duration_is_refused():
    with pytest.raises(ValueError, match="duration"):
        segment_count(-1)
    with pytest.raises(ValueError, match="duration"):
        step_count(float("nan"))


def test_steps_to_segments_by_hand():
    # 20 s: 37 steps (the last ends at 19.733 s), segments start at 0, 5, 10.
    values = np.arange(37, dtype=float)
    out = steps_to_segments(values, 20.0)
    # [0, 10): steps 0..17 whole (16/30 s each), step 18 for 0.4 s.
    first = (sum(range(18)) * 16 / 30 + 18 * 0.4) / 10
    # [5, 15): step 9 for 1/3 s, steps 10..27 whole, step 28 for 1/15 s.
    second = (9 / 3 + sum(range(10, 28)) * 16 / 30 + 28 / 15) / 10
    # [10, 20): step 18 for 2/15 s, steps 19..36 whole; steps cover 9.7333 s of it.
    third = (18 * 2 / 15 + sum(range(19, 37)) * 16 / 30) / (2 / 15 + 18 * 16 / 30)
    assert out == pytest.approx([first, second, third], abs=1e-12)
    assert out == pytest.approx([8.88, 18.246666666666666, 27.36986301369863], abs=1e-12)


def test_segments_to_steps_by_hand():
    # 22 s: 3 segments (the last ends at 20 s), 41 steps.
    out = segments_to_steps([0.0, 1.0, 2.0], 22.0)
    assert out.shape == (41,)
    assert out[0] == 0.0
    # step 9 = [4.8, 5.333): 0.5333 s of segment 0, 0.3333 s of segment 1
    assert out[9] == pytest.approx(5 / 13, abs=1e-12)
    # step 18 = [9.6, 10.133): 0.4 s of segment 0, 0.5333 of 1, 0.1333 of 2
    assert out[18] == pytest.approx(0.75, abs=1e-12)
    # step 37 = [19.733, 20.267) touches segment 2 only; 38.. lie past the last segment
    assert out[37:].tolist() == [2.0, 2.0, 2.0, 2.0]


def _dense_overlap(n_segments, n_steps):
    matrix = np.zeros((n_segments, n_steps))
    for k in range(n_segments):
        for i in range(n_steps):
            lo, hi = max(5 * k, i * 16 / 30), min(5 * k + 10, (i + 1) * 16 / 30)
            matrix[k, i] = max(0.0, hi - lo)
    return matrix


@pytest.mark.parametrize("duration", [10.0, 37.3, 119.0, 200.77])
def test_overlap_matches_brute_force(duration):
    n_seg, n_step = segment_count(duration), step_count(duration)
    assert np.allclose(overlap_seconds(n_seg, n_step).toarray(), _dense_overlap(n_seg, n_step), atol=1e-12)


def test_segments_are_covered_for_ten_seconds_where_steps_reach():
    totals = np.asarray(overlap_seconds(912, 8565).sum(axis=1)).ravel()
    assert np.allclose(totals, 10.0)
    # 20 s: steps end at 19.733 s, so the last segment [10, 20) is covered for 9.7333 s only
    assert np.asarray(overlap_seconds(3, 37).sum(axis=1)).ravel() == pytest.approx([10, 10, 9.7333333333], abs=1e-9)


def test_vectors_and_constants():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(step_count(590), 3))
    out = steps_to_segments(values, 590)
    assert out.shape == (117, 3)
    assert np.allclose(steps_to_segments(np.full(1106, 0.25), 590), 0.25)
    assert np.allclose(segments_to_steps(np.full((117, 2), -0.5), 590), -0.5)


def test_wrong_lengths_are_refused():
    with pytest.raises(ValueError, match="has 37 steps, got values for 36"):
        steps_to_segments(np.zeros(36), 20.0)
    with pytest.raises(ValueError, match="has 3 segments"):
        segments_to_steps(np.zeros(4), 20.0)


def test_round_trip_does_not_drift_on_a_long_film():
    # The thesis's recursive compression drifted to ~0.4 by the end of a long film.
    rng = np.random.default_rng(1)
    duration = 4568.0
    labels = np.cumsum(rng.normal(0, 0.02, segment_count(duration)))
    back = steps_to_segments(segments_to_steps(labels, duration), duration)
    error = np.abs(back - labels)
    assert error.max() < 0.05
    assert error[-100:].mean() < 2 * error[:100].mean() + 1e-3


def test_count_based_variants_agree_and_extend():
    rng = np.random.default_rng(2)
    from mediaeval.windows import segments_to_n_steps, steps_to_n_segments

    steps = rng.normal(size=step_count(137.4))
    assert np.array_equal(steps_to_n_segments(steps, segment_count(137.4)), steps_to_segments(steps, 137.4))
    segments = rng.normal(size=segment_count(137.4))
    assert np.array_equal(segments_to_n_steps(segments, step_count(137.4)), segments_to_steps(segments, 137.4))
    # 37 steps end at 19.733 s: segment 3 [15, 25) is partly covered, segment 4 [20, 30) not at all
    # and takes the last covered value
    out = steps_to_n_segments(np.arange(37, dtype=float), 5)
    third = (28 * (15.466666666666667 - 15) + sum(range(29, 37)) * 16 / 30) / (19.733333333333333 - 15)
    assert out[3] == pytest.approx(third) and out[4] == out[3]
