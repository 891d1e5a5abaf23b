"""The organisers' features (mediaeval/features/organisers.py) on the steps, on generated films
and on the sample dataset: their rows spread onto the steps, redone when their files change."""
import numpy as np
import pytest

from films import write_film
from mediaeval.errors import DataError, MediaevalWarning
from mediaeval.features.extract import ExtractionOptions, extract_film
from mediaeval.features.organisers import read_arff
from mediaeval.windows import segments_to_n_steps, segments_to_steps

ARFF = """@relation openSMILE_features

@attribute name string
@attribute pcm_loudness_sma_amean numeric
@attribute mfcc_sma[1]_amean numeric
@attribute class numeric

@data

'unknown',{a},{b},?
"""


def organisers_tree(root, film="Film", seconds=16, rows=((0.1, 0.2), (0.3, 0.4))):
    (root / "continuous-movies").mkdir(parents=True)
    write_film(root / "continuous-movies" / f"{film}.mp4", seconds)
    visual = root / "MEDIAEVAL17-DevSet-Visual_features" / "features" / film
    for kind, dim in (("cedd", 2), ("acc", 3)):
        (visual / kind).mkdir(parents=True)
        for frame in range(1, seconds + 1):
            (visual / kind / f"{film}-{frame:05d}_{kind}.txt").write_text(",".join([str(frame)] * dim) + "\n")
    (visual / "acc" / f"{film}-00003_acc.txt").unlink()
    (visual / "cedd" / f"{film}-00002_cedd.txt").write_text("")
    audio = root / "MEDIAEVAL17-DevSet-Audio_features" / "features" / film
    audio.mkdir(parents=True)
    for k, (a, b) in enumerate(rows):
        (audio / f"{film}_{k}.csv").write_text(ARFF.format(a=a, b=b))
    return root / "continuous-movies" / f"{film}.mp4"


def test_read_arff(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(ARFF.format(a=1.5, b=-2))
    names, rows = read_arff(path)
    assert names == ["pcm_loudness_sma_amean", "mfcc_sma[1]_amean"]
    assert rows.tolist() == [[1.5, -2.0]]
    path.write_text(ARFF.format(a=1.5, b=-2).replace("'unknown',", ""))
    with pytest.raises(DataError, match=r"x.csv:10: expected 4 comma-separated values, got 3"):
        read_arff(path)


def test_organisers_features_on_the_steps(tmp_path):
    video = organisers_tree(tmp_path / "data")
    with pytest.warns(MediaevalWarning) as shown:
        features = extract_film(video, ExtractionOptions(("organisers",), dataset_root=tmp_path / "data"))
    assert features.values.shape == (30, 5 + 2)
    assert features.columns[:5] == ["organisers/visual/acc_0", "organisers/visual/acc_1", "organisers/visual/acc_2",
                                    "organisers/visual/cedd_0", "organisers/visual/cedd_1"]
    assert features.columns[5:] == ["organisers/audio/pcm_loudness_sma_amean", "organisers/audio/mfcc_sma[1]_amean"]
    # step i takes the frame of the second holding its middle: frame floor((i + 0.5) * 16/30) + 1
    frames = np.floor((np.arange(30) + 0.5) * 16 / 30).astype(int) + 1
    acc = np.where(frames == 3, 2, frames)     # frame 3 missing: nearest second is frame 2 (tie: earlier)
    cedd = np.where(frames == 2, 1, frames)    # frame 2 empty: frame 1
    assert features.values[:, 0].tolist() == acc.tolist()
    assert features.values[:, 3].tolist() == cedd.tolist()
    expected_audio = segments_to_steps(np.array([[0.1, 0.2], [0.3, 0.4]]), 16.0)
    assert np.allclose(features.values[:, 5:], expected_audio)
    warnings = features.meta["warnings"]
    assert any("visual acc: 1 of 16 frame files missing, empty or unreadable (frames 3)" in w for w in warnings)
    assert any("visual cedd: 1 of 16" in w and "(frames 2)" in w for w in warnings)
    assert [w.message.message for w in shown] == warnings   # shown as Python warnings too, the folder named
    assert str(shown[0].message).startswith(str(tmp_path / "data" / "MEDIAEVAL17-DevSet-Visual_features"))


def test_organisers_audio_rows_that_are_not_segments_are_spread_with_a_warning(tmp_path):
    video = organisers_tree(tmp_path / "data", rows=((1, 1), (2, 2), (3, 3), (4, 4)))
    with pytest.warns(MediaevalWarning, match="organisers' audio: 4 rows for 2 segments"):
        features = extract_film(video, ExtractionOptions(("organisers-audio",), dataset_root=tmp_path / "data"))
    assert features.values[:, 0].tolist() == np.repeat([1, 2, 3, 4], [7, 8, 7, 8]).tolist()
    assert any("4 rows for 2 segments" in w for w in features.meta["warnings"])


def test_organisers_features_missing_is_a_clear_error(tmp_path):
    (tmp_path / "data").mkdir()
    video = write_film(tmp_path / "data" / "Other.mp4", 2.0)
    with pytest.raises(DataError, match="no organisers' visual features found for film Other"):
        extract_film(video, ExtractionOptions(("organisers-visual",), dataset_root=tmp_path / "data"))


def test_organisers_audio_rows_of_every_segment_of_the_film_need_no_warning(tmp_path):
    """A 15.2 s film has 28 whole steps (14.93 s, one segment) but two annotated segments: two
    rows are one per segment, brought onto the steps without a warning."""
    video = organisers_tree(tmp_path / "data", rows=((1, 10), (3, 30)))
    write_film(video, 15.2)
    features = extract_film(video, ExtractionOptions(("organisers-audio",), dataset_root=tmp_path / "data"))
    assert features.values.shape == (28, 2) and features.meta["warnings"] == []
    assert np.allclose(features.values, segments_to_n_steps(np.array([[1, 10], [3, 30]]), 28))
    # steps before 5 s: the first segment; 5-10 s: both; after 10 s: the second (the last step included)
    assert [features.values[i].tolist() for i in (0, 10, 27)] == [[1, 10], [2, 20], [3, 30]]


def test_organisers_features_of_the_sample_dataset(tiny_dataset, tmp_path):
    """``mediaeval extract --extractor organisers`` reads what ``mediaeval sample`` wrote: every
    film, the real dimensions, no warning, each step holding its second's file."""
    from click.testing import CliRunner

    from mediaeval.cli import cli
    from mediaeval.dataset import Dataset
    from mediaeval.features.store import load_set

    result = CliRunner().invoke(cli, ["extract", "--dataset", str(tiny_dataset), "--out", str(tmp_path),
                                      "--extractor", "organisers"])
    assert result.exit_code == 0, result.output
    assert "3 films extracted, 0 already complete, 0 failed" in result.output
    dims = {"acc": 256, "cedd": 144, "cl": 33, "eh": 80, "fcth": 192, "gabor": 60, "jcd": 168, "sc": 64,
            "tamura": 18, "lbp": 256, "fc6": 4096}
    for film in Dataset.discover(tiny_dataset).films.values():
        features = load_set(tmp_path, ["organisers"], film.name)
        n = len(features.values)
        assert features.meta["warnings"] == [] and n == int(film.duration // (16 / 30))
        assert features.values.shape == (n, sum(dims.values()) + 1582) and np.isfinite(features.values).all()
        visual = [c.split("/")[2].rsplit("_", 1)[0] for c in features.columns if c.startswith("organisers/visual/")]
        assert [(kind, visual.count(kind)) for kind in dict.fromkeys(visual)] == list(dims.items())
        folder = next(tiny_dataset.glob(f"*Visual_features/*/{film.name}"))
        for step in (0, n // 2, n - 1):
            second = int((step + 0.5) * 16 / 30)
            fc6 = (folder / "fc6" / f"{film.name}-{second + 1:05d}_fc6.txt").read_text().split(",")
            start = features.columns.index("organisers/visual/fc6_0")
            assert features.values[step, start:start + 4096].tolist() == np.float32([float(v) for v in fc6]).tolist()
        audio = sorted(next(tiny_dataset.glob(f"*Audio_features/*/{film.name}")).rglob("*.csv"))
        rows = np.concatenate([read_arff(p)[1] for p in audio])
        assert len(rows) == film.n_segments
        start = features.columns.index("organisers/audio/pcm_loudness_sma_maxPos")
        assert np.allclose(features.values[:, start:], segments_to_n_steps(rows, n), rtol=1e-6, atol=1e-6)


def test_organisers_features_are_redone_when_their_files_change_and_never_decode_the_film(tmp_path):
    import os

    from films import truncate

    from mediaeval.features.extract import extract_to_file
    from mediaeval.features.store import load_features

    data = tmp_path / "data"
    video = organisers_tree(data, seconds=30)
    truncate(write_film(video, 30.0, faststart=True), 0.5)   # a partial download: its decoding fails (the
    # index first, so it probes), and its organisers' features stand apart from it
    options = ExtractionOptions(("organisers",), dataset_root=data)
    out = tmp_path / "features"
    with pytest.warns(MediaevalWarning):
        path, wrote = extract_to_file(video, out, options)
    assert wrote and load_features(path).values.shape[1] == 5 + 2
    assert list(load_features(path).meta["inputs"]) == ["organisers"]
    assert extract_to_file(video, out, options) == (path, False)            # unchanged: kept
    frame = data / "MEDIAEVAL17-DevSet-Visual_features" / "features" / "Film" / "acc" / "Film-00005_acc.txt"
    frame.write_text("50,50,50\n")                                          # one frame file edited
    with pytest.warns(MediaevalWarning):
        assert extract_to_file(video, out, options) == (path, True)
    steps = [i for i in range(len(load_features(path).values)) if int((i + 0.5) * 16 / 30) == 4]
    assert load_features(path).values[steps, 0].tolist() == [50.0] * len(steps)
    os.utime(frame, ns=(0, 0))                                              # touched, same size: redone too
    with pytest.warns(MediaevalWarning):
        assert extract_to_file(video, out, options) == (path, True)
    (data / "MEDIAEVAL17-DevSet-Audio_features" / "features" / "Film" / "Film_1.csv").unlink()   # a file removed
    with pytest.warns(MediaevalWarning):
        assert extract_to_file(video, out, options) == (path, True)
    import shutil

    shutil.rmtree(data / "MEDIAEVAL17-DevSet-Visual_features")   # the raw trees deleted to save space: kept
    assert extract_to_file(video, out, options) == (path, False)


def test_organisers_inputs_count_broken_links_and_new_folders(tmp_path):
    from mediaeval.features.extract import extract_to_file
    from mediaeval.features.store import load_features

    data = tmp_path / "data"
    video = organisers_tree(data, seconds=30)
    visual = data / "MEDIAEVAL17-DevSet-Visual_features" / "features" / "Film"
    (visual / "acc" / "Film-00003_acc.txt").symlink_to(tmp_path / "nowhere.txt")   # a broken link among them
    options = ExtractionOptions(("organisers-visual",), dataset_root=data)
    with pytest.warns(MediaevalWarning) as shown:
        path, wrote = extract_to_file(video, tmp_path / "features", options)
    assert "visual acc: 1 of 30 frame files missing, empty or unreadable (frames 3)" in str(shown[0].message)
    assert wrote and list(load_features(path).meta["inputs"]) == ["organisers-visual"]
    (visual / "acc" / "Film-00005_acc.txt").write_text("50,50,50\n")           # still noticed
    with pytest.warns(MediaevalWarning):
        assert extract_to_file(video, tmp_path / "features", options) == (path, True)
    assert extract_to_file(video, tmp_path / "features", options) == (path, False)
    (visual / "eh").mkdir()                                                     # a kind folder added, empty
    with pytest.warns(MediaevalWarning), pytest.raises(DataError, match="no readable visual eh file"):
        extract_to_file(video, tmp_path / "features", options)                 # redone, and said why it fails
