"""Files written completely or not at all (mediaeval/atomic.py): an output under a file is one
line saying it is a file; a film name too long for a temporary name beside it still is written,
and its temporary name found as stale."""
from conftest import invoke, write_test_runs


def test_output_under_a_file_is_one_line(data, tmp_path):
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("baseline", "--dataset", data, "--subtask", "valence_arousal", "--films", "test", "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {tmp_path / 'plain'}: is a file, not a folder: cannot write {out} "
                                     f"in it")
    assert (tmp_path / "plain").read_text() == "x"


def test_package_out_under_a_file_says_it_is_a_file(data, tmp_path):
    runs = write_test_runs(tmp_path / "runs")
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile" / "z.zip", tmp_path / "afile" / "sub" / "z.zip"):
        result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", out)
        assert result.exit_code == 1
        assert result.output == f"Error: {tmp_path / 'afile'}: is a file, not a folder: cannot write {out} in it\n"
    assert (tmp_path / "afile").read_text() == "x"


def test_a_film_name_too_long_for_a_temporary_name(tiny_dataset, tmp_path):
    import shutil

    from mediaeval.atomic import temporary_name
    from mediaeval.features.store import load_features, remove_stale_temporaries

    name = "A_very_long_title_" + "x" * 229           # 247 characters: <name>.mp4 is 251 bytes, allowed
    (tmp_path / "data").mkdir()
    shutil.copy(next(tiny_dataset.rglob("Sample_01.mp4")), tmp_path / "data" / f"{name}.mp4")
    result = invoke("extract", "--dataset", tmp_path / "data", "--out", tmp_path / "features")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "features" / "visual-stats+audio-stats"
    assert load_features(folder / f"{name}.npz").values.shape[1] == 153
    assert [p.name for p in folder.iterdir()] == [f"{name}.npz"]
    left = folder / temporary_name(f"{name}.npz", pid=2**22 + 1)   # left by a killed process (no such pid)
    assert len(left.name.encode()) == 255 and left.name.endswith(f".{2**22 + 1}.tmp")
    left.write_bytes(b"half")
    assert remove_stale_temporaries(folder, now=left.stat().st_mtime + 3600) == [left]
