"""Finding the task's films and annotations (mediaeval/dataset.py), reading them, and the film
names a run file can hold."""
import re

import pytest

from conftest import invoke, make_dataset, valence_arousal_text
from mediaeval.dataset import Dataset, film_name_problem, read_fear, read_valence_arousal
from mediaeval.errors import DataError
from mediaeval.submission import write_run
from mediaeval.task import FEAR, VALENCE_AROUSAL, fear_rows

VA_HEADER = "Id\tTime\tMeanValence\tMeanArousal\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def va_text(values):
    return VA_HEADER + "".join(f"{k}\t{5 * k}\t{v}\t{a}\n" for k, (v, a) in enumerate(values))


def test_reads_valence_arousal_by_position(tmp_path):
    path = write(tmp_path / "X-MEDIAEVAL2017-valence_arousal.txt",
                 "Id\tTime\tMeanValence\tMeanArousal\r\n0\t0\t0.1\t-0.2\r\n1\t5\t0.3\t0.4\r\n\n")
    table = read_valence_arousal(path)
    assert table.columns.tolist() == ["start", "valence", "arousal"]
    assert table.to_numpy().tolist() == [[0.0, 0.1, -0.2], [5.0, 0.3, 0.4]]


def test_reads_fear(tmp_path):
    path = write(tmp_path / "f.txt", "Id\tTime\tFear\n0\t0\t0\n1\t5\t1\n2\t10.0\t0\n")
    assert read_fear(path)["fear"].tolist() == [0, 1, 0]


@pytest.mark.parametrize("body, line, message", [
    ("0\t0\t0.1\t0.2\n2\t5\t0.1\t0.2\n", 3, "expected segment id 1, got 2"),
    ("0\t0\t0.1\t0.2\n1\t6\t0.1\t0.2\n", 3, "expected start time 5 s for segment 1, got 6"),
    ("0\t0\t0.1\n", 2, "expected 4 columns"),
    ("0\t0\t0.1\tabc\n", 2, "expected 4 numbers"),
    ("0\t0\t1.5\t0.2\n", 2, "valence: expected a number in [-1, 1], got 1.5"),
    ("0\t0\t0.1\tnan\n", 2, "arousal: expected a number in [-1, 1]"),
    ("", None, "expected at least one segment line"),
])
def test_malformed_valence_arousal_names_file_and_line(tmp_path, body, line, message):
    path = write(tmp_path / "bad.txt", VA_HEADER + body)
    with pytest.raises(DataError) as caught:
        read_valence_arousal(path)
    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}:" if line else f"{path}:")


def test_fear_must_be_binary(tmp_path):
    path = write(tmp_path / "f.txt", "Id\tTime\tFear\n0\t0\t2\n")
    with pytest.raises(DataError, match=r"f.txt:2: fear: expected 0 or 1, got 2"):
        read_fear(path)


def test_discovery_finds_every_spelling_at_any_depth(tmp_path):
    va = va_text([(0.1, 0.2)] * 3)
    write(tmp_path / "MEDIAEVAL17-DevSet-Valence_Arousal-annotations" / "MEDIAEVAL17-DevSet-Valence_Arousal-annotations"
          / "annotations" / "Norm-MEDIAEVAL2017-valence_arousal.txt", va)
    write(tmp_path / "MEDIAEVAL17-DevSet-Fear-annotations/annotations/Norm-MEDIAEVAL2017-fear.txt",
          "Id\tTime\tFear\n0\t0\t0\n1\t5\t1\n2\t10\t0\n")
    write(tmp_path / "truth/MEDIAEVAL17_00_Valence-Arousal.txt", va)
    write(tmp_path / "truth/MEDIAEVAL17_01_valence_arousal.txt", va)
    write(tmp_path / "truth/MEDIAEVAL17_01_fear.txt", "Id\tTime\tFear\n0\t0\t0\n")
    write(tmp_path / "__MACOSX/annotations/._Norm-MEDIAEVAL2017-fear.txt", "junk")
    write(tmp_path / "other/Norm_Valence.txt", "Time Mean Std\n0 0.1 0.0\n")
    dataset = Dataset.discover(tmp_path)
    assert list(dataset.films) == ["MEDIAEVAL17_00", "MEDIAEVAL17_01", "Norm"]
    assert [f.name for f in dataset.dev_films] == ["Norm"]
    assert [f.name for f in dataset.test_films] == ["MEDIAEVAL17_00", "MEDIAEVAL17_01"]
    norm = dataset.film("Norm")
    assert norm.fear_path.name == "Norm-MEDIAEVAL2017-fear.txt"
    assert norm.labels(FEAR).tolist() == [0, 1, 0]
    assert norm.labels(VALENCE_AROUSAL).shape == (3, 2)
    # no video: the duration is the end of the last segment
    assert norm.duration == 20.0 and norm.n_segments == 3
    assert dataset.film("MEDIAEVAL17_01").has_labels(FEAR)
    assert not dataset.film("MEDIAEVAL17_00").has_labels(FEAR)
    assert [f.name for f in dataset.select(["test", "Norm"])] == ["MEDIAEVAL17_00", "MEDIAEVAL17_01", "Norm"]
    with pytest.raises(DataError, match="no film named 'Nope'"):
        dataset.film("Nope")


def test_a_film_found_twice_is_an_error_naming_both(tmp_path):
    va = va_text([(0.1, 0.2)])
    first = write(tmp_path / "a/Norm-MEDIAEVAL2017-valence_arousal.txt", va)
    write(tmp_path / "b/Norm-MEDIAEVAL2017-valence_arousal.txt", va)
    with pytest.raises(DataError, match=f"second valence_arousal file; the first is {first}"):
        Dataset.discover(tmp_path)


def test_not_a_folder(tmp_path):
    with pytest.raises(DataError, match="expected a dataset folder"):
        Dataset.discover(tmp_path / "missing")


def test_duration_comes_from_the_video(tiny_dataset):
    dataset = Dataset.discover(tiny_dataset)
    for film in dataset.films.values():
        assert film.video is not None
        assert 12.0 <= film.duration <= 16.1
        assert film.n_segments == len(film.labels(VALENCE_AROUSAL))


def test_a_non_video_mp4_is_a_clear_error(tmp_path):
    write(tmp_path / "Broken.mp4", "not a video")
    film = Dataset.discover(tmp_path).film("Broken")
    with pytest.raises(DataError, match="Broken.mp4: expected a readable video file"):
        _ = film.duration


def test_problems_list_what_inspect_notes_without_python_warnings(tmp_path):
    import warnings

    from conftest import write_annotations
    from films import write_film

    from mediaeval.errors import MediaevalWarning
    from mediaeval.windows import segment_count

    write_film(tmp_path / "Longer.mp4", 12.0)
    write_annotations(tmp_path, "Longer", valence_arousal=[(0.1, 0.2)] * 4)   # 4 segments for a 12 s video
    write_annotations(tmp_path, "Unseen", valence_arousal=[(0.1, 0.2)], fear=[0])
    dataset = Dataset.discover(tmp_path)
    duration = dataset.film("Longer").duration
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        summaries = {s.name: s for s in dataset.summaries()}
        problems = dataset.problems()
    assert shown == []                                 # the summary reports them; Python does not also warn
    assert problems == [
        f"Longer: the video lasts {duration:.3f} s ({segment_count(duration)} segments) but its annotations "
        f"have 4 segments; runs must follow the annotations",
        "Longer: development film without fear annotations",
        "Unseen: no video (.mp4) found; features cannot be extracted"]
    longer, unseen = summaries["Longer"], summaries["Unseen"]
    assert (longer.has_video, longer.unreadable, longer.segments, longer.fps) == (True, False, 4, 25.0)
    assert longer.label_counts == {"valence_arousal": 4, "fear": None}
    assert (unseen.has_video, unseen.duration, unseen.fps, unseen.segments) == (False, 10.0, None, 1)
    assert unseen.label_counts == {"valence_arousal": 1, "fear": 1}
    with pytest.warns(MediaevalWarning, match="^Longer: the video lasts"):   # outside a summary, a warning
        assert Dataset.discover(tmp_path).film("Longer").n_segments == 4


def test_errors_and_warnings_pickle_whole():
    """A job's DataError or warning crosses from a worker process intact (path, line, message)."""
    import pickle

    from mediaeval.errors import MediaevalWarning

    error = pickle.loads(pickle.dumps(DataError("runs/run1.toml", "model.epochs: expected int", 12)))
    assert (type(error), str(error.path), error.line, error.message) == (DataError, "runs/run1.toml", 12,
                                                                       "model.epochs: expected int")
    assert str(error) == "runs/run1.toml:12: model.epochs: expected int"
    warning = pickle.loads(pickle.dumps(MediaevalWarning("Film_A", "the audio stops 3.0 s early")))
    assert (type(warning), warning.path, warning.message) == (MediaevalWarning, "Film_A", "the audio stops 3.0 s early")
    assert str(warning) == "Film_A: the audio stops 3.0 s early"


@pytest.mark.parametrize("name, ok", [("MEDIAEVAL17_00", True), ("Sintel", True), ("Elephant_s_Dream", True),
                                      ("My Film", False), ("1917", False), ("nan", False), ("1e5", False),
                                      ("-3", False), ("Tab\tName", False), ("No\u00a0break", False), ("", False)])
def test_one_rule_for_names_a_run_file_can_hold(name, ok):
    assert (film_name_problem(name) is None) == ok


@pytest.mark.parametrize("filename", ["My Film.mp4", "1917.mp4", "My Film_fear.txt",
                                      "1917-MEDIAEVAL2017-valence_arousal.txt"])
def test_discovery_refuses_a_film_name_a_run_file_cannot_hold(tmp_path, filename):
    (tmp_path / filename).write_text("x")
    with pytest.raises(DataError) as caught:
        Dataset.discover(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / filename}: film name ")
    assert "a run file" in message and "rename" in message


def test_cli_refuses_such_a_dataset_in_one_line(tmp_path):
    make_dataset(tmp_path / "data", films=(("1917", 2), ("A", 2)))
    result = invoke("baseline", "--dataset", tmp_path / "data", "--subtask", "valence_arousal", "--films", "dev",
                 "--out", tmp_path / "me17ei_T_valence_arousal_run1.txt")
    assert result.exit_code == 1
    assert "film name '1917'" in result.output and "Traceback" not in result.output


def test_discovery_survives_symlink_loops_and_follows_outside_links_once(tmp_path):
    root = make_dataset(tmp_path / "data")
    outside = make_dataset(tmp_path / "outside", films=(("Z", 2),))
    (root / "loop1").symlink_to(".")
    (root / "dev" / "loop2").symlink_to("..")
    (root / "dev" / "loop3").symlink_to(".", target_is_directory=True)
    (root / "z1").symlink_to(outside)
    (root / "z2").symlink_to(outside)
    dataset = Dataset.discover(root)
    assert list(dataset.films) == ["A", "B", "MEDIAEVAL17_00", "MEDIAEVAL17_01", "Z"]
    assert dataset.film("Z").fear_path == root / "z1" / "dev" / "Z_fear.txt"
    assert dataset.film("A").fear_path == root / "dev" / "A_fear.txt"


def test_unreadable_annotation_files_name_the_file(tmp_path):
    root = make_dataset(tmp_path / "data", films=(("A", 2), ("B", 2)))
    missing = root / "dev" / "A_fear.txt"
    missing.unlink()
    missing.symlink_to(tmp_path / "nowhere.txt")       # an annotation file that cannot be opened
    latin = root / "dev" / "B_valence_arousal.txt"
    latin.write_bytes(valence_arousal_text([]).encode() + b"0\t0\t0.1\t0.2\n1\t5\t0.1\t0.2 \xe9t\xe9\n")
    dataset = Dataset.discover(root)
    with pytest.raises(DataError, match=re.escape(f"{missing}: cannot read: No such file or directory")):
        dataset.film("A").labels(FEAR)
    with pytest.raises(DataError, match=re.escape(f"{latin}:3: expected UTF-8 text")):
        dataset.film("B").labels(VALENCE_AROUSAL)
    fear = write_run(tmp_path / "me17ei_T_fear_run1.txt", {"A": fear_rows([0.1, 0.2]), "B": fear_rows([0.3, 0.1])},
                     FEAR)
    result = invoke("score", fear, "--dataset", root)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {missing}: cannot read: No such file or directory"
