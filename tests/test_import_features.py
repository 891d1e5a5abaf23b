"""Bring your own features: step assignment by hand, errors naming file and line, skip on rerun."""
from __future__ import annotations

import numpy as np
import pytest

import subprocess
import sys
from pathlib import Path

from conftest import write_annotations
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.features.imported import MAX_BLANK_LINES, import_features, read_csv_table, read_npz_table, to_steps
from mediaeval.features.store import feature_path, load_features, load_set

def _annotated(root, films: dict[str, int]):
    """Annotation-only films: ``{name: segments}`` (a film of K segments lasts 5 (K - 1) + 10 s)."""
    for name, k in films.items():
        write_annotations(root, name, valence_arousal=[(0.1, -0.2)] * k)
    return Dataset.discover(root)


def _csv(path, times, values, header="time,a,b"):
    lines = [header] + [f"{float(t)!r}," + ",".join(repr(float(v)) for v in row) for t, row in zip(times, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ten_hertz_rows_are_averaged_per_step():
    times = (np.arange(40) + 0.5) / 10            # 0.05, 0.15, ... 3.95 s
    out = to_steps(times, np.arange(40.0)[:, None], 7)[:, 0]
    # step 0 [0, .533): rows 0-4; step 1 [.533, 1.067): rows 5-10; step 2 [1.067, 1.6): rows 11-15;
    # step 3 [1.6, 2.133): rows 16-20; step 4 [2.133, 2.667): rows 21-26; step 5: 27-31; step 6: 32-36
    assert out.tolist() == [2.0, 7.5, 13.0, 18.0, 23.5, 29.0, 34.0]


def test_slow_source_takes_the_row_nearest_each_step_middle():
    out = to_steps([0.0, 5.0, 10.0, 15.0], [[0.0], [1.0], [2.0], [3.0]], 20)[:, 0]
    # middles (i + .5) 16/30: step 4 at 2.40 s is nearer 0 s, step 5 at 2.93 s nearer 5 s,
    # step 13 at 7.20 s nearer 5 s, step 14 at 7.73 s nearer 10 s; steps 0, 9, 18 hold a row.
    assert out.tolist() == [0] * 5 + [1] * 9 + [2] * 6


def test_a_gap_is_filled_from_the_nearest_rows():
    times = np.r_[np.arange(0, 2, 0.1), np.arange(4, 6, 0.1)] + 0.05
    values = np.r_[np.full(20, 1.0), np.full(20, 9.0)][:, None]
    out = to_steps(times, values, 11)[:, 0]
    # steps 4-6 [2.13, 3.73) hold no row: middles 2.40 and 2.93 are nearer 1.95 s, 3.47 nearer 4.05 s
    assert out.tolist() == [1.0] * 4 + [1.0, 1.0, 9.0] + [9.0] * 4


@pytest.mark.parametrize("body, line, expected", [
    ("time,a,b\n0,1,2\n1,1,x\n", 3, "column 'b': expected a number, got 'x'"),
    ("time,a,b\n0,1,2\n0,1,2\n", 3, "not after the previous row's 0"),
    ("time,a,b\n0,1,2\n1,1\n", 3, "expected 3 comma-separated values"),
    ("t,a,b\n0,1,2\n", 1, "header line starting with 'time'"),
    ("time,a,a\n0,1,2\n", 1, "distinct value columns"),
    ("time,a\n0,nan\n", 2, "expected a finite number"),
])
def test_csv_errors_name_file_and_line(tmp_path, body, line, expected):
    path = tmp_path / "Film.csv"
    path.write_text(body)
    with pytest.raises(DataError) as error:
        read_csv_table(path)
    assert error.value.line == line and error.value.path == path
    assert expected in error.value.message


def test_import_writes_store_files_that_a_run_reads(tmp_path):
    dataset = _annotated(tmp_path / "data", {"Film_A": 3, "Film_B": 2})   # 20 s and 15 s
    src = tmp_path / "src"
    src.mkdir()
    _csv(src / "Film_A.csv", np.arange(20) + 0.5, np.c_[np.arange(20.0), -np.arange(20.0)])
    np.savez(src / "Film_B.npz", times=np.arange(15) + 0.5, values=np.ones((15, 2)), columns=np.array(["a", "b"]))
    report = import_features(src, dataset, tmp_path / "features", "mine", progress=False)
    assert report.written == ["Film_A", "Film_B"] and report.skipped == []
    a = load_set(tmp_path / "features", ["mine"], "Film_A")
    assert a.columns == ["mine/a", "mine/b"] and a.values.shape == (37, 2) and a.values.dtype == np.float32
    assert a.values[0].tolist() == [0.0, 0.0] and a.values[-1].tolist() == [19.0, -19.0]
    assert load_features(feature_path(tmp_path / "features", ["mine"], "Film_B")).values.shape == (28, 2)


def test_rerun_skips_unchanged_sources_and_redoes_changed_ones(tmp_path):
    dataset = _annotated(tmp_path / "data", {"Film_A": 3, "Film_B": 2})
    src = tmp_path / "src"
    src.mkdir()
    for name in ("Film_A", "Film_B"):
        _csv(src / f"{name}.csv", np.arange(20) + 0.5, np.ones((20, 2)))
    import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    again = import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    assert again.written == [] and again.skipped == ["Film_A", "Film_B"]
    _csv(src / "Film_B.csv", np.arange(20) + 0.5, np.full((20, 2), 3.0))
    changed = import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    assert changed.written == ["Film_B"] and changed.skipped == ["Film_A"]
    assert load_set(tmp_path / "f", ["mine"], "Film_B").values[0].tolist() == [3.0, 3.0]
    forced = import_features(src, dataset, tmp_path / "f", "mine", overwrite=True, progress=False)
    assert forced.written == ["Film_A", "Film_B"]


def test_unknown_and_missing_films_are_refused_before_anything_is_written(tmp_path):
    dataset = _annotated(tmp_path / "data", {"Film_A": 3, "Film_B": 2})
    src = tmp_path / "src"
    src.mkdir()
    _csv(src / "Film_A.csv", [0.5], [[1.0, 2.0]])
    with pytest.raises(DataError, match=r"no source file for 1 film\(s\): Film_B"):
        import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    _csv(src / "Film_B.csv", [0.5], [[1.0, 2.0]])
    _csv(src / "Nosuch.csv", [0.5], [[1.0, 2.0]])
    with pytest.raises(DataError, match="has no film named 'Nosuch'"):
        import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("header, why", [
    ("time,a,c", "c only here; b only in the first film's"),
    ("time,b,a", "the same names in another order (b, a against a, b)"),
    ("time,a", "b only in the first film's"),
])
def test_columns_must_agree_across_films(tmp_path, header, why):
    dataset = _annotated(tmp_path / "data", {"Film_A": 3, "Film_B": 2})
    src = tmp_path / "src"
    src.mkdir()
    _csv(src / "Film_A.csv", np.arange(20) + 0.5, np.ones((20, 2)))
    _csv(src / "Film_B.csv", np.arange(15) + 0.5, np.ones((15, header.count(","))), header=header)
    with pytest.raises(DataError) as error:
        import_features(src, dataset, tmp_path / "f", "mine", progress=False)
    assert error.value.path.name == "Film_B.csv"
    assert error.value.message == f"its columns differ from the first film's (Film_A.csv): {why}; every film needs " \
                                  f"the same columns"


def test_sets_side_by_side_name_their_files_in_one_text(tmp_path):
    dataset = _annotated(tmp_path / "data", {"Film_A": 3})
    for name in ("one", "two"):
        src = tmp_path / name
        src.mkdir()
        _csv(src / "Film_A.csv", np.arange(20) + 0.5, np.ones((20, 2)))
        import_features(src, dataset, tmp_path / "f", name, progress=False)
    both = load_set(tmp_path / "f", ["one", "two"], "Film_A")
    assert both.columns == ["one/a", "one/b", "two/a", "two/b"] and isinstance(both.meta["source"], str)


def test_a_replaced_film_is_imported_again_and_its_old_features_refused(tmp_path):
    """Imported features record their film's identity, as extracted ones do: a film replaced since is
    imported again, and until then train and predict (load_films) refuse its features naming it."""
    import os

    from films import write_film
    from mediaeval.features.store import save_features
    from mediaeval.film_data import load_films
    from mediaeval.task import VALENCE_AROUSAL

    movies = tmp_path / "data" / "continuous-movies"
    movies.mkdir(parents=True)
    video = write_film(movies / "Film_A.mp4", 20.0)
    write_film(movies / "Film_B.mp4", 15.0)
    dataset = _annotated(tmp_path / "data", {"Film_A": 3, "Film_B": 2})
    src, out = tmp_path / "src", tmp_path / "f"
    src.mkdir()
    for name in ("Film_A", "Film_B"):
        _csv(src / f"{name}.csv", np.arange(20) + 0.5, np.ones((20, 2)))
    assert import_features(src, dataset, out, "mine", progress=False).written == ["Film_A", "Film_B"]
    os.utime(video, (1e9, 1e9))                    # touched, or copied without its times: the same film
    assert import_features(src, dataset, out, "mine", progress=False).skipped == ["Film_A", "Film_B"]
    assert len(load_films(dataset, out, ["mine"], dataset.dev_films, VALENCE_AROUSAL, True)) == 2
    write_film(video, 20.0, grey=lambda k: 100)   # replaced by another film
    with pytest.raises(DataError) as error:
        load_films(dataset, out, ["mine"], dataset.dev_films, VALENCE_AROUSAL, True)
    assert str(error.value) == (
        f"{out / 'mine' / 'Film_A.npz'}: made from another version of film Film_A's file than {video} (its size or "
        f"content changed since); make Film_A.csv again from the film as it is now if it depends on it, and run: "
        f"mediaeval import-features SRC --dataset {dataset.root} --out {out} --name mine (SRC: the folder of "
        f"Film_A.csv)")
    again = import_features(src, dataset, out, "mine", progress=False)
    assert again.written == ["Film_A"] and again.skipped == ["Film_B"]
    assert len(load_films(dataset, out, ["mine"], dataset.dev_films, VALENCE_AROUSAL, True)) == 2
    # A file imported before identities were recorded is taken as it is, and the next import records it.
    older = load_features(feature_path(out, ["mine"], "Film_B"))
    del older.meta["video_file"]
    save_features(feature_path(out, ["mine"], "Film_B"), older)
    assert len(load_films(dataset, out, ["mine"], dataset.dev_films, VALENCE_AROUSAL, True)) == 2
    assert import_features(src, dataset, out, "mine", progress=False).written == ["Film_B"]
    assert "video_file" in load_features(feature_path(out, ["mine"], "Film_B")).meta


# --------------------------------------------------------------------------- damaged or hostile tables

@pytest.mark.parametrize("raw, expected", [
    (b"time;a;b\n0;1;2\n", "expected comma-separated columns, found semicolons (;): 'time;a;b'"),
    (b"time\ta\tb\n0\t1\t2\n", "expected comma-separated columns, found tabs: 'time\\ta\\tb'"),
    (b"\xef\xbb\xbftime,a,b\n0,1,2\n", "starts with a byte order mark (BOM, as 'UTF-8 with BOM' or Excel's 'CSV "
                                       "UTF-8' save it); expected a header line starting with 'time'"),
    (b"seconds,a\n0,1\n", "expected a header line starting with 'time', e.g. time,brightness,loudness, got "
                          "'seconds,a'"),
])
def test_a_header_says_which_separator_or_bom_it_found(tmp_path, raw, expected):
    path = tmp_path / "Film.csv"
    path.write_bytes(raw)
    with pytest.raises(DataError) as error:
        read_csv_table(path)
    assert error.value.line == 1 and error.value.message.startswith(expected), error.value.message


def test_npz_that_is_not_one_or_holds_complex_values(tmp_path):
    text = tmp_path / "Film.npz"
    text.write_text("time,a\n0,1\n")
    with pytest.raises(DataError) as error:
        read_npz_table(text)
    assert error.value.message == ("not an NPZ file (a zip of .npy arrays, as numpy.savez writes); expected arrays "
                                   "'times' and 'values'")
    npy = tmp_path / "Npy.npz"
    with open(npy, "wb") as handle:                 # a single .npy array named .npz
        np.save(handle, np.arange(3.0))
    with pytest.raises(DataError, match="not an NPZ file"):
        read_npz_table(npy)
    np.savez(tmp_path / "Complex.npz", times=np.arange(3.0), values=np.ones((3, 2)) * (1 + 2j))
    with pytest.raises(DataError) as error:
        read_npz_table(tmp_path / "Complex.npz")
    assert error.value.message == "expected real numbers in 'values', got complex128 values"
    np.savez(tmp_path / "Ints.npz", times=np.arange(3), values=np.ones((3, 2), dtype=np.int16))
    assert read_npz_table(tmp_path / "Ints.npz").values.dtype == np.float64      # real numbers of any kind


# The peak RSS of this program's own image: /proc's VmHWM, since getrusage's ru_maxrss carries the
# high-water mark over from before exec (a pytest worker that loaded TensorFlow forks at ~1 GB).
PEAK_RSS = """
import sys
from mediaeval.errors import DataError
from mediaeval.features.imported import read_csv_table
try:
    read_csv_table(sys.argv[1])
    print("read")
except DataError as error:
    print(error.line, error.message)
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)   # peak RSS of this process, MB
"""


@pytest.mark.parametrize("layout", ["nul-bytes-then-header", "header-then-nul-bytes"])
def test_a_sparse_1_gib_table_is_refused_in_bounded_memory(tmp_path, layout):
    path = tmp_path / "Film.csv"
    with open(path, "wb") as handle:                # sparse: 1 GiB that costs no disk
        if layout == "header-then-nul-bytes":
            handle.write(b"time,a\n0,1\n")
            handle.truncate(1 << 30)
        else:
            handle.truncate(1 << 30)
            handle.seek(1 << 30)
            handle.write(b"time,a\n0,1\n")
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=600)
    said, peak = done.stdout.splitlines()
    line = 1 if layout == "nul-bytes-then-header" else 3
    assert said == f"{line} holds NUL bytes: expected a text table (is it a binary or damaged file?)"
    assert int(peak) < 500, f"peak RSS {peak} MB"


def test_long_lines_and_runs_of_blank_lines_are_refused_early(tmp_path):
    path = tmp_path / "Film.csv"
    path.write_text("time,a\n0," + "1" * (1 << 21) + "\n")
    with pytest.raises(DataError) as error:
        read_csv_table(path)
    assert error.value.line == 2 and error.value.message.startswith("a line longer than 1,048,576 characters")
    path.write_text("time,a\n0,1\n" + "\n" * (MAX_BLANK_LINES + 1) + "1,2\n")
    with pytest.raises(DataError) as error:
        read_csv_table(path)
    assert error.value.line == MAX_BLANK_LINES + 3
    assert error.value.message == f"more than {MAX_BLANK_LINES} blank lines in a row: expected table rows"
    path.write_text("time,a\n0,1\n" + "\n" * MAX_BLANK_LINES + "1,2\n")     # fewer: skipped, as before
    assert read_csv_table(path).times.tolist() == [0.0, 1.0]


@pytest.fixture(scope="module")
def real_films(tiny_dataset):
    """The tiny dataset's development films (real videos of 12-16 s)."""
    dataset = Dataset.discover(tiny_dataset)
    return dataset, dataset.select(["dev"])


def test_a_table_that_misses_its_film_is_refused(real_films, tmp_path):
    dataset, films = real_films
    film = films[0]
    src = tmp_path / "src"
    src.mkdir()
    for other in films[1:]:
        times = np.arange(0, other.duration, 0.1)
        _csv(src / f"{other.name}.csv", times, np.ones((len(times), 2)))
    for times, expected in (
            (np.arange(100, 120.0), f"its rows (100 to 119 s) leave 0.00-{film.duration:.2f} s of the film uncovered "
                                   f"(its start, {film.duration:.2f} s; the film lasts {film.duration:.2f} s)"),
            (np.arange(0, 5.0, 0.5), f"its rows (0 to 4.5 s) leave 4.75-{film.duration:.2f} s of the film uncovered "
                                     f"(its end, {film.duration - 4.75:.2f} s; the film lasts {film.duration:.2f} s)")):
        _csv(src / f"{film.name}.csv", times, np.ones((len(times), 2)))
        with pytest.raises(DataError) as error:
            import_features(src, dataset, tmp_path / "f", "mine", films=films, progress=False)
        assert error.value.path == src / f"{film.name}.csv"
        assert error.value.message.startswith(expected + ", more than max(2 s, 2 % of the film) = 2.00 s")
    assert not (tmp_path / "f" / "mine" / f"{film.name}.npz").exists()


def test_a_short_gap_is_a_stored_warning(real_films, tmp_path):
    dataset, films = real_films
    src = tmp_path / "src"
    src.mkdir()
    for film in films:                                # 10 Hz rows over the whole film
        times = np.arange(0.05, film.duration, 0.1)
        if film is films[0]:
            times = times[(times < 3.0) | (times > 4.5)]      # a gap of 1.5 s (rows 2.95 and 4.55 s)
        _csv(src / f"{film.name}.csv", times, np.c_[times, -times])
    with pytest.warns(UserWarning, match="imported table leaves 3.00-4.50 s of the film"):
        report = import_features(src, dataset, tmp_path / "f", "mine", films=films, progress=False)
    assert report.written == [f.name for f in films]
    first = load_features(feature_path(tmp_path / "f", ["mine"], films[0].name))
    assert first.meta["warnings"] == [f"imported table leaves 3.00-4.50 s of the film ({films[0].duration:.2f} s) "
                                      f"uncovered (a gap): those steps repeat the nearest row"]
    assert load_features(feature_path(tmp_path / "f", ["mine"], films[1].name)).meta["warnings"] == []
