"""The mediaeval command: every command's help, usage errors, the commands on tiny data, and a
user's mistake or a system error as one line (a bug keeps its traceback)."""
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import pearsonr
from sklearn.metrics import average_precision_score, mean_squared_error

from conftest import REPO, fear_text, invoke, valence_arousal_text, write_test_runs, write_tiny_run
from mediaeval.dataset import Dataset
from mediaeval.model_folder import write_manifest
from mediaeval.task import FEAR, VALENCE_AROUSAL

COMMANDS = ["sample", "inspect", "baseline", "validate", "score", "package", "extract", "train", "predict",
            "pipeline", "plot", "render"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_defaults(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage: cli " + command in result.output or f"{command} [OPTIONS]" in result.output
    if command == "sample":
        text = " ".join(result.output.split())
        assert "[default: 8; x>=1]" in text and "[default: 60:180]" in text
        assert "--organisers / --no-organisers" in text and "[default: organisers]" in text


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from mediaeval.cli import cli; "
            "heavy = [m for m in ('tensorflow', 'pandas', 'scipy', 'av', 'decord', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_usage_error_exits_2(tmp_path):
    assert invoke("score").exit_code == 2
    assert invoke("sample", tmp_path / "x", "--duration", "5").exit_code == 2


@pytest.fixture(scope="module")
def demo_runs(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for subtask in ("valence_arousal", "fear"):
        for films in ("dev", "test"):
            path = out / films / f"me17ei_T_{subtask}_run1.txt"
            result = invoke("baseline", "--dataset", tiny_dataset, "--subtask", subtask, "--films", films,
                            "--out", path)
            assert result.exit_code == 0, result.output
            paths[subtask, films] = path
    return paths


def test_validate_valid_and_invalid(tiny_dataset, demo_runs, tmp_path):
    result = invoke("validate", demo_runs["fear", "dev"], demo_runs["fear", "test"], "--dataset", tiny_dataset)
    assert result.exit_code == 0
    bad = tmp_path / "me17ei_T_fear_run1.txt"
    bad.write_text(re.sub(r"^[01] ", "3 ", demo_runs["fear", "test"].read_text(), count=1, flags=re.M))
    result = invoke("validate", bad, "--dataset", tiny_dataset)
    assert result.exit_code == 1
    assert f"{bad}:2: E111 expected fear label 0 or 1, got '3'" in result.output


def test_score_json_is_one_object(tiny_dataset, demo_runs):
    result = invoke("score", demo_runs["valence_arousal", "dev"], "--dataset", tiny_dataset, "--json")
    assert result.exit_code == 0
    scores = json.loads(result.output)
    assert scores["subtask"] == "valence_arousal"
    assert set(scores["official"]) == {"valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc", "quadrant_accuracy",
                                       "valence_pcc_defined_films", "arousal_pcc_defined_films",   # issue 11 item 3
                                       "valence_ccc", "arousal_ccc"}                                # issue 22 item 4
    # issue 22 item 1: each official mean over films with its 95 % interval over films
    assert set(scores["intervals"]) == {"valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc",
                                        "quadrant_accuracy", "valence_ccc", "arousal_ccc"}
    low, high = scores["intervals"]["valence_mse"]
    assert low <= scores["official"]["valence_mse"] <= high
    assert scores["official"]["valence_pcc"] is None  # the constant baseline has no PCC
    assert set(scores["per_film"]) == {"Sample_01", "Sample_02"}
    fear = json.loads(invoke("score", demo_runs["fear", "dev"], "--dataset", tiny_dataset, "--json").output)
    assert {"map", "accuracy", "precision", "recall", "f1"} <= set(fear["official"])


def test_score_human_output_says_why_values_are_missing(tiny_dataset, demo_runs):
    result = invoke("score", demo_runs["valence_arousal", "dev"], "--dataset", tiny_dataset)
    assert result.exit_code == 0
    assert "official (mean over films)" in result.output
    assert "note: valence_pcc: undefined for 2 of 2 films (constant truth or prediction)" in result.output


def test_score_test_run_with_released_truth_and_errors(tiny_dataset, demo_runs, tmp_path):
    assert invoke("score", demo_runs["fear", "test"], "--dataset", tiny_dataset).exit_code == 0
    short = tmp_path / "me17ei_T_fear_run1.txt"
    lines = demo_runs["fear", "test"].read_text().splitlines()
    short.write_text("\n".join(lines[:-1]) + "\n")
    result = invoke("score", short, "--dataset", tiny_dataset)
    assert result.exit_code == 1
    assert "film MEDIAEVAL17_00 has" in result.output and "--truncate" in result.output
    assert invoke("score", short, "--dataset", tiny_dataset, "--truncate").exit_code == 0
    unknown = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    unknown.write_text("Nope\n0 0\n")
    result = invoke("score", unknown, "--dataset", tiny_dataset)
    assert result.exit_code == 1 and "film Nope has no valence_arousal ground truth" in result.output


def test_package_and_refuse_overwrite(tiny_dataset, demo_runs, tmp_path):
    out = tmp_path / "me17ei_T.zip"
    runs = [demo_runs["valence_arousal", "test"], demo_runs["fear", "test"]]
    result = invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(zipfile.ZipFile(out).namelist()) == sorted(["README.txt", runs[0].name, runs[1].name])
    result = invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 0, result.output     # its own zip, unchanged: replaced
    with zipfile.ZipFile(out, "a") as archive:      # changed since: only with --force
        archive.writestr("notes.txt", "mine")
    result = invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 1 and "use --force" in result.output
    assert invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", out, "--force").exit_code == 0


def test_list_options_take_commas(tiny_dataset, tmp_path):
    out = tmp_path / "me17ei_T_fear_run1.txt"
    result = invoke("baseline", "--dataset", tiny_dataset, "--subtask", "fear", "--films", "Sample_01,Sample_02",
                 "--train-films", "Sample_01", "--train-films", "Sample_02", "--out", out)
    assert result.exit_code == 0
    assert [ln for ln in out.read_text().splitlines() if ln.startswith("Sample")] == ["Sample_01", "Sample_02"]


def test_scoring_real_curve_annotations_matches_scipy_and_sklearn(real_curves, tmp_path):
    """Annotation files built from the real per-second curves (10 s means every 5 s)."""
    from mediaeval.sample import fear_labels, segment_means
    from mediaeval.windows import segment_count

    rng = np.random.default_rng(0)
    va_lines, fear_lines, truth = {}, {}, {}
    for film, (valence, arousal) in real_curves.items():
        k = segment_count(len(valence))
        v, a = segment_means(valence, k), segment_means(arousal, k)
        truth[film] = (v, a, fear_labels(v, a))
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / f"{film}-MEDIAEVAL2017-valence_arousal.txt").write_text(valence_arousal_text(zip(v, a)))
        (tmp_path / "data" / f"{film}-MEDIAEVAL2017-fear.txt").write_text(fear_text(truth[film][2]))
        prediction = np.clip(np.column_stack([v, a]) * 0.5 + rng.normal(0, 0.15, (k, 2)), -1, 1)
        va_lines[film] = prediction
        fear_lines[film] = np.clip(0.5 * truth[film][2] + rng.random(k) * 0.6, 0, 1)
    from mediaeval.submission import write_run
    from mediaeval.task import fear_rows

    va_run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", va_lines, VALENCE_AROUSAL)
    fear_run = write_run(tmp_path / "me17ei_T_fear_run1.txt", {f: fear_rows(c) for f, c in fear_lines.items()}, FEAR)
    assert invoke("validate", va_run, fear_run, "--dataset", tmp_path / "data").exit_code == 0
    va = json.loads(invoke("score", va_run, "--dataset", tmp_path / "data", "--json").output)
    fear = json.loads(invoke("score", fear_run, "--dataset", tmp_path / "data", "--json").output)
    dataset = Dataset.discover(tmp_path / "data")

    def written(path):  # the values as the run file holds them (six decimals)
        values, film = {}, None
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 1:
                film = parts[0]
                values[film] = []
            else:
                values[film].append([float(p) for p in parts])
        return {f: np.array(v) for f, v in values.items()}

    va_pred, fear_pred = written(va_run), written(fear_run)
    mse_v, pcc_a, aps = [], [], []
    for film in real_curves:
        labels = dataset.film(film).labels(VALENCE_AROUSAL)
        mse_v.append(mean_squared_error(labels[:, 0], va_pred[film][:, 0]))
        pcc_a.append(pearsonr(labels[:, 1], va_pred[film][:, 1])[0])
        assert va["per_film"][film]["valence_mse"] == pytest.approx(mse_v[-1], abs=1e-9)
        fear_truth = dataset.film(film).labels(FEAR)
        if fear_truth.any():
            aps.append(average_precision_score(fear_truth, fear_pred[film][:, 1]))
    assert va["official"]["valence_mse"] == pytest.approx(np.mean(mse_v), abs=1e-9)
    assert va["official"]["arousal_pcc"] == pytest.approx(np.mean(pcc_a), abs=1e-9)
    assert fear["official"]["map"] == pytest.approx(np.mean(aps), abs=1e-9)
    assert fear["official"]["map_films"] == len(aps)


def test_inspect_lists_films_and_problems(tiny_dataset, tmp_path):
    result = invoke("inspect", "--dataset", tiny_dataset)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["film", "set", "video", "duration", "fps", "va", "fear", "segments"]
    assert [ln.split()[0] for ln in lines[1:4]] == ["MEDIAEVAL17_00", "Sample_01", "Sample_02"]
    assert "2 development films" in result.output and "1 test films" in result.output
    (tmp_path / "Lonely_valence_arousal.txt").write_text("Id\tTime\tMeanValence\tMeanArousal\n0\t0\t0.1\t0.1\n")
    result = invoke("inspect", "--dataset", tmp_path)
    assert result.exit_code == 0
    assert "note: Lonely: no video (.mp4) found" in result.output
    assert "note: Lonely: development film without fear annotations" in result.output
    (tmp_path / "Lonely_fear.txt").write_text("Id\tTime\tFear\n0\t3\t0\n")
    result = invoke("inspect", "--dataset", tmp_path)
    assert result.exit_code == 1 and "Lonely_fear.txt:2: expected start time 0 s for segment 0, got 3" in result.output


# --------------------------------------------------------------------------- one line, never a traceback

def test_debug_shows_the_traceback_of_a_user_error(tmp_path):
    from click.testing import CliRunner

    from mediaeval.cli import cli
    from mediaeval.errors import DataError

    run = tmp_path / "run1.toml"
    run.write_text('subtask = "valence_arousal"\nrun = 1\ndescription = "d"\nfeatures = ["visual-stats"]\nseed = -1\n')
    args = ["train", str(run), "--dataset", str(tmp_path), "--features", str(tmp_path), "--out", str(tmp_path / "m")]
    result = invoke(*args)
    assert result.exit_code == 1 and result.output == f"Error: {run}: seed: expected 0 to 4294967295, got -1\n"
    for how, env in ((["--debug"], {}), ([], {"MEDIAEVAL_DEBUG": "1"})):
        result = CliRunner().invoke(cli, how + args, env=env)
        assert isinstance(result.exception, DataError) and result.exception.path == run, result.output
    assert invoke("--help").output.count("--debug") == 1


def test_a_bug_keeps_its_traceback_with_a_note_and_os_errors_name_their_path(tmp_path):
    import os

    import click
    from click.testing import CliRunner

    from mediaeval.cli import BUG_NOTE, _Group

    @click.group(cls=_Group)
    @click.option("--debug", is_flag=True)
    def group(debug):
        pass

    @group.command()
    @click.argument("kind")
    def fail(kind):
        if kind == "rename":
            os.rename(tmp_path / "nothing", tmp_path / "other")
        raise TypeError("boom")

    result = CliRunner().invoke(group, ["fail", "bug"])
    assert isinstance(result.exception, TypeError) and result.exit_code == 1
    assert getattr(result.exception, "__notes__", [BUG_NOTE]) == [BUG_NOTE]
    result = CliRunner().invoke(group, ["fail", "rename"])
    assert result.output == f"Error: {tmp_path / 'nothing'} -> {tmp_path / 'other'}: No such file or directory\n"
    assert isinstance(CliRunner().invoke(group, ["--debug", "fail", "rename"]).exception, FileNotFoundError)


def test_extract_refuses_a_read_only_folder_before_decoding(tiny_dataset, features, tmp_path):
    from conftest import cli_with_mount

    out = tmp_path / "features"
    done = cli_with_mount(["extract", "--dataset", tiny_dataset, "--out", out], out, "ro")
    assert done.returncode == 1
    # one line, and no film's progress before it: nothing was decoded
    assert done.stderr == f"Error: {out / 'visual-stats+audio-stats'}: cannot write into this folder " \
                          f"(Read-only file system)\n"
    done = cli_with_mount(["extract", "--dataset", tiny_dataset, "--out", features], features, "ro")
    assert done.returncode == 0, done.stderr      # read-only but complete: nothing to write
    assert "0 films extracted, 3 already complete, 0 failed" in done.stdout


def test_a_full_disk_stops_extraction_in_one_line_naming_the_file(tiny_dataset, tmp_path):
    from conftest import cli_with_mount

    out = tmp_path / "features"
    done = cli_with_mount(["extract", "--dataset", tiny_dataset, "--out", out], out, "size=8k")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert re.fullmatch(rf"Error: {re.escape(str(out / 'visual-stats+audio-stats'))}/\w+\.npz: "
                        rf"No space left on device", last), done.stderr
    assert "failed:" not in done.stderr            # it stopped: the other films did not each fail alike


RIDGE_RUN = ('subtask = "valence_arousal"\nrun = 1\ndescription = "ridge"\nfeatures = ["visual-stats", "audio-stats"]\n'
             'folds = 2\n[model]\ntype = "ridge"\n')


@pytest.mark.parametrize("command, size", [("baseline", "4k"), ("train", "12k"), ("plot", "12k")])
def test_a_full_disk_names_the_file(tiny_dataset, features, demo_runs, tmp_path, command, size):
    from conftest import cli_with_mount

    out = tmp_path / "out"
    (tmp_path / "run1.toml").write_text(RIDGE_RUN)
    args = {"baseline": ["baseline", "--dataset", tiny_dataset, "--subtask", "fear", "--films", "test", "--out",
                         out / "me17ei_T_fear_run1.txt"],
            "train": ["train", tmp_path / "run1.toml", "--dataset", tiny_dataset, "--features", features,
                      "--out", out / "model"],
            "plot": ["plot", demo_runs["valence_arousal", "dev"], "--dataset", tiny_dataset, "--out", out]}[command]
    done = cli_with_mount(args, out, f"size={size}")
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert re.fullmatch(rf"Error: {re.escape(str(out))}/\S+: No space left on device", last), done.stderr
    assert "Traceback" not in done.stderr


def test_checks_come_before_tensorflow(tiny_dataset, features, tmp_path):
    """Refusals of train and predict (out folder, [model] ranges, incomplete model) start no TensorFlow."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("notes\n")
    good = write_tiny_run(tmp_path / "good.toml")
    bad = write_tiny_run(tmp_path / "bad.toml", extra="input_dropout = 1.5\n")
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    write_manifest(incomplete, state="partial", pid=1)
    calls = [["train", good, "--dataset", tiny_dataset, "--features", features, "--out", victim],
             ["train", bad, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m"],
             ["predict", incomplete, "--dataset", tiny_dataset, "--features", features,
              "--out", tmp_path / "me17ei_T_valence_arousal_run1.txt"]]
    argv = [[str(a) for a in call] for call in calls]
    script = ("import json, sys\nfrom click.testing import CliRunner\nfrom mediaeval.cli import cli\n"
              f"codes = [CliRunner().invoke(cli, args).exit_code for args in {argv!r}]\n"
              "print(json.dumps([codes, 'tensorflow' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [[1, 1, 1], False]


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_a_team_name_that_cannot_be_a_file_name_is_a_usage_error(tiny_dataset, features, tmp_path, command):
    (tmp_path / "runs" / "valence_arousal").mkdir(parents=True)
    config = write_tiny_run(tmp_path / "runs" / "valence_arousal" / "run1.toml")
    args = (["train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m"]
            if command == "train" else ["pipeline", "--dataset", tiny_dataset, "--runs", tmp_path / "runs",
                                        "--features", features, "--models", tmp_path / "m", "--out", tmp_path / "s"])
    result = invoke(*args, "--team", "my team")
    assert result.exit_code == 2
    assert ("Invalid value for '--team': 'my team': expected letters, digits and '-' only (it goes into file "
            "names me17ei_<TEAM>_...)") in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def _cli_in_subprocess(args, file_size_limit=None):
    """Run the CLI in a child process, optionally with writes limited to ``file_size_limit`` bytes
    (a full disk: every write past it fails with an OSError, EFBIG)."""
    code = ("import resource, signal, sys\n"
            "limit = int(sys.argv[1])\n"
            "if limit >= 0:\n"
            "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
            "from mediaeval.cli import main\n"
            "sys.argv = ['mediaeval'] + sys.argv[2:]\n"
            "main()\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    limit = -1 if file_size_limit is None else file_size_limit
    return subprocess.run([sys.executable, "-c", code, str(limit), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def test_full_disk_in_baseline_and_package_is_one_line(data, tmp_path):
    out = tmp_path / "out" / "me17ei_T_valence_arousal_run1.txt"
    done = _cli_in_subprocess(["baseline", "--dataset", data, "--subtask", "valence_arousal", "--films", "test",
                               "--out", out], file_size_limit=10)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {out}: File too large"
    assert list((tmp_path / "out").iterdir()) == []
    runs = write_test_runs(tmp_path / "runs")
    zip_path = tmp_path / "out" / "me17ei_T.zip"
    done = _cli_in_subprocess(["package", *runs, "--team", "T", "--dataset", data, "--out", zip_path],
                              file_size_limit=100)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {zip_path}: File too large"
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_turns_os_errors_into_one_line_and_leaves_other_errors(tmp_path):
    import click

    from mediaeval.cli import _Group

    @click.group(cls=_Group)
    def group():
        pass

    @group.command()
    @click.argument("kind")
    def fail(kind):
        if kind == "os":
            open(tmp_path / "missing" / "file.txt")
        if kind == "nameless":
            raise OSError(28, "No space left on device")
        raise {"bug": TypeError, "interrupt": KeyboardInterrupt}[kind]("boom")

    runner = CliRunner()
    result = runner.invoke(group, ["fail", "os"])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'missing' / 'file.txt'}: No such file or directory\n"
    result = runner.invoke(group, ["fail", "nameless"])
    assert result.exit_code == 1 and result.output == "Error: No space left on device\n"
    assert isinstance(runner.invoke(group, ["fail", "bug"]).exception, TypeError)
    with pytest.raises(click.exceptions.Abort) as caught:  # Click's own Ctrl-C handling, untouched
        runner.invoke(group, ["fail", "interrupt"], catch_exceptions=False, standalone_mode=False)
    assert isinstance(caught.value.__cause__, KeyboardInterrupt)


def test_inspect_lists_unreadable_videos_and_goes_on(tiny_dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    bad = next(data.rglob("Sample_01.mp4"))       # annotated, its video unreadable
    bad.write_text("not a film")
    (bad.parent / "Worse.mp4").write_bytes(b"")  # no annotation, an empty file
    result = invoke("inspect", "--dataset", data)
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:5]}
    assert rows["Sample_01"][3:] == ["UNREADABLE", "-", "1", "1", "-"]   # its annotations still counted
    assert rows["Worse"][3:] == ["UNREADABLE", "-", "-", "-", "-"]
    assert float(rows["Sample_02"][3]) > 11 and float(rows["MEDIAEVAL17_00"][3]) > 11
    assert f"note: Sample_01: {bad}: expected a readable video file" in result.output
    assert "Error: 2 unreadable videos: Sample_01, Worse" in result.output


def test_empty_film_list_is_a_usage_error(tiny_dataset, tmp_path):
    for value in (",", " , "):
        result = invoke("extract", "--dataset", tiny_dataset, "--out", tmp_path / "f", "--films", value)
        assert result.exit_code == 2 and "expected one or more comma-separated names" in result.output
    assert not (tmp_path / "f").exists()
