"""Run definitions (mediaeval/runs.py): checked by RunDefinition.load, every setting round-tripping
through a model folder; built in code, written as TOML (to_toml, save), read back equal by load."""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import fields, replace
from pathlib import Path

import pytest

from conftest import REPO, RIDGE_RUN
from mediaeval.errors import DataError
from mediaeval.model import ModelSettings
from mediaeval.model_folder import stored_run, write_manifest
from mediaeval.runs import RunDefinition, find_runs
from mediaeval.segment_models import SegmentSettings

RUNS = Path(__file__).resolve().parents[1] / "runs"


def _round_trip(config: RunDefinition, path: Path) -> RunDefinition:
    """``config`` saved to ``path`` and loaded back."""
    return RunDefinition.load(config.save(path))


def test_every_shipped_run_and_its_light_version_round_trips(tmp_path):
    runs = find_runs(RUNS)
    kinds = {(r.subtask, "fused" if r.fused else getattr(r.model, "type", "lstm")) for r in runs}
    assert kinds == {("valence_arousal", "ridge"), ("valence_arousal", "svr"), ("valence_arousal", "lstm"),
                     ("valence_arousal", "fused"), ("fear", "ridge"), ("fear", "hgb"), ("fear", "fused")}
    for config in runs:
        for version in (config, config.lightened()):
            loaded = _round_trip(version, tmp_path / f"{version.name}-{len(list(tmp_path.iterdir()))}.toml")
            assert loaded.to_data() == version.to_data(), version.name
            assert loaded.to_toml() == version.to_toml()
        if getattr(config.model, "from_valence_arousal", None) is None:
            assert config.text() == config.path.read_text(encoding="utf-8")   # its own text, comments kept
        else:   # a run number reads only beside the runs folder: the model folder keeps that run's settings
            assert config.text() == config.to_toml() and "from_valence_arousal = 1" in config.path.read_text()
    lightened = [r.lightened() for r in runs if r.light]
    assert [r.name for r in lightened] == ["fear_run1", "fear_run2", "fear_run3", "fear_run4", "valence_arousal_run1",
                                           "valence_arousal_run2", "valence_arousal_run3", "valence_arousal_run4"]
    assert all(r.text() == r.to_toml() for r in lightened)   # not the heavy file's text


def test_a_config_built_in_code_round_trips(tmp_path):
    base = RunDefinition.load(RUNS / "valence_arousal" / "run4.toml")
    odd = 'a "quote", a \\ backslash,\na new line, a\ttab, é, 😀, \x7f and \x01'
    config = dataclasses.replace(base, description=odd, seeds=3, ensemble="folds", features=["mine"], path=None,
                                 model=dataclasses.replace(base.model, fear_positive_weight=2.5, smoothing=(0.0, 1.5),
                                                           learning_rate=1e-05, input_dropout=0))
    loaded = _round_trip(config, tmp_path / "run.toml")
    assert loaded.to_data() == config.to_data() and loaded.description == odd
    assert loaded.model.smoothing == (0.0, 1.5) and loaded.model.fear_positive_weight == 2.5
    segment = RunDefinition("fear", 2, "d", ["a", "b"], seed=4,
                            model=SegmentSettings(type="hgb", hgb_max_leaf_nodes=(3,)), light={"hgb_max_iter": 10})
    assert _round_trip(segment, tmp_path / "segment.toml").to_data() == segment.to_data()


def test_to_toml_writes_every_field_and_leaves_out_none():
    config = RunDefinition("fear", 5, 'fused "a" and b', [], seed=2, folds=3, fuse=[1, 2])
    assert config.to_toml() == ('subtask = "fear"\nrun = 5\ndescription = "fused \\"a\\" and b"\nfeatures = []\n'
                                'external_data = false\nseed = 2\nseeds = 1\nfolds = 3\nfuse = [1, 2]\n')
    lstm = RunDefinition("valence_arousal", 1, "d", ["a"], model=ModelSettings(lstm_units=8), light={"epochs": 2})
    text = lstm.to_toml()
    assert "fear_positive_weight" not in text and "fuse" not in text   # None, and an empty fuse, are left out
    assert text.endswith("calibrate = true\n\n[light]\nepochs = 2\n") and "\n[model]\nlstm_units = 8\n" in text


def test_every_setting_that_may_be_none_defaults_to_none():
    """What lets to_toml leave a None setting out (TOML has no null): it loads back as the default."""
    for cls in (RunDefinition, ModelSettings, SegmentSettings):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name != "path" and type(None) in typing.get_args(hints[f.name]):
                assert f.default is None, f"{cls.__name__}.{f.name}"


def test_saving_a_run_overwrites_nothing_and_refuses_what_would_not_load(tmp_path):
    config = RunDefinition("valence_arousal", 1, "d", ["a"])
    mine = tmp_path / "run1.toml"
    mine.write_text("# my notes\n")
    with pytest.raises(DataError, match="run1.toml: exists; RunDefinition.save writes a new run file and overwrites "
                                        "none"):
        config.save(mine)
    assert mine.read_text() == "# my notes\n"
    bad = dataclasses.replace(config, model=ModelSettings(lstm_units=0))
    with pytest.raises(DataError, match=r"bad.toml: model.lstm_units: expected at least 1, got 0"):
        bad.save(tmp_path / "bad.toml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.toml"]   # nothing written, no temporary left


def test_text_is_the_file_while_it_still_says_this_definition(tmp_path):
    path = tmp_path / "run1.toml"
    path.write_text('# notes\nsubtask = "valence_arousal"\nrun = 1\ndescription = "d"\nfeatures = ["a"]\n')
    config = RunDefinition.load(path)
    assert config.text() == path.read_text()
    assert dataclasses.replace(config, seed=7).text() == dataclasses.replace(config, seed=7).to_toml()
    path.write_text(path.read_text().replace('"d"', '"edited since"'))
    assert config.text() == config.to_toml()
    path.unlink()
    assert config.text() == config.to_toml()


def test_saving_a_run_leaves_a_link_alone_even_a_broken_one(tmp_path):
    config = RunDefinition("valence_arousal", 1, "d", ["a"])
    link = tmp_path / "run1.toml"
    link.symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(DataError, match="run1.toml: exists; RunDefinition.save writes a new run file"):
        config.save(link)
    assert link.is_symlink() and not (tmp_path / "nowhere.toml").exists()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DataError, match=r"a-file/inside.toml: cannot write: Not a directory$"):
        config.save(tmp_path / "a-file" / "inside.toml")


@pytest.mark.parametrize("change, message", [
    ({"description": "bad \ud800 text"}, r"expected text that UTF-8 can write, got '\\ud800'"),
    ({"seed": 2**70}, r"seed: expected an int of 64 bits, got 1180591620717411303424"),
    ({"light": {"epochs": None}}, r"the definition does not survive as TOML: light.epochs: null -> \(none\)"),
])
def test_what_toml_cannot_hold_is_refused_naming_the_key(tmp_path, change, message):
    config = dataclasses.replace(RunDefinition("valence_arousal", 1, "d", ["a"]), **change)
    with pytest.raises(DataError, match=message):
        config.save(tmp_path / "run1.toml")
    with pytest.raises(DataError, match=message):   # and before a model folder's run.toml is written
        config.text()
    assert list(tmp_path.iterdir()) == []


def test_settings_must_be_finite_and_64_bit(tmp_path):
    path = tmp_path / "run1.toml"
    base = 'subtask = "valence_arousal"\nrun = 1\ndescription = "d"\nfeatures = ["a"]\n'
    path.write_text(base + "[model]\ntype = \"svr\"\nsvr_epsilon = nan\n")
    with pytest.raises(DataError, match=r"run1.toml: model.svr_epsilon: expected a finite float, got nan$"):
        RunDefinition.load(path)
    path.write_text(base.replace("run = 1", "run = 1\nseed = 9223372036854775808"))
    with pytest.raises(DataError, match=r"run1.toml: seed: expected an int of 64 bits, got 9223372036854775808"):
        RunDefinition.load(path)


LIGHT_RUN = """subtask = "valence_arousal"
run = 3
description = "ridge on i3d + musicnn"
features = ["i3d", "musicnn"]

[model]
type = "ridge"
context = 1

[light]
"""


def test_light_features_replace_the_runs_features_and_description(tmp_path):
    path = tmp_path / "run3.toml"
    path.write_text(LIGHT_RUN + 'features = ["visual-stats", "audio-stats"]\ndescription = "ridge on the statistics"\n'
                    'alphas = [100.0]\n')
    config = RunDefinition.load(path)
    light = config.lightened()
    assert (light.features, light.model.alphas, light.model.context, light.light) == (
        ["visual-stats", "audio-stats"], (100.0,), 1, {})
    assert light.description == ("ridge on the statistics (light settings: features = visual-stats + audio-stats "
                                 "instead of i3d + musicnn, alphas = [100.0])")
    described = light.describe()   # what the zip's README and the run file's description say
    assert described["features"] == ["visual-stats", "audio-stats"]
    assert described["description"].startswith("ridge on the statistics (light settings: features = visual-stats")
    assert config.features == ["i3d", "musicnn"] and config.description == "ridge on i3d + musicnn"
    saved = RunDefinition.load(light.save(tmp_path / "light.toml"))   # what a model folder's run.toml holds
    assert saved.to_data() == light.to_data() and 'features = ["visual-stats", "audio-stats"]' in light.text()
    own = path.read_text().replace('features = ["i3d", "musicnn"]', 'features = ["mine", "visual-stats"]')
    path.write_text(own.replace('features = ["visual-stats", "audio-stats"]', 'features = ["mine"]'))
    assert RunDefinition.load(path).lightened().features == ["mine"]   # one of the run's own (imported) sets


@pytest.mark.parametrize("light, message", [
    ('features = ["visual-stats", "i3dd"]\ndescription = "d"\n',
     r"run3.toml: light.features: unknown extractor 'i3dd'; expected one of .*i3d, .*musicnn.*, or one of the "
     r"run's own features$"),
    ('features = []\ndescription = "d"\n', r"run3.toml: light.features: expected a non-empty list of extractor names$"),
    ('features = "visual-stats"\ndescription = "d"\n',
     r"run3.toml: light.features: expected a list of str, got 'visual-stats'$"),
    ('features = ["audio-stats", "audio-stats"]\ndescription = "d"\n',
     r"run3.toml: light.features: a name is given twice: audio-stats, audio-stats$"),
    ('features = ["audio-stats"]\n', r"run3.toml: light.description: missing; \[light\] features = \[...\] needs"),
    ('description = "d"\n', r"run3.toml: light.description: only beside light.features"),
    ('features = ["audio-stats"]\ndescription = 3\n', r"run3.toml: light.description: expected str, got 3$"),
    ('colour = "red"\n', r"run3.toml: light.colour: expected a \[model\] setting to lighten \(not type\), "
                          r"features or description$"),
])
def test_light_features_are_checked_naming_the_file_and_key(tmp_path, light, message):
    path = tmp_path / "run3.toml"
    path.write_text(LIGHT_RUN + light)
    with pytest.raises(DataError, match=message):
        RunDefinition.load(path)


def test_a_fused_run_has_no_light_features(tmp_path):
    path = tmp_path / "run5.toml"
    path.write_text('subtask = "fear"\nrun = 5\ndescription = "f"\nfuse = [1, 2]\n\n[light]\n'
                    'features = ["audio-stats"]\ndescription = "d"\n')
    with pytest.raises(DataError, match=r"run5.toml: light: a fused run \(fuse = \[...\]\) has no features"):
        RunDefinition.load(path)


def test_an_unknown_light_extractor_is_one_line_from_the_cli(tmp_path):
    from click.testing import CliRunner

    from mediaeval.cli import cli

    path = tmp_path / "run3.toml"
    path.write_text(LIGHT_RUN + 'features = ["i3dd"]\ndescription = "d"\n')
    result = CliRunner().invoke(cli, ["train", str(path), "--dataset", str(tmp_path), "--features", str(tmp_path),
                                      "--out", str(tmp_path / "model")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {path}: light.features: unknown extractor 'i3dd'; expected one of ")
    assert len(result.output.strip().splitlines()) == 1


# sha256 of RunDefinition.to_data() of each shipped run and of its lightened version: a model folder trained
# from a definition that did not change is kept, not retrained.  Computed by main's code before issue 23
# (commit 6cc428d); changed once since, by issue 24 (the per-segment settings that choose the inputs,
# weights and shrinkage, the LSTM's inputs_from and delay_seconds, ensemble left to the family when not
# given: every shipped run's recipe changed, so its models retrain), and computed again then; run 4's once
# more when its inputs became its own settings again (per-film z-scores; inputs_from = "settings"), fear
# runs 1, 3 and 4's when their [light] settings kept only the standardisation choice (make demo's time).
SHIPPED_DIGESTS = {
    "fear_run1": ("b59addd1c13ea315bb28a17e51c7e8be01a055d0317b055055a60efbfb90922d",
                  "82ad7235b06fa1189fce1283c05a4be8d08e92f563b663b1556f9f3b7139b1e9"),
    "fear_run2": ("4d8e3b446333274be55783b707966a5c7571b5dd185acf383b77a7a6f21d2838",
                  "7d65355c66078d99de6b34f7f9a24622576386aaec794b58736dec22cd787a97"),
    "fear_run3": ("524f71479fc09a4909c0a7ce8b9eefaf1ef86cafdf453c2cb266e55084e947f9",
                  "c21467387b0fb70bdf074037bf3f15befd9c38e795c7c496ffc2266304c11956"),
    "fear_run4": ("8aedf3fb345bd162a20245cf63e302af4cd7f8a02dbebd931812345ec107578d",
                  "e6fb3ffde1c4454ea2805e1bca0225b74bbd15da968b1bd122921e55de4296d4"),
    "fear_run5": ("20d1ab570b44fa48efe406a5eea50e833a3e92ad07884124fe98f3144bb77377",
                  "20d1ab570b44fa48efe406a5eea50e833a3e92ad07884124fe98f3144bb77377"),
    "valence_arousal_run1": ("37503e3537290043eba66008059687c6bf66a5ede1f3c40de4d6b7deef2b3424",
                             "109f7733b7e4044a32138ae194c7fb77634c7ee49b56db2e505e004a18453d44"),
    "valence_arousal_run2": ("dd338c068155c312a4d7d94cf368c89930c4b4e2be357e18077e86a9b2359ed5",
                             "3124c549af0bb139c49dd337a861f0a13aa957e07e6eb6b002e35df2cb760607"),
    "valence_arousal_run3": ("2f36441fe7124b8e54d2266c6c2626b4484fd82e36d83aa3246d5a5f0b21cbf8",
                             "34ffb49638c65218e69562e90b2fa0e1f3316979969448a7f2189cfcb5af33c5"),
    "valence_arousal_run4": ("25cc69d3b76ae3975b248aaced8cc934f330323a1c39058def9af02b1f4a3cf1",
                             "f873626d59ff906039b61dc81b22d6527d191bc8c5811123c691a2be58f99b6f"),
    "valence_arousal_run5": ("a40cb0c5389dc0dea3a027a9ad0b708c8c4a5038f49f59566d66558dcc7683fb",
                             "a40cb0c5389dc0dea3a027a9ad0b708c8c4a5038f49f59566d66558dcc7683fb"),
}


def test_the_shipped_runs_keep_the_digests_they_had_before_pydantic():
    runs = find_runs(RUNS)
    assert {r.name: (r.digest(), r.lightened().digest()) for r in runs} == SHIPPED_DIGESTS


@pytest.mark.parametrize("setting, message", [
    ("batch_films = 0", "model.batch_films: expected at least 1, got 0"),
    ("chunk_steps = 0", "model.chunk_steps: expected at least 1, got 0"),
    ("input_dropout = 1.5", "model.input_dropout: expected at least 0 and less than 1, got 1.5"),
    ("output_dropout = -0.1", "model.output_dropout: expected at least 0 and less than 1, got -0.1"),
    ("lstm_units = 0", "model.lstm_units: expected at least 1, got 0"),
    ("epochs = 0", "model.epochs: expected at least 1, got 0"),
    ("patience = 0", "model.patience: expected at least 1, got 0"),
    ("learning_rate = -0.001", "model.learning_rate: expected greater than 0, got -0.001"),
    ("validation_share = 5", "model.validation_share: expected at least 0 and less than 1, got 5"),
    ("fear_positive_weight = 0", "model.fear_positive_weight: expected greater than 0, got 0"),
    ("max_positive_weight = 0.5", "model.max_positive_weight: expected at least 1, got 0.5"),
    ('projection_dtype = "float16"', 'model.projection_dtype: expected one of "float32", "bfloat16", got \'float16\''),
    ('type = "ridge"\nfilm_weighting = 1.5', "model.film_weighting: expected 0 to 1, got 1.5"),
    ('type = "ridge"\nfilm_weightings = [0.0, -0.5]',
     "model.film_weightings: expected a non-empty list, each 0 to 1, got [0.0, -0.5]"),
    ('type = "ridge"\nfilm_weightings = []', "model.film_weightings: expected a non-empty list, each 0 to 1, got []"),
    ('type = "ridge"\ninner_repeats = 0', "model.inner_repeats: expected 1 to 10, got 0"),
    ('type = "ridge"\nhedge = 1.5', "model.hedge: expected 0 to 1, got 1.5"),
])
def test_model_ranges_are_checked_when_a_run_is_read(tmp_path, setting, message):
    path = tmp_path / "run1.toml"
    path.write_text(f'subtask = "fear"\nrun = 1\ndescription = "d"\nfeatures = ["audio-stats"]\n[model]\n{setting}\n')
    with pytest.raises(DataError) as error:
        RunDefinition.load(path)
    assert str(error.value) == f"{path}: {message}"


def test_a_definition_stored_before_the_weighting_was_a_share_still_loads(tmp_path):
    """``film_weighted`` (a model folder's model.json or run.toml of before) reads as
    ``film_weighting`` 1 or 0, in a fear run's valence/arousal recipe too; anything but true or
    false there stays an unknown setting."""
    path = tmp_path / "run4.toml"
    text = ('subtask = "fear"\nrun = 4\ndescription = "d"\nfeatures = ["audio-stats"]\n[model]\ntype = "ridge"\n'
            'film_weighted = true\n[model.from_valence_arousal]\ntype = "ridge"\nfilm_weighted = false\n')
    path.write_text(text)
    model = RunDefinition.load(path).model
    assert (model.film_weighting, model.from_valence_arousal.film_weighting) == (1.0, 0.0)
    path.write_text(text.replace("film_weighted = true", 'film_weighted = "yes"'))
    with pytest.raises(DataError, match=r"model.film_weighted: unknown setting"):
        RunDefinition.load(path)

def _other_value(hint, default):
    """A value of type ``hint`` other than ``default``, in range."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return [a for a in args if a != default][0]
    if type(None) in args:
        return 2.5
    if origin is tuple:
        return [0.0, 3.0]
    return {bool: not default, int: default + 1, float: default / 2 if default else 1.0}[hint]


def test_every_model_setting_round_trips(tmp_path):
    hints = typing.get_type_hints(ModelSettings)
    defaults = ModelSettings()
    table = "".join(f"{f.name} = {json.dumps(_other_value(hints[f.name], getattr(defaults, f.name)))}\n"
                    for f in fields(ModelSettings))
    path = tmp_path / "every.toml"
    path.write_text('subtask = "valence_arousal"\nrun = 2\ndescription = "every setting"\nfeatures = ["audio-stats"]\n'
                    "external_data = true\nseed = 3\nseeds = 2\nfolds = 3\n[model]\n" + table)
    configs = [RunDefinition.load(path)] + [RunDefinition.load(p) for p in sorted((REPO / "runs").glob("*/*.toml"))]
    assert all(getattr(configs[0].model, f.name) != getattr(defaults, f.name) for f in fields(ModelSettings))
    for config in configs:
        folder = tmp_path / config.name
        folder.mkdir(exist_ok=True)
        write_manifest(folder, state="complete", definition=config.to_data())   # as train stores it
        again = stored_run(folder)
        assert replace(again, path=None) == replace(config, path=None)
        assert RunDefinition.from_data(path, json.loads(json.dumps(config.to_data()))).to_data() == config.to_data()


@pytest.mark.parametrize("seed, seeds, message", [
    (-1, 1, "seed: expected 0 to 4294967295, got -1"),
    (2**32, 1, "seed: expected 0 to 4294967295, got 4294967296"),
    (2**32 - 2, 3, "seed: expected 0 to 4294967293 (with seeds = 3, the last seed is below 2**32), got 4294967294"),
])
def test_seed_out_of_range_is_refused_when_a_run_is_read(tmp_path, seed, seeds, message):
    path = tmp_path / "run1.toml"
    path.write_text(RIDGE_RUN.format(seed=seed).replace("folds = 2", f"folds = 2\nseeds = {seeds}"))
    with pytest.raises(DataError) as error:
        RunDefinition.load(path)
    assert str(error.value) == f"{path}: {message}"
    path.write_text(RIDGE_RUN.format(seed=2**32 - seeds).replace("folds = 2", f"folds = 2\nseeds = {seeds}"))
    assert RunDefinition.load(path).seed == 2**32 - seeds


def test_features_named_twice_are_refused(tmp_path):
    path = tmp_path / "run1.toml"
    path.write_text(RIDGE_RUN.format(seed=0).replace('["visual-stats", "audio-stats"]',
                                                     '["visual-stats", "audio-stats", "visual-stats"]'))
    with pytest.raises(DataError) as error:
        RunDefinition.load(path)
    assert str(error.value) == f"{path}: features: 'visual-stats' named twice; expected each feature set once"


def test_run_definitions(tmp_path):
    from pathlib import Path

    for path in sorted(Path(__file__).parents[1].glob("runs/*/*.toml")):
        config = RunDefinition.load(path)
        assert config.subtask == path.parent.name
        assert path.name == f"run{config.run}.toml"
    good = tmp_path / "r.toml"
    good.write_text('subtask = "fear"\nrun = 2\ndescription = "d"\nfeatures = ["audio-stats"]\n'
                    '[model]\nlstm_units = 64\nlearning_rate = 0.01\n')
    config = RunDefinition.load(good)
    assert (config.run, config.model.lstm_units, config.model.learning_rate, config.folds) == (2, 64, 0.01, 5)
    for text, message in [
        ('subtask = "fear"\nrun = 2\ndescription = "d"\nfeatures = ["a"]\ncolour = 1\n', "unknown key 'colour'"),
        ('subtask = "fear"\nrun = 9\ndescription = "d"\nfeatures = ["a"]\n', "run: expected 1 to 5, got 9"),
        ('subtask = "fear"\nrun = "1"\ndescription = "d"\nfeatures = ["a"]\n', "run: expected int, got '1'"),
        ('subtask = "fear"\ndescription = "d"\nfeatures = ["a"]\n', "missing key 'run'"),
        ('subtask = "fear"\nrun = 1\ndescription = "d"\nfeatures = ["a"]\n[model]\nunits = 3\n',
         "model.units: unknown setting"),
        ('subtask = "fear"\nrun = 1\ndescription = "d"\nfeatures = ["a"]\n[model]\nlstm_units = 1.5\n',
         "model.lstm_units: expected int"),
        ("subtask = ", "expected TOML"),
    ]:
        good.write_text(text)
        with pytest.raises(DataError, match=message):
            RunDefinition.load(good)
