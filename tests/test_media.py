"""Streaming decode on the step grid, on real mp4 films written by the tests."""
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import invoke
from films import source_grey, truncate, write_film
from mediaeval.errors import DataError, collect_warnings
from mediaeval.features.extract import extract_to_file
from mediaeval.features.store import load_features
from mediaeval.media import iter_audio_steps, iter_steps, iter_video_steps, probe, shown_frames
from mediaeval.windows import FRAMES_PER_STEP, SAMPLES_PER_STEP, step_count

BACKENDS = ["pyav", "decord"]
SET = ["visual-stats", "audio-stats"]


def decoded_grey(path, n_steps, backend):
    frames = np.concatenate(list(iter_video_steps(path, n_steps, steps_per_chunk=2, backend=backend)))
    return frames.reshape(-1, 112, 112, 3).mean(axis=(1, 2, 3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps", [Fraction(25), Fraction(24000, 1001), Fraction(29786, 1000), Fraction(30)])
def test_frames_are_resampled_to_30fps_by_timestamps(tmp_path, fps, backend):
    path = write_film(tmp_path / "f.mp4", 3.3, fps=fps, audio=False, grey=lambda k: (3 * k) % 240)
    info = probe(path)
    assert info.fps == pytest.approx(float(fps), rel=1e-3)
    n_steps = step_count(info.duration)
    assert n_steps == 6
    grey = decoded_grey(path, n_steps, backend)
    assert grey.shape == (6 * FRAMES_PER_STEP,)
    expected = shown_frames(np.arange(int(round(3.3 * float(fps)))) / float(fps), 6 * FRAMES_PER_STEP)
    assert np.array_equal(grey, source_grey(path, backend)[expected])


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_follows_the_timestamps(tmp_path, backend):
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.02, 0.09, 60))
    times -= times[0]
    path = write_film(tmp_path / "vfr.mp4", float(times[-1]) + 0.05, frame_times=times, audio=False,
                      grey=lambda k: 4 * k)
    n_steps = 2
    grey = decoded_grey(path, n_steps, backend)
    expected = shown_frames(times, n_steps * FRAMES_PER_STEP)
    assert len(np.unique(expected)) < len(expected)  # some frames shown twice, others skipped
    assert np.array_equal(grey, source_grey(path, backend)[expected])


def test_backends_show_the_same_frames(tmp_path):
    path = write_film(tmp_path / "f.mp4", 2.5, fps=Fraction(24000, 1001), audio=False, grey=lambda k: (5 * k) % 250)
    assert np.abs(decoded_grey(path, 4, "pyav") - decoded_grey(path, 4, "decord")).max() <= 1.0
    with pytest.raises(ValueError, match="video backend 'x'"):
        iter_video_steps(path, 4, backend="x")


@pytest.mark.parametrize("rate, channels", [(44100, 2), (48000, 1)])
def test_audio_is_aligned_with_the_steps(tmp_path, rate, channels):
    path = write_film(tmp_path / "a.mp4", 4.0, audio_rate=rate, channels=channels, loud_after=2.0)
    n_steps = step_count(probe(path).duration)
    audio = np.concatenate(list(iter_audio_steps(path, n_steps, steps_per_chunk=3)))
    assert audio.shape == (n_steps, SAMPLES_PER_STEP) and audio.dtype == np.float32
    rms = np.sqrt((audio ** 2).mean(axis=1))
    # step 3 covers [1.6, 2.133): silent before 2.0 s, loud after
    assert rms[:3].max() < 0.01
    assert rms[4:].min() > 0.15
    loud_from = np.flatnonzero(np.abs(audio[3]) > 0.05)[0] / 44100 + 3 * 16 / 30
    assert loud_from == pytest.approx(2.0, abs=0.01)


def test_steps_come_in_aligned_blocks(tmp_path):
    path = write_film(tmp_path / "b.mp4", 5.0)
    blocks = list(iter_steps(path, steps_per_chunk=4))
    assert [b.first_step for b in blocks] == [0, 4, 8]
    assert [len(b) for b in blocks] == [4, 4, 1]
    assert all(b.frames.shape == (len(b), 16, 112, 112, 3) for b in blocks)


def test_film_without_audio_gives_silence_and_a_warning(tmp_path):
    path = write_film(tmp_path / "silent.mp4", 2.0, audio=False)
    with pytest.warns(UserWarning, match="no audio track"), collect_warnings() as caught:
        blocks = list(iter_steps(path))
    assert sum(len(b) for b in blocks) == 3
    assert all(not b.audio.any() for b in blocks)
    assert [w.message for w in caught] == ["no audio track: the audio features are computed on silence"]


def test_truncated_and_non_video_files_are_named(tmp_path):
    path = write_film(tmp_path / "cut.mp4", 3.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.mp4"):
        list(iter_steps(path, n_steps=5))
    text = tmp_path / "text.mp4"
    text.write_text("hello")
    with pytest.raises(DataError, match="text.mp4: expected a readable video file"):
        probe(text)
    with pytest.raises(DataError, match="text.mp4"):
        list(iter_steps(text, n_steps=2))


def decoded_ends(path):
    """Where PyAV's own decoding of each stream stops: end of the last video frame and of the
    last audio frame (seconds), decoding errors ending the stream as they end ours."""
    ends = {}
    for kind in ("video", "audio"):
        with av.open(str(path)) as container:
            stream = getattr(container.streams, kind)[0]
            end = 0.0
            try:
                for frame in container.decode(stream):
                    length = (float(frame.duration * frame.time_base) if kind == "video"
                              else frame.samples / frame.sample_rate)
                    end = max(end, frame.time + length)
            except av.error.FFmpegError:
                pass
            ends[kind] = end
    return ends


def test_truncated_film_fails_by_name(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_film(data / "Good.mp4", 12.0)
    truncate(write_film(data / "Cut.mp4", 30.0, faststart=True), 0.5)   # a partial download
    ends = decoded_ends(data / "Cut.mp4")
    assert probe(data / "Cut.mp4").duration == 30.0 and 10 < ends["video"] < 20   # opens, stops mid-way
    out = tmp_path / "features"
    result = invoke("extract", "--dataset", data, "--out", out)
    assert result.exit_code == 1, result.output
    assert "1 films extracted, 0 already complete, 1 failed" in result.output
    assert (f"failed: Cut: {data / 'Cut.mp4'}: video decoding stopped at {ends['video']:.1f} s of 30.0 s"
            in result.output)
    assert "more than max(2 s, 2 % of the duration) is missing" in result.output
    assert sorted(p.name for p in (out / "+".join(SET)).iterdir()) == ["Good.npz"]


def test_short_gap_is_a_stored_warning_with_the_true_position(tmp_path):
    path = truncate(write_film(tmp_path / "Film.mp4", 30.0, faststart=True), 0.96)
    ends = decoded_ends(path)
    assert 0.25 < 30.0 - ends["video"] <= 2.0 and 0.25 < 30.0 - ends["audio"] <= 2.0
    with pytest.warns(UserWarning, match="decoding stopped at"):
        out, wrote = extract_to_file(path, tmp_path / "features")
    warnings = load_features(out).meta["warnings"]
    video = [w for w in warnings if w.startswith("video")]
    audio = [w for w in warnings if w.startswith("audio")]
    assert video == [f"video decoding stopped at {ends['video']:.1f} s of 30.0 s "
                     f"({30.0 - ends['video']:.1f} s missing: truncated or damaged file?); the last frame is held"]
    assert len(audio) == 1 and audio[0].startswith(f"audio decoding stopped at {ends['audio']:.1f} s of 30.0 s")
    assert "near 0.0 s" not in " ".join(warnings)


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_video_starting_late_keeps_its_end(tmp_path, backend):
    times = np.arange(150) / 25 + 5.0          # 6 s of video from 5 s on; sound from 0 to 6 s
    path = write_film(tmp_path / "Late.mp4", 6.0, frame_times=times, grey=lambda k: (3 * k) % 240)
    assert probe(path).duration == pytest.approx(11.0)
    n_steps = step_count(11.0)
    frames = np.concatenate(list(iter_video_steps(path, n_steps, backend=backend)))
    grey = frames.reshape(-1, 112, 112, 3).mean(axis=(1, 2, 3))
    expected = shown_frames(times, n_steps * FRAMES_PER_STEP)
    assert expected[0] == 0 and expected[-1] == 140   # 10.63 s shows frame 140 (5 + 140 / 25 s)
    assert np.array_equal(grey, source_grey(path, backend)[expected])
