"""The output guard (mediaeval/outputs.py) and every command that writes through it: nothing is
written where it was not asked, a file mediaeval wrote is replaced, a user's never (issue 20
item 1).  Real tiny films, features and a per-segment model (no TensorFlow)."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import VA_ANNOTATIONS, invoke
from mediaeval.dataset import Dataset
from mediaeval.outputs import PLOT, OutputGuard, OutputRefused
from mediaeval.submission import DESCRIPTION, RUN_FILE, description_path, write_run
from mediaeval.task import VALENCE_AROUSAL

RIDGE = ('subtask = "valence_arousal"\nrun = 1\ndescription = "ridge"\nfeatures = ["visual-stats", "audio-stats"]\n'
         'seed = 1\nfolds = 2\n[model]\ntype = "ridge"\ninner_folds = 2\n')
NOTES = "my notes about the runs\n"


@pytest.fixture(scope="module")
def model(tiny_dataset, features, tmp_path_factory):
    """A per-segment model folder trained by mediaeval train."""
    root = tmp_path_factory.mktemp("guarded")
    (root / "run1.toml").write_text(RIDGE)
    result = invoke("train", root / "run1.toml", "--dataset", tiny_dataset, "--features", features,
                    "--out", root / "m", "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "m"


def run_file(folder: Path, name="me17ei_T_valence_arousal_run1.txt") -> Path:
    return write_run(folder / name, {"MEDIAEVAL17_00": np.zeros((2, 2))}, VALENCE_AROUSAL, {"description": "d"})


# --------------------------------------------------------------------------- the rule, unit by unit


def test_new_files_are_written_and_marked_ones_replaced_without_force(tmp_path):
    guard = OutputGuard()
    path = tmp_path / "new" / "me17ei_T_valence_arousal_run1.txt"
    assert guard.refusal(path, RUN_FILE) is None
    run_file(path.parent)
    assert RUN_FILE.marked(path) and DESCRIPTION.marked(description_path(path))
    assert guard.refusal(path, RUN_FILE) is None                     # mediaeval's, unchanged
    path.write_text(path.read_text().replace("0.000000 0.000000", "0.5 0.5", 1))
    refusal = guard.refusal(path, RUN_FILE)                          # edited since: only with force
    assert refusal.forceable and str(refusal) == (
        f"{path} exists and is not a run file made by mediaeval (or was changed since); use --force to replace it")
    assert OutputGuard(force=True).refusal(path, RUN_FILE) is None
    description = description_path(path)
    description.write_text(description.read_text().replace('"d"', '"mine"'))
    assert not DESCRIPTION.marked(description) and guard.refusal(description, DESCRIPTION).forceable


@pytest.mark.parametrize("content", [NOTES.encode(), os.urandom(300), b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"])
def test_force_replaces_only_the_kind_of_file_the_command_writes(tmp_path, content):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(content)
    refusal = OutputGuard(force=True).refusal(victim, RUN_FILE)
    assert not refusal.forceable
    assert str(refusal) == f"{victim} exists and is not a run file; it is left alone (even with --force)"


def test_never_a_folder_a_link_a_device_an_input_the_dataset_or_an_annotation_name(tiny_dataset, tmp_path):
    guard = OutputGuard(force=True, dataset_root=tiny_dataset, inputs=[tmp_path / "in.txt"])
    mine = run_file(tmp_path)
    (tmp_path / "link.txt").symlink_to(mine)
    os.mkfifo(tmp_path / "fifo")
    annotation = next(Path(tiny_dataset).rglob("*valence_arousal.txt"))
    in_dataset = run_file(Path(tiny_dataset), "me17ei_T_valence_arousal_run4.txt")
    try:
        cases = {tmp_path: "is a folder; expected the run file file to write",
                 tmp_path / "link.txt": "is a link; mediaeval writes only new or regular files",
                 tmp_path / "fifo": "is not a regular file",
                 tmp_path / "in.txt": f"is one of the inputs ({tmp_path / 'in.txt'})",
                 annotation: "exists and is not a run file; it is left alone",
                 in_dataset: f"is under the dataset root {Path(tiny_dataset).resolve()}; mediaeval never replaces",
                 tmp_path / "X-MEDIAEVAL2017-valence_arousal.txt": "is named as an annotation file"}
        for path, message in cases.items():
            refusal = guard.refusal(path, RUN_FILE)
            assert refusal is not None and message in str(refusal) and not refusal.forceable, (path, refusal)
    finally:
        in_dataset.unlink()
        description_path(in_dataset).unlink()


def test_a_model_folders_own_files_are_never_written_but_beside_them_is_fine(model):
    guard = OutputGuard(force=True)
    for name in ("me17ei_T_valence_arousal_run1.txt", "me17ei_T_valence_arousal_run1.txt.json", "folds.json",
                 "final/seed1/new.txt", "fold1/seed1/settings.json"):
        kind = DESCRIPTION if name.endswith(".json") else RUN_FILE
        refusal = guard.refusal(model / name, kind)
        assert refusal is not None and f"belongs to the model folder {model}" in str(refusal), name
    assert guard.refusal(model / "test-predictions.txt", RUN_FILE) is None


def test_writing_is_atomic_and_checked_again(tmp_path):
    out = tmp_path / "x.png"
    with pytest.raises(OutputRefused):
        with OutputGuard().writing(out, PLOT) as tmp:
            out.write_text("appeared meanwhile")        # a file made while the output was computed...
            tmp.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert out.read_text() == "appeared meanwhile"      # ...is not replaced


# --------------------------------------------------------------------------- the commands


@pytest.mark.parametrize("command", ["predict", "baseline"])
def test_predict_and_baseline_never_replace_what_they_did_not_write(command, model, tiny_dataset, features, tmp_path):
    args = {"predict": ["predict", model, "--dataset", tiny_dataset, "--features", features],
            "baseline": ["baseline", "--dataset", tiny_dataset, "--subtask", "valence_arousal"]}[command]
    notes = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    notes.write_text(NOTES)
    annotation = next(Path(tiny_dataset).rglob("*-MEDIAEVAL2017-valence_arousal.txt"))
    before = annotation.read_bytes()
    for out, message in [(notes, "is not a run file; it is left alone (even with --force)"),
                         (annotation, "is not a run file; it is left alone" if command == "predict"
                          else "expected a name me17ei_<TEAM>_valence_arousal_run<1-5>.txt"),
                         (model / "me17ei_T_valence_arousal_run1.txt", "belongs to the model folder")]:
        for force in ([], ["--force"]):
            result = invoke(*args, "--out", out, *force)
            assert result.exit_code != 0 and message in result.output, result.output
    assert notes.read_text() == NOTES and annotation.read_bytes() == before and invoke(
        "train", model.parent / "run1.toml", "--dataset", tiny_dataset, "--features", features, "--out", model,
        "--team", "T").output.startswith(f"{model} is already trained")
    out = tmp_path / "out" / "me17ei_T_valence_arousal_run2.txt"
    assert invoke(*args, "--out", out).exit_code == 0
    assert invoke(*args, "--out", out).exit_code == 0              # its own file: rerun without --force
    out.write_text(out.read_text() + "MEDIAEVAL17_99\n")          # edited: --force needed
    assert "use --force" in invoke(*args, "--out", out).output
    assert invoke(*args, "--out", out, "--force").exit_code == 0


def test_leaderboard_plot_replaces_only_its_own_plots(model, tiny_dataset, tmp_path):
    import matplotlib.image

    args = ["leaderboard", model, "--dataset", tiny_dataset, "--plot"]
    picture = tmp_path / "holiday.png"
    matplotlib.image.imsave(picture, np.zeros((4, 4, 3)))
    before = picture.read_bytes()
    os.mkfifo(tmp_path / "fifo")
    scores = (model / "scores.json").read_bytes()
    for out, message in [(picture, "exists and is not a plot made by mediaeval"),
                         (tmp_path / "fifo", "is not a regular file"),
                         (model / "scores.json", "is not a PNG image; it is left alone"),
                         (model / "me17ei_T_valence_arousal_run1.txt", "is not a PNG image")]:
        result = invoke(*args, out)
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, out
    assert picture.read_bytes() == before and (model / "scores.json").read_bytes() == scores
    mine = tmp_path / "board.png"
    assert invoke(*args, mine).exit_code == 0 and PLOT.marked(mine)
    assert invoke(*args, mine).exit_code == 0          # a rerun (make demo) replaces its own plot


def test_plot_checks_every_output_before_drawing(model, tiny_dataset, tmp_path):
    run = model / "me17ei_T_valence_arousal_run1.txt"
    out = tmp_path / "plots"
    blocker = out / run.stem / "Sample_02.png"
    blocker.parent.mkdir(parents=True)
    blocker.write_text(NOTES)
    result = invoke("plot", run, "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 1 and f"{blocker} exists and is not a PNG image" in result.output
    assert sorted(p.name for p in blocker.parent.iterdir()) == ["Sample_02.png"]    # nothing drawn
    blocker.unlink()
    for _ in range(2):                                  # a rerun needs no --force
        assert invoke("plot", run, "--dataset", tiny_dataset, "--out", out).exit_code == 0


def test_fuse_force_replaces_run_files_only(tiny_dataset, tmp_path):
    dev = {f.name: np.column_stack([np.linspace(-.5, .5, f.n_segments)] * 2)
           for f in Dataset.discover(tiny_dataset).dev_films}
    a = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", dev, VALENCE_AROUSAL)
    b = write_run(tmp_path / "me17ei_T_valence_arousal_run2.txt", {k: -v for k, v in dev.items()}, VALENCE_AROUSAL)
    for content in (NOTES.encode(), os.urandom(500), b"%PDF-1.4 report"):
        out = tmp_path / "report.pdf"
        out.write_bytes(content)
        result = invoke("fuse", a, b, "--dataset", tiny_dataset, "--out", out, "--weights", "1,1", "--force")
        assert result.exit_code == 1 and "is not a run file; it is left alone (even with --force)" in result.output
        assert out.read_bytes() == content


def test_retraining_carries_the_users_files_over(model, tiny_dataset, features, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(model, folder)
    (folder / "MYNOTES.txt").write_text(NOTES)
    (folder / "mine").mkdir()
    (folder / "mine" / "test-predictions.txt").write_text("MEDIAEVAL17_00\n")
    edited = tmp_path / "run1.toml"
    edited.write_text(RIDGE.replace('description = "ridge"', 'description = "ridge, edited"'))
    result = invoke("train", edited, "--dataset", tiny_dataset, "--features", features, "--out", folder,
                    "--team", "T")
    assert result.exit_code == 0 and "retraining: description" in result.output, result.output
    assert (folder / "MYNOTES.txt").read_text() == NOTES
    assert (folder / "mine" / "test-predictions.txt").read_text() == "MEDIAEVAL17_00\n"
    assert not folder.with_name("m.old").exists() and "ridge, edited" in (folder / "run.toml").read_text()


def test_pipeline_out_may_not_overlap_its_other_folders(tiny_dataset, tmp_path):
    runs = tmp_path / "runs" / "valence_arousal"
    runs.mkdir(parents=True)
    (runs / "run1.toml").write_text(RIDGE)
    folders = {"--models": tmp_path / "models", "--features": tmp_path / "features", "--runs": tmp_path / "runs"}
    for option, folder in folders.items():
        for out in (folder, folder / "submission"):
            result = invoke("pipeline", "--dataset", tiny_dataset, "--team", "T",
                            *(x for pair in folders.items() for x in pair), "--out", out)
            assert result.exit_code == 1, result.output
            assert result.output == f"Error: --out {out} and {option} {folder} overlap; give each a folder of its own\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_sample_overwrite_writes_only_into_a_sample(tmp_path):
    data = tmp_path / "data"
    (data / VA_ANNOTATIONS).mkdir(parents=True)
    truth = data / VA_ANNOTATIONS / "Sample_01-MEDIAEVAL2017-valence_arousal.txt"
    truth.write_text("real annotations\n")
    result = invoke("sample", data, "--films", 1, "--test-films", 0, "--duration", 11, "--overwrite")
    assert result.exit_code == 1 and "is not a sample made by mediaeval sample; it is left alone" in result.output
    assert truth.read_text() == "real annotations\n"
    made = tmp_path / "made"
    args = ["sample", made, "--films", 1, "--test-films", 0, "--duration", 11, "--no-organisers", "--jobs", 1]
    assert invoke(*args).exit_code == 0
    assert "is not empty; use --overwrite" in invoke(*args).output
    assert invoke(*args, "--overwrite").exit_code == 0


def test_package_replaces_its_own_zip_and_never_a_file_under_the_dataset(tiny_dataset, tmp_path):
    runs = [tmp_path / "runs" / f"me17ei_T_{subtask}_run1.txt" for subtask in ("valence_arousal", "fear")]
    for run, subtask in zip(runs, ("valence_arousal", "fear")):
        assert invoke("baseline", "--dataset", tiny_dataset, "--subtask", subtask, "--out", run).exit_code == 0
    annotation = next(Path(tiny_dataset).rglob("*valence_arousal.txt"))
    inside = Path(tiny_dataset) / "me17ei_T.zip"
    result = invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", annotation, "--force")
    assert result.exit_code == 1 and "is not a zip made by mediaeval package" in result.output
    assert invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", inside).exit_code == 0
    try:
        result = invoke("package", *runs, "--team", "T", "--dataset", tiny_dataset, "--out", inside, "--force")
        assert result.exit_code == 1 and "is under the dataset root" in result.output
    finally:
        inside.unlink()
