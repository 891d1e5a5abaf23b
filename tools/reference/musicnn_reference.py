"""Reference outputs of the original musicnn 0.1.0 (TensorFlow 1 graph code), kept in
tests/data/musicnn_reference.npz for tests/test_pretrained.py.  Run once, outside the project's
environment (musicnn's graph code needs Keras 2's tf.compat.v1.layers, and librosa):

    python3.11 -m venv /tmp/mnnenv
    /tmp/mnnenv/bin/pip install "tensorflow==2.21.*" "tf_keras==2.21.*" librosa==0.11.0
    /tmp/mnnenv/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/mnnenv/bin/python tools/reference/musicnn_reference.py \\
        tests/data/musicnn_reference.npz

Input: tests/reference_inputs.musicnn_signal() written as a 16 kHz WAV file, given to
``musicnn.extractor.extractor(path, model, input_length=3, extract_features=True)``, which cuts
it into back-to-back 3 s patches.  Stored per model: ``patches`` (the log-mel input, float16,
from musicnn's own librosa front end), ``taggram`` (the 50 tag probabilities), and for
MSD_musicnn ``penultimate``, ``mean_pool`` and ``max_pool``; for MSD_vgg ``pool5``.

One change to the original's call: ``configuration.BATCH_SIZE`` is raised so that all patches
go through the network in its first batch.  musicnn 0.1.0's ``extractor`` has a bug in its
loop over later batches (it unpacks them as ``backend_``, ``midend1_``... but appends the
first batch's ``penultimate_``, ``cnn1_``...), so for MSD_musicnn every patch after the first
repeats the first patch's features.  The tag probabilities are not affected.
"""
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile
import tensorflow as tf
from musicnn import configuration, extractor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from reference_inputs import MUSICNN_RATE, musicnn_signal  # noqa: E402

MODELS = ("MSD_musicnn", "MSD_vgg")


def main(out: str) -> None:
    results = {"tensorflow_version": np.array(tf.__version__), "librosa_version": np.array(librosa.__version__)}
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "signal.wav"
        soundfile.write(wav, musicnn_signal(), MUSICNN_RATE, subtype="PCM_16")
        n_frames = librosa.time_to_frames(3, sr=configuration.SR, n_fft=configuration.FFT_SIZE,
                                          hop_length=configuration.FFT_HOP) + 1
        patches, _ = extractor.batch_data(str(wav), n_frames, n_frames)
        results["patches"] = patches
        configuration.BATCH_SIZE = len(patches)
        for model in MODELS:
            taggram, _, features = extractor.extractor(str(wav), model=model, input_length=3,
                                                       extract_features=True)
            results[f"{model}/taggram"] = taggram
            if model == "MSD_vgg":  # the original concatenates squeezed (2, 128) maps along axis 0
                results[f"{model}/pool5"] = features["pool5"].reshape(len(taggram), -1)
            else:
                for key in ("penultimate", "mean_pool", "max_pool"):
                    results[f"{model}/{key}"] = features[key]
            print(model, {k: v.shape for k, v in results.items() if k.startswith(model)})
    np.savez_compressed(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
