"""Extractors, the feature store and the ``extract`` command."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import invoke
from films import write_film
from mediaeval.cli import cli
from mediaeval.errors import DataError
from mediaeval.features import available, get_extractor
from mediaeval.features.audio import N_FRAMES, N_MELS, audio_stats, log_mel_patch, mel_filterbank
from mediaeval.features.extract import ExtractionOptions, extract_dataset, extract_film, extract_to_file
from mediaeval.features.registry import Extractor
from mediaeval.features.store import STALE_SECONDS, feature_path, file_fingerprint, is_complete, load_features
from mediaeval.features.visual import COLUMNS, visual_stats
from mediaeval.media import StepBlock
from mediaeval.windows import SAMPLES_PER_STEP, step_count, step_starts

SET = ["visual-stats", "audio-stats"]


def block(frames=None, audio=None, n=2):
    if frames is None:
        frames = np.zeros((n, 16, 112, 112, 3), np.uint8)
    if audio is None:
        audio = np.zeros((len(frames), SAMPLES_PER_STEP), np.float32)
    return StepBlock(0, frames, audio)


def test_registry():
    assert {"visual-stats", "audio-stats", "log-mel"} <= set(available())
    assert get_extractor("visual-stats").dim == len(COLUMNS) == 20
    assert get_extractor("audio-stats").dim == 133
    assert get_extractor("log-mel").dim == N_FRAMES * N_MELS == 6272
    with pytest.raises(ValueError, match="unknown extractor 'nope'; available:"):
        get_extractor("nope")


def stats(values):
    return dict(zip(COLUMNS, values))


def test_visual_stats_of_a_flat_grey_step():
    frames = np.full((1, 16, 112, 112, 3), 51, np.uint8)
    out = stats(visual_stats({}, block(frames))[0])
    assert out["mean_r"] == out["mean_g"] == pytest.approx(0.2, abs=1e-4)
    for key in ("std_r", "saturation_mean", "edge_density", "motion_mean", "motion_max", "cut_score", "colourfulness"):
        assert out[key] == pytest.approx(0.0, abs=1e-4), key
    assert out["luminance_mean"] == pytest.approx(0.2, abs=1e-4)


def test_visual_stats_see_a_cut_and_colour():
    frames = np.zeros((1, 16, 112, 112, 3), np.uint8)
    frames[0, 8:] = 255
    out = stats(visual_stats({}, block(frames))[0])
    assert out["motion_max"] == pytest.approx(1.0)
    assert out["motion_mean"] == pytest.approx(1 / 16)
    assert out["cut_score"] == pytest.approx(1.0)
    red = np.zeros((1, 16, 112, 112, 3), np.uint8)
    red[..., 0] = 200
    out = stats(visual_stats({}, block(red))[0])
    assert out["saturation_mean"] == pytest.approx(1.0)
    assert out["hue_cos"] == pytest.approx(1.0) and out["hue_sin"] == pytest.approx(0.0, abs=1e-6)


def test_motion_carries_across_blocks():
    state = {}
    visual_stats(state, block(np.zeros((1, 16, 112, 112, 3), np.uint8)))
    white = np.full((1, 16, 112, 112, 3), 255, np.uint8)
    assert stats(visual_stats(state, block(white))[0])["motion_max"] == pytest.approx(1.0)


def test_audio_stats_of_a_sine():
    t = np.arange(SAMPLES_PER_STEP) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
    values = audio_stats({}, block(audio=tone, n=1))[0]
    log_rms, centroid, rolloff, flatness, zcr = values[-5:]
    assert log_rms == pytest.approx(np.log(0.5 / np.sqrt(2)), abs=1e-3)
    assert centroid == pytest.approx(1000 / 22050, rel=0.05)
    assert zcr == pytest.approx(2000 / 44100, rel=0.01)
    assert flatness < 0.01
    band_means = values[:N_MELS]
    assert abs(np.argmax(band_means) - np.argmin(np.abs(mel_centres() - 1000))) <= 1


def mel_centres():
    bank = mel_filterbank()
    return np.linspace(0, 22050, bank.shape[1])[bank.argmax(axis=1)]


def test_log_mel_patch_shape_and_filterbank():
    assert mel_filterbank().shape == (64, 257)
    assert mel_filterbank().max(axis=1).max() <= 1.0
    patch = log_mel_patch({}, block(n=3))
    assert patch.shape == (3, 6272)
    assert np.allclose(patch, np.log(1e-10))


def test_extract_film_in_memory(tmp_path):
    path = write_film(tmp_path / "Film.mp4", 4.0)
    features = extract_film(path)
    assert features.values.shape == (7, 153) and features.values.dtype == np.float32
    assert np.array_equal(features.times, step_starts(7))
    assert features.columns[0] == "visual-stats/mean_r" and features.columns[-1] == "audio-stats/zcr"
    assert features.meta["film"] == "Film" and features.meta["n_steps"] == 7
    assert [e["name"] for e in features.meta["extractors"]] == ["visual-stats", "audio-stats"]
    assert np.isfinite(features.values).all()
    only_audio = extract_film(path, ExtractionOptions(("audio-stats",)))
    assert np.array_equal(only_audio.values, features.values[:, 20:])


def test_silent_film_stores_its_warning(tmp_path):
    path = write_film(tmp_path / "Silent.mp4", 2.0, audio=False)
    with pytest.warns(UserWarning):
        out, _ = extract_to_file(path, tmp_path / "features")
    assert load_features(out).meta["warnings"] == ["no audio track: the audio features are computed on silence"]


def test_files_are_skipped_redone_when_corrupt_or_stale(tmp_path):
    path = write_film(tmp_path / "Film.mp4", 2.0)
    out, wrote = extract_to_file(path, tmp_path / "f")
    assert wrote and out == feature_path(tmp_path / "f", ["visual-stats", "audio-stats"], "Film")
    assert extract_to_file(path, tmp_path / "f") == (out, False)
    assert extract_to_file(path, tmp_path / "f", ExtractionOptions(overwrite=True)) == (out, True)
    out.write_bytes(out.read_bytes()[:100])
    with pytest.raises(DataError, match="Film.npz: expected a mediaeval feature file"):
        load_features(out)
    assert not is_complete(out, [get_extractor("visual-stats"), get_extractor("audio-stats")])
    assert extract_to_file(path, tmp_path / "f") == (out, True)
    assert load_features(out).values.shape == (3, 153)


def test_interrupted_extraction_leaves_no_file(tmp_path, temporary_extractor):
    calls = []

    def interrupt(state, blk):
        calls.append(1)
        raise KeyboardInterrupt

    temporary_extractor("interrupting", lambda: Extractor("interrupting", "visual", "1", ["x"], process=interrupt))
    path = write_film(tmp_path / "Film.mp4", 2.0)
    with pytest.raises(KeyboardInterrupt):
        extract_to_file(path, tmp_path / "f", ExtractionOptions(("interrupting",)))
    assert calls and list((tmp_path / "f").rglob("*")) in ([], [tmp_path / "f" / "interrupting"])


def test_dataset_extraction_goes_on_after_a_failure(tmp_path):
    from mediaeval.dataset import Dataset

    (tmp_path / "data").mkdir()
    write_film(tmp_path / "data" / "Good.mp4", 2.0)
    (tmp_path / "data" / "Bad.mp4").write_text("not a film")
    films = Dataset.discover(tmp_path / "data").select(["dev"])
    report = extract_dataset(films, tmp_path / "f", ExtractionOptions(progress=False))
    assert report.written == ["Good"]
    assert list(report.failed) == ["Bad"] and "Bad.mp4" in report.failed["Bad"]


def test_extract_command(tiny_dataset, tmp_path):
    runner = CliRunner()
    out = tmp_path / "features"
    result = runner.invoke(cli, ["extract", "--dataset", str(tiny_dataset), "--out", str(out),
                                 "--extractor", "visual-stats,audio-stats", "--films", "dev"])
    assert result.exit_code == 0, result.output
    assert "2 films extracted, 0 already complete, 0 failed" in result.output
    files = sorted(p.name for p in (out / "visual-stats+audio-stats").iterdir())
    assert files == ["Sample_01.npz", "Sample_02.npz"]
    result = runner.invoke(cli, ["extract", "--dataset", str(tiny_dataset), "--out", str(out), "--films", "dev"])
    assert "0 films extracted, 2 already complete" in result.output
    assert runner.invoke(cli, ["extract", "--list"]).exit_code == 0
    bad = runner.invoke(cli, ["extract", "--dataset", str(tiny_dataset), "--out", str(out), "--extractor", "nope"])
    assert bad.exit_code == 2 and "unknown extractor 'nope'" in bad.output


def test_a_set_is_read_from_a_larger_set(tmp_path):
    from mediaeval.features.store import load_set

    path = write_film(tmp_path / "Film.mp4", 2.0)
    extract_to_file(path, tmp_path / "f", ExtractionOptions(("visual-stats", "audio-stats")))
    both = load_features(feature_path(tmp_path / "f", ["visual-stats", "audio-stats"], "Film"))
    audio_first = load_set(tmp_path / "f", ["audio-stats", "visual-stats"], "Film")
    assert np.array_equal(audio_first.values, np.concatenate([both.values[:, 20:], both.values[:, :20]], axis=1))
    assert audio_first.columns[0] == "audio-stats/mel00_mean"
    assert [e["name"] for e in audio_first.meta["extractors"]] == ["audio-stats", "visual-stats"]
    assert np.array_equal(load_set(tmp_path / "f", ["visual-stats"], "Film").values, both.values[:, :20])
    with pytest.raises(FileNotFoundError):
        load_set(tmp_path / "f", ["egemaps"], "Film")


def test_of_several_larger_sets_the_most_recently_written_is_read(tmp_path):
    """A set left over from other runs (here "audio-stats+visual-stats", name-sorted first) may
    be stale; the one an extraction last brought up to date is read."""
    import os

    from mediaeval.features.store import FilmFeatures, load_set, save_features

    path = write_film(tmp_path / "Film.mp4", 2.0)
    extract_to_file(path, tmp_path / "f", ExtractionOptions(("visual-stats", "audio-stats")))
    fresh = load_features(feature_path(tmp_path / "f", ["visual-stats", "audio-stats"], "Film"))
    old = [*fresh.columns[20:], *fresh.columns[:20]]
    stale = feature_path(tmp_path / "f", ["audio-stats", "visual-stats"], "Film")
    meta = dict(fresh.meta, extractors=fresh.meta["extractors"][::-1])
    save_features(stale, FilmFeatures(fresh.times, np.zeros_like(fresh.values), old, meta))
    os.utime(stale, ns=(0, 0))                                   # written long before
    assert np.array_equal(load_set(tmp_path / "f", ["visual-stats"], "Film").values, fresh.values[:, :20])
    os.utime(stale)                                              # written after
    assert not load_set(tmp_path / "f", ["visual-stats"], "Film").values.any()


def test_replaced_film_is_extracted_again(tmp_path):
    path = write_film(tmp_path / "Film.mp4", 4.0)
    out, wrote = extract_to_file(path, tmp_path / "f")
    assert wrote and load_features(out).meta["video_file"] == file_fingerprint(path)
    assert file_fingerprint(path)["size"] == path.stat().st_size
    os.utime(path, (1e9, 1e9))                    # touched, or copied without its times: same film
    assert extract_to_file(path, tmp_path / "f") == (out, False)
    write_film(path, 6.0, grey=lambda k: 100)     # replaced by another film
    assert extract_to_file(path, tmp_path / "f") == (out, True)
    assert load_features(out).values.shape[0] == step_count(6.0) == 11
    assert extract_to_file(path, tmp_path / "f") == (out, False)


def test_extraction_here_runs_blas_on_one_thread_and_gives_the_threads_back(tmp_path, temporary_extractor):
    """In this process (--jobs 1, a notebook) an extraction holds the BLAS and OpenMP pools to
    one thread, as a job process is held, and restores them afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from mediaeval.features.extract import ExtractionOptions, extract_film
    from mediaeval.features.registry import Extractor

    seen = []

    def record(state, block):
        seen.append({i["internal_api"]: i["num_threads"] for i in threadpool_info()})
        return np.zeros((len(block), 1), np.float32)

    temporary_extractor("threads", lambda: Extractor("threads", "visual", "1", ["x"], process=record))
    path = write_film(tmp_path / "Film.mp4", 2.0)
    with threadpool_limits(3, user_api="blas"):
        extract_film(path, ExtractionOptions(("threads",)))
        after = {i["internal_api"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen and "openblas" in seen[0] and all(set(s.values()) == {1} for s in seen), seen
    assert set(after.values()) == {3}, after


def test_stale_temporaries_are_removed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_film(data / "Film.mp4", 2.0)
    folder = tmp_path / "features" / "+".join(SET)
    folder.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    stale = folder / f".Film.npz.{dead}.tmp"
    recent = folder / f".Third.npz.{dead}.tmp"
    live = folder / f".Other.npz.{os.getpid()}.tmp"   # this process: alive
    user = folder / ".notes.tmp"
    for path in (stale, recent, live, user):
        path.write_bytes(b"partial")
    old = time.time() - STALE_SECONDS - 10
    for path in (stale, live, user):
        os.utime(path, (old, old))
    result = invoke("extract", "--dataset", data, "--out", tmp_path / "features")
    assert result.exit_code == 0, result.output
    assert f"removed {stale}, left by an interrupted run" in result.output
    assert not stale.exists() and recent.exists() and live.exists() and user.exists()
    assert (folder / "Film.npz").exists()


def test_rotated_film_gets_a_warning(tmp_path):
    path = write_film(tmp_path / "Turned.mp4", 2.0, rotation=-90)   # a phone held upright
    with pytest.warns(UserWarning, match="Turned.mp4: film Turned: its video stream is to be shown rotated by 270 "):
        out, _ = extract_to_file(path, tmp_path / "f")
    assert load_features(out).meta["warnings"] == [
        "film Turned: its video stream is to be shown rotated by 270 degrees counter-clockwise; features are "
        "computed on the frames as stored (unrotated)"]
    plain, _ = extract_to_file(write_film(tmp_path / "Plain.mp4", 2.0), tmp_path / "f")
    assert load_features(plain).meta["warnings"] == []


def test_a_feature_file_holding_a_value_that_is_not_finite_is_refused_and_redone(tmp_path):
    """A damaged store (NaN where a value was) is said in one line naming the file, the step and
    the column, not met later as a solver's error; extract then makes the film again."""
    from mediaeval.features.store import save_features

    path = write_film(tmp_path / "Film.mp4", 2.0)
    out, _ = extract_to_file(path, tmp_path / "f")
    made = load_features(out)
    made.values[1, 4] = np.nan
    save_features(out, made)
    with pytest.raises(DataError) as error:
        load_features(out)
    assert str(error.value) == (f"{out}: holds a value that is not finite (nan at step 1, column {made.columns[4]}); "
                                f"extract or import the film again")
    assert extract_to_file(path, tmp_path / "f") == (out, True)
    assert np.isfinite(load_features(out).values).all()
