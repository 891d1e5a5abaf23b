"""The submission flow (mediaeval/pipeline.py): every run of a runs folder, from films to a valid
zip; an edited run is retrained, and files the pipeline did not write are left alone."""
import zipfile

import pytest
from click.testing import CliRunner

from conftest import invoke, write_tiny_run
from mediaeval.cli import cli
from mediaeval.dataset import Dataset
from mediaeval.model_folder import stored_run
from mediaeval.run_files import validate_run

RUN = """subtask = "{subtask}"
run = {run}
description = "tiny {subtask} run {run}"
features = [{features}]
seed = 0
folds = 2

[model]
lstm_units = 8
epochs = 2
chunk_steps = 16
"""


@pytest.mark.slow
def test_pipeline_builds_a_valid_zip(tiny_dataset, tmp_path):
    runs = tmp_path / "runs"
    for subtask, run, features in (("valence_arousal", 1, '"visual-stats", "audio-stats"'),
                                   ("valence_arousal", 2, '"audio-stats"'), ("fear", 1, '"visual-stats"')):
        (runs / subtask).mkdir(parents=True, exist_ok=True)
        (runs / subtask / f"run{run}.toml").write_text(RUN.format(subtask=subtask, run=run, features=features))
    args = ["pipeline", "--dataset", str(tiny_dataset), "--team", "T", "--runs", str(runs),
            "--features", str(tmp_path / "features"), "--models", str(tmp_path / "models"),
            "--out", str(tmp_path / "submission")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "valence_arousal: out-of-fold figures on the development films" in result.output
    assert "tiny fear run 1" in result.output
    zip_path = tmp_path / "submission" / "me17ei_T.zip"
    assert f"submission: {zip_path} (3 runs)" in result.output
    names = ["me17ei_T_valence_arousal_run1.txt", "me17ei_T_valence_arousal_run2.txt", "me17ei_T_fear_run1.txt"]
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == names + ["README.txt"]
        assert "description: tiny valence_arousal run 2" in archive.read("README.txt").decode()
    dataset = Dataset.discover(tiny_dataset)
    for name in names:
        assert validate_run(tmp_path / "submission" / name, dataset) == []
    # the audio-only and visual-only runs read their columns from the combined set's files
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["visual-stats+audio-stats"]
    # a second pass trains nothing and gives the same zip content
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and again.output.count("already trained") == 3


@pytest.mark.slow
def test_pipeline_with_a_per_segment_run_on_imported_features_and_a_fused_run(tiny_dataset, tmp_path):
    """A ridge run reading an imported set beside an extracted one, an LSTM run, and their
    fusion: the pipeline extracts only what is extractable, fuses last, and packages all three."""
    import numpy as np

    dataset = Dataset.discover(tiny_dataset)
    src = tmp_path / "tables"
    src.mkdir()
    for film in dataset.films.values():
        seconds = int(film.duration)
        rows = ["time,a,b"] + [f"{t + 0.5},{np.sin(t / 3):.4f},{t % 5}" for t in range(seconds)]
        (src / f"{film.name}.csv").write_text("\n".join(rows) + "\n")
    imported = CliRunner().invoke(cli, ["import-features", str(src), "--dataset", str(tiny_dataset),
                                        "--out", str(tmp_path / "features"), "--name", "mine"])
    assert imported.exit_code == 0, imported.output
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "run1.toml").write_text(
        'subtask = "valence_arousal"\nrun = 1\ndescription = "ridge on mine and visual-stats"\n'
        'features = ["mine", "visual-stats"]\nfolds = 2\n[model]\ntype = "ridge"\ninner_folds = 2\n')
    (runs / "run2.toml").write_text(RUN.format(subtask="valence_arousal", run=2, features='"audio-stats"'))
    (runs / "run5.toml").write_text('subtask = "valence_arousal"\nrun = 5\ndescription = "runs 1 and 2 fused"\n'
                                    'fuse = [1, 2]\nfolds = 2\n')
    args = ["pipeline", "--dataset", str(tiny_dataset), "--team", "T", "--runs", str(runs),
            "--features", str(tmp_path / "features"), "--models", str(tmp_path / "models"),
            "--out", str(tmp_path / "submission")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["audio-stats", "mine", "visual-stats"]
    assert "valence_arousal_run5" in result.output.split("out-of-fold figures")[-1]   # on the leaderboard
    with zipfile.ZipFile(tmp_path / "submission" / "me17ei_T.zip") as archive:
        readme = archive.read("README.txt").decode()
        assert len(archive.namelist()) == 4 and "late fusion (weighted mean" in readme
    for n in (1, 2, 5):
        assert validate_run(tmp_path / "submission" / f"me17ei_T_valence_arousal_run{n}.txt", dataset) == []
    fused = (tmp_path / "models" / "valence_arousal_run5")
    assert (fused / "fusion.json").exists() and (fused / "scores.json").exists()


def test_pipeline_light_trains_the_shipped_fear_run_on_the_organisers_features(tiny_dataset, tmp_path):
    """Fear run 3 as shipped, as make demo trains it: the organisers' features are read from the
    dataset (the sample writes them), the run is trained with its [light] settings and submitted."""
    import shutil
    from pathlib import Path

    runs = tmp_path / "runs" / "fear"
    runs.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "runs" / "fear" / "run3.toml", runs)
    args = ["pipeline", "--dataset", str(tiny_dataset), "--team", "T", "--runs", str(tmp_path / "runs"),
            "--features", str(tmp_path / "features"), "--models", str(tmp_path / "models"),
            "--out", str(tmp_path / "submission"), "--light"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "features organisers" in result.output
    assert "(light settings: inner_repeats = 1, alphas = [100.0], choose = ['standardise'])" in result.output
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["organisers"]
    run = tmp_path / "submission" / "me17ei_T_fear_run3.txt"
    assert validate_run(run, Dataset.discover(tiny_dataset)) == []
    with zipfile.ZipFile(tmp_path / "submission" / "me17ei_T.zip") as archive:
        assert archive.namelist() == ["me17ei_T_fear_run3.txt", "README.txt"]
        assert "on the organisers' features" in archive.read("README.txt").decode()


def test_pipeline_light_trains_the_shipped_pretrained_run_on_its_light_features(tiny_dataset, tmp_path):
    """valence_arousal run 3 as make demo trains it: its [light] features (the statistics) instead
    of i3d + musicnn, which are not extracted; the model folder and the zip say which it used."""
    import shutil
    from pathlib import Path

    from mediaeval.runs import RunDefinition

    runs = tmp_path / "runs" / "valence_arousal"
    runs.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "runs" / "valence_arousal" / "run3.toml", runs)
    args = ["pipeline", "--dataset", str(tiny_dataset), "--team", "T", "--runs", str(tmp_path / "runs"),
            "--features", str(tmp_path / "features"), "--models", str(tmp_path / "models"),
            "--out", str(tmp_path / "submission"), "--light"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["visual-stats+audio-stats"]
    said = "(light settings: features = visual-stats + audio-stats instead of i3d + musicnn, inner_repeats = 1)"
    assert said in result.output
    trained = RunDefinition.load(tmp_path / "models" / "valence_arousal_run3" / "run.toml")
    assert trained.features == ["visual-stats", "audio-stats"] and trained.description.endswith(said)
    assert trained.description.startswith("ridge per 10 s segment on visual-stats + audio-stats")
    with zipfile.ZipFile(tmp_path / "submission" / "me17ei_T.zip") as archive:
        readme = archive.read("README.txt").decode()
    assert said in readme and "  features: visual-stats, audio-stats\n" in readme and "i3d (Kinetics-400" not in readme


@pytest.mark.slow
def test_pipeline_retrains_an_edited_run_and_describes_it(tiny_dataset, tmp_path):
    runs = tmp_path / "runs" / "fear"
    runs.mkdir(parents=True)
    definition = write_tiny_run(runs / "run1.toml", subtask="fear", description="first")
    args = ["pipeline", "--dataset", tiny_dataset, "--team", "T", "--runs", tmp_path / "runs",
            "--features", tmp_path / "features", "--models", tmp_path / "models", "--out", tmp_path / "sub"]
    assert invoke(*args).exit_code == 0
    write_tiny_run(definition, subtask="fear", description="second", units=4)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "already trained" not in result.output and "model.lstm_units: 8 -> 4" in result.output
    with zipfile.ZipFile(tmp_path / "sub" / "me17ei_T.zip") as archive:
        readme = archive.read("README.txt").decode()
    assert "description: second" in readme and "LSTM(4)" in readme
    assert stored_run(tmp_path / "models" / "fear_run1").model.lstm_units == 4

    # a run file edited since the pipeline wrote it is not overwritten without --force
    run_file = tmp_path / "sub" / "me17ei_T_fear_run1.txt"
    edited = run_file.read_text() + "\n"
    run_file.write_text(edited)
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output == (f"Error: not overwritten (not written by mediaeval, or edited since): "
                             f"{run_file}; move them away or use --force\n")
    assert run_file.read_text() == edited
    assert invoke(*args, "--force").exit_code == 0 and run_file.read_text() != edited


def test_pipeline_refuses_files_it_did_not_write(tiny_dataset, tmp_path):
    runs = tmp_path / "runs" / "fear"
    runs.mkdir(parents=True)
    write_tiny_run(runs / "run1.toml", subtask="fear")
    (tmp_path / "sub").mkdir()
    mine = tmp_path / "sub" / "me17ei_T.zip"
    mine.write_text("hand-made\n")
    result = invoke("pipeline", "--dataset", tiny_dataset, "--team", "T", "--runs", tmp_path / "runs",
                    "--features", tmp_path / "features", "--models", tmp_path / "models", "--out", tmp_path / "sub")
    assert result.exit_code == 1    # not a zip: left alone, even with --force
    assert result.output == (f"Error: {mine} exists and is not a zip made by mediaeval package; it is left alone "
                             f"(even with --force)\n")
    assert mine.read_text() == "hand-made\n" and not (tmp_path / "features").exists()
