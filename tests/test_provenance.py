"""What a model folder or a run file was made from (mediaeval/provenance.py), checked by score
against the dataset at hand: a model trained on other labels, films predicted in-sample."""
import json
import shutil

from conftest import invoke


def test_score_of_a_model_folders_run_file_says_when_its_labels_are_not_the_datasets(
        tiny_model, tiny_dataset, tmp_path):
    from mediaeval.model_folder import read_manifest

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    run_file, folds = tiny_model[0] / "me17ei_T_valence_arousal_run1.txt", tiny_model[0] / "folds.json"
    assert sorted(read_manifest(tiny_model[0])["labels"]) == ["Sample_01", "Sample_02"]
    result = invoke("score", run_file, "--dataset", data, "--folds", folds)
    assert result.exit_code == 0 and "labels" not in result.output
    annotations = next(data.rglob("Sample_02*valence_arousal*.txt"))
    lines = annotations.read_text().splitlines()
    fields = lines[1].split()
    lines[1] = "\t".join(fields[:2] + [f"{float(fields[2]) / 2:.6f}", fields[3]])   # another dataset's label
    annotations.write_text("\n".join(lines) + "\n")
    result = invoke("score", run_file, "--dataset", data, "--folds", folds)
    assert result.exit_code == 0
    assert (f"note: {tiny_model[0]}: trained on other valence_arousal labels than those of {data} for 1 of 2 films "
            f"(Sample_02): its figures are not this dataset's, so they are not compared with its constant"
            ) in result.output.splitlines()


def test_development_films_predicted_by_models_that_saw_them_are_scored_as_in_sample(
        tiny_model, tiny_dataset, features, tmp_path):
    from mediaeval.submission import description_path

    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", tiny_model[0], "--dataset", tiny_dataset, "--features", features, "--out", out,
                    "--films", "all")
    assert result.exit_code == 0, result.output
    assert json.loads(description_path(out).read_text())["in_sample_films"] == ["Sample_01", "Sample_02"]
    result = invoke("score", out, "--dataset", tiny_dataset)
    assert result.exit_code == 0
    assert ("note: in-sample: 2 of the 3 films scored (Sample_01, Sample_02) were predicted by models trained on "
            "them (me17ei_T_valence_arousal_run1.txt.json): these figures are not honest; the model folder's "
            "out-of-fold run file gives honest ones") in result.output.splitlines()
    result = invoke("predict", tiny_model[0], "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 0 and "in_sample_films" not in json.loads(description_path(out).read_text())
    assert "in-sample" not in invoke("score", out, "--dataset", tiny_dataset).output
