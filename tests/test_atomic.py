"""Files written completely or not at all (mediaeval/atomic.py): an output under a file is one
line saying it is a file."""
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
