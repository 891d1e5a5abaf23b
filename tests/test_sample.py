"""The sample dataset: official layout, real mp4 films, pictures and sounds that follow the labels."""
import math

import av
import numpy as np
import pytest

from mediaeval.dataset import Dataset, read_fear, read_valence_arousal
from mediaeval.features.organisers import read_arff
from mediaeval.sample import emotion_curve, fear_labels, make_sample, segment_means
from mediaeval.task import FEAR, VALENCE_AROUSAL
from mediaeval.windows import segment_count

# the real release's visual features and their sizes (LIRE's usual ones; fc6 of VGG16)
VISUAL_DIMS = {"acc": 256, "cedd": 144, "cl": 33, "eh": 80, "fcth": 192, "gabor": 60, "jcd": 168, "sc": 64,
               "tamura": 18, "lbp": 256, "fc6": 4096}
DEV_VISUAL, DEV_AUDIO = "MEDIAEVAL17-DevSet-Visual_features/features", "MEDIAEVAL17-DevSet-Audio_features/features"


def test_layout_and_films(tiny_dataset):
    dataset = Dataset.discover(tiny_dataset)
    assert [f.name for f in dataset.dev_films] == ["Sample_01", "Sample_02"]
    assert [f.name for f in dataset.test_films] == ["MEDIAEVAL17_00"]
    sample_01 = dataset.film("Sample_01")
    assert sample_01.video.relative_to(tiny_dataset).as_posix() == "continuous-movies/Sample_01.mp4"
    assert sample_01.valence_arousal_path.relative_to(tiny_dataset).as_posix() == (
        "MEDIAEVAL17-DevSet-Valence_Arousal-annotations/annotations/Sample_01-MEDIAEVAL2017-valence_arousal.txt")
    assert sample_01.info.fps == pytest.approx(24000 / 1001)
    assert dataset.film("Sample_02").info.fps == 24
    assert sample_01.info.has_audio and sample_01.info.audio_rate == 44100
    assert (tiny_dataset / "MEDIAEVAL17-TestSet-Data/data/MEDIAEVAL17_00.mp4").exists()
    for film in dataset.films.values():
        assert len(film.labels(FEAR)) == len(film.labels(VALENCE_AROUSAL)) == segment_count(film.duration)


def test_organisers_features_in_the_official_layout(tiny_dataset):
    dataset = Dataset.discover(tiny_dataset)
    for film in dataset.films.values():
        if film.split == "test":
            visual = tiny_dataset / "MEDIAEVAL17-TestSet-Visual_features/visual_features" / film.name
            audio = tiny_dataset / "MEDIAEVAL17-TestSet-Audio_features/audio_features" / film.name / "audio_features"
        else:
            visual, audio = tiny_dataset / DEV_VISUAL / film.name, tiny_dataset / DEV_AUDIO / film.name
        assert sorted(p.name for p in visual.iterdir()) == sorted(VISUAL_DIMS)
        seconds = math.ceil(film.duration)          # frame n shows second n - 1, as ffmpeg -r 1 gives them
        for feature, dim in VISUAL_DIMS.items():
            files = sorted((visual / feature).iterdir())
            assert [p.name for p in files] == [f"{film.name}-{n:05d}_{feature}.txt" for n in range(1, seconds + 1)]
            for path in files:
                text = path.read_text()
                assert text.count("\n") == 1 and text.endswith("\n") and len(text.split(",")) == dim
        csvs = sorted(audio.iterdir())
        assert [p.name for p in csvs] == [f"{film.name}-{k:05d}.csv" for k in range(1, film.n_segments + 1)]
        names, rows = read_arff(csvs[-1])
        assert rows.shape == (1, 1582) and np.isfinite(rows).all()
        assert names[:2] == ["pcm_loudness_sma_maxPos", "pcm_loudness_sma_minPos"]
        assert names[-2:] == ["F0final__Turn_numOnsets", "F0final__Turn_duration"]


def test_labels_are_ten_second_means():
    curve = np.arange(30, dtype=float) / 100
    assert segment_means(curve, 3) == pytest.approx([0.045, 0.095, 0.145])
    assert fear_labels(np.array([-0.2, -0.2, 0.0]), np.array([0.3, 0.2, 0.3])).tolist() == [1, 0, 0]


def test_curves_have_the_asked_statistics():
    rng = np.random.default_rng(0)
    curve = emotion_curve(600, 0.1, 0.2, 30.0, rng)
    assert curve.mean() == pytest.approx(0.1, abs=0.01)
    assert curve.std() == pytest.approx(0.2, abs=0.01)
    assert np.abs(np.diff(curve)).mean() < 0.03  # smooth, as the real curves (|dv| ~ 0.005 / s)


def test_same_seed_same_labels(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for root in (a, b):
        make_sample(root, films=1, test_films=0, durations=(11, 11), seed=7, jobs=1, progress=False)
    make_sample(c, films=1, test_films=0, durations=(11, 11), seed=7, jobs=1, progress=False, organisers=False)
    name = "MEDIAEVAL17-DevSet-Valence_Arousal-annotations/annotations/Sample_01-MEDIAEVAL2017-valence_arousal.txt"
    assert (a / name).read_text() == (b / name).read_text() == (c / name).read_text()
    features = [f"{DEV_VISUAL}/Sample_01/fc6/Sample_01-00011_fc6.txt",
                f"{DEV_VISUAL}/Sample_01/cedd/Sample_01-00001_cedd.txt", f"{DEV_AUDIO}/Sample_01/Sample_01-00001.csv"]
    for name in features:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert sorted(p.name for p in c.iterdir()) == [".mediaeval-sample",
        "MEDIAEVAL17-DevSet-Fear-annotations", "MEDIAEVAL17-DevSet-Valence_Arousal-annotations", "continuous-movies"]


def _frames_and_sound(path):
    """Per-second mean RGB of the picture and RMS of the sound."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rgb = {}
        for frame in container.decode(stream):
            rgb.setdefault(int(frame.time), []).append(frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(0))
    with av.open(str(path)) as container:
        sound = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    seconds = sorted(rgb)
    colour = np.array([np.mean(rgb[s], axis=0) for s in seconds])
    rms = np.array([np.sqrt(np.mean(sound[s * 44100:(s + 1) * 44100] ** 2)) for s in seconds])
    return colour, rms


@pytest.mark.slow
def test_picture_and_sound_follow_the_curves(tmp_path):
    make_sample(tmp_path, films=1, test_films=0, durations=(60, 60), seed=11, jobs=1, progress=False)
    dataset = Dataset.discover(tmp_path)
    film = dataset.film("Sample_01")
    colour, rms = _frames_and_sound(film.video)
    labels = read_valence_arousal(film.valence_arousal_path)
    k = len(labels)
    brightness, warmth = colour.mean(axis=1), colour[:, 0] - colour[:, 2]
    seg = lambda x: segment_means(x, k)  # noqa: E731
    assert np.corrcoef(seg(brightness), labels["valence"])[0, 1] > 0.8
    assert np.corrcoef(seg(warmth), labels["valence"])[0, 1] > 0.8
    assert np.corrcoef(seg(rms), labels["arousal"])[0, 1] > 0.8
    assert set(read_fear(film.fear_path)["fear"]) <= {0, 1}
    # the organisers' features are computed from the same pictures and sound
    luma = [float(p.read_text().split(",")[0]) for p in sorted((tmp_path / DEV_VISUAL / "Sample_01" / "cl").iterdir())]
    assert len(luma) == math.ceil(film.duration) and np.corrcoef(seg(np.array(luma)), labels["valence"])[0, 1] > 0.8
    audio = sorted((tmp_path / DEV_AUDIO / "Sample_01").iterdir())
    names = read_arff(audio[0])[0]
    rows = np.concatenate([read_arff(p)[1] for p in audio])
    assert len(rows) == k
    assert np.corrcoef(rows[:, names.index("pcm_loudness_sma_amean")], labels["arousal"])[0, 1] > 0.8
    assert np.corrcoef(rows[:, names.index("F0finEnv_sma_amean")], labels["valence"])[0, 1] > 0.8
