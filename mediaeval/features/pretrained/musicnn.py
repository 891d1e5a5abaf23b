"""``musicnn`` and ``musicnn-vgg``: the MSD_musicnn and MSD_vgg music taggers, ported to Keras 3.

Pons & Serra (2019), "musicnn: pre-trained convolutional neural networks for music audio
tagging"; both were trained on the Million Song Dataset's 50 most frequent tags, on 3 s of
16 kHz audio (187 frames of a 96-band log-mel spectrogram).  MSD_vgg is a five-layer VGG on
the log-mel patch, the analogue of the thesis's VGG19 audio network.

Each step gets the outputs for the context window centred on it (3 s by default; musicnn
accepts other lengths, MSD_vgg only 3 s): for ``musicnn`` the 200-value penultimate layer, for
``musicnn-vgg`` the 256-value pool5 map, each followed by the 50 tag probabilities.

Weights: the TensorFlow 1 checkpoints inside the ``musicnn`` 0.1.0 wheel (ISC), read with
``tf.compat.v1.train.NewCheckpointReader``; musicnn itself (TF1 graph code) is never imported.
The front end follows musicnn's librosa one (STFT of 512 with a periodic Hann window every
256 samples, zero-padded centred frames, Slaney mel filters, ``log10(10000 x + 1)``) in NumPy,
except that the logarithm is taken in float32: musicnn takes it in float16, which overflows
to inf where a band's power exceeds 6.55.  Film audio is resampled from 44.1 to 16 kHz with
``scipy.signal.resample_poly`` batch by batch, so memory stays bounded.  Tested against the
original's outputs (recipe in ``tools/reference/musicnn_reference.py``).
"""
from __future__ import annotations

from functools import cache

import numpy as np

from ...windows import AUDIO_RATE, SAMPLES_PER_STEP, STEP_SECONDS
from ..registry import Extractor, FilmSource, as_float32, register
from .runtime import batched_predict
from .weights import packaged_folder

DISTRIBUTION = "musicnn"
RATE, N_FFT, HOP, N_MELS = 16_000, 512, 256, 96
CONTEXT_SECONDS = 3.0
BN_EPSILON = 1e-3
BATCH_SIZE = 8                     # as fast as 32 here, with 0.7 GB less peak memory
BATCH_STEPS = 128                  # steps per batch of audio: about 68 s
MSD_TAGS = ["rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
            "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
            "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
            "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
            "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
            "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
            "sad", "House", "happy"]


def context_frames(seconds: float) -> int:
    """Spectrogram frames of a ``seconds`` window, as musicnn counts them (librosa's
    ``time_to_frames(seconds) + 1``): 187 for 3 s."""
    return int(np.floor((round(seconds * RATE) - N_FFT // 2) / HOP)) + 1


# --- front end -----------------------------------------------------------------------------

def _hz_to_slaney_mel(hz):
    hz = np.asarray(hz, np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _slaney_mel_to_hz(mel):
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


@cache
def mel_filters(rate: int = RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-normalised mel filters on the Slaney mel scale, as ``librosa.filters.mel``
    builds them by default: shape (n_mels, n_fft // 2 + 1), float32."""
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = _slaney_mel_to_hz(np.linspace(_hz_to_slaney_mel(0.0), _hz_to_slaney_mel(rate / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def log_mel_frames(samples: np.ndarray) -> np.ndarray:
    """Log-mel frames of 16 kHz samples whose frame ``j`` is centred on sample ``256 (j + 1)``:
    frame ``j`` uses ``samples[256 j : 256 j + 512]``.  Shape (n_frames, 96), float32."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(samples.astype(np.float32), N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * window, axis=-1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    return np.log10(10000.0 * (power @ mel_filters().T) + 1.0).astype(np.float32)


def log_mel_spectrogram(signal: np.ndarray) -> np.ndarray:
    """musicnn's spectrogram of a whole signal (librosa ``center=True``, zero padding):
    (1 + len(signal) // 256, 96)."""
    padded = np.pad(np.asarray(signal, np.float32), N_FFT // 2)
    return log_mel_frames(padded)


# --- networks ------------------------------------------------------------------------------

class _Checkpoint:
    """The variables of a musicnn TF1 checkpoint, read without building its graph."""

    def __init__(self, model: str):
        import tensorflow as tf

        folder = packaged_folder(DISTRIBUTION, f"musicnn/{model}")
        self.reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")

    def __call__(self, name: str) -> np.ndarray:
        return self.reader.get_tensor(name)

    def batch_norm(self, index: int):
        import keras

        prefix = "batch_normalization" + (f"_{index}" if index else "")
        layer = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix)
        values = [self(f"{prefix}/{k}") for k in ("gamma", "beta", "moving_mean", "moving_variance")]
        return layer, values


def _apply(layer, x, values):
    out = layer(x)
    layer.set_weights(values)
    return out


def _bn(checkpoint, x, index: int):
    layer, values = checkpoint.batch_norm(index)
    return _apply(layer, x, values)


def _conv2d(checkpoint, x, index: int, padding: str, name: str | None = None):
    import keras

    prefix = name or ("conv2d" + (f"_{index}" if index else ""))
    kernel = checkpoint(f"{prefix}/kernel")
    layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding=padding, activation="relu",
                                name=prefix)
    return _apply(layer, x, [kernel, checkpoint(f"{prefix}/bias")])


def _musicnn(n_frames: int):
    """MSD_musicnn: (n, n_frames, 96) -> [penultimate (n, 200), tag probabilities (n, 50)]."""
    import keras
    from keras import ops

    ck = _Checkpoint("MSD_musicnn")
    inputs = keras.Input((n_frames, N_MELS), name="log_mel")
    normalised = _bn(ck, ops.expand_dims(inputs, 3), 0)
    padded = ops.pad(normalised, [[0, 0], [3, 3], [0, 0], [0, 0]])

    def pooled_over_frequency(x):               # (n, t, f, c) -> (n, t, c)
        return ops.max(x, axis=2)

    timbral = [pooled_over_frequency(_bn(ck, _conv2d(ck, padded, i, "valid"), i + 1)) for i in (0, 1)]
    temporal = [pooled_over_frequency(_bn(ck, _conv2d(ck, normalised, i, "same"), i + 1)) for i in (2, 3, 4)]
    front = ops.concatenate(timbral + temporal, axis=2)                  # (n, t, 561)

    def midend_layer(x, index):                 # a (7 x width) convolution over all channels
        conv = _conv2d(ck, ops.expand_dims(ops.pad(x, [[0, 0], [3, 3], [0, 0]]), 3), index, "valid")
        return ops.squeeze(_bn(ck, conv, index + 1), 2)                  # (n, t, 64)

    mid1 = midend_layer(front, 5)
    mid2 = midend_layer(mid1, 6) + mid1
    mid3 = midend_layer(mid2, 7) + mid2
    mid = ops.concatenate([front, mid1, mid2, mid3], axis=2)            # (n, t, 753)
    pooled = ops.reshape(ops.stack([ops.max(mid, axis=1), ops.mean(mid, axis=1)], axis=2), (-1, 2 * 753))
    hidden = _apply(keras.layers.Dense(200, activation="relu", name="dense"), _bn(ck, pooled, 9),
                    [ck("dense/kernel"), ck("dense/bias")])
    penultimate = _bn(ck, hidden, 10)
    logits = _apply(keras.layers.Dense(50, name="dense_1"), penultimate, [ck("dense_1/kernel"), ck("dense_1/bias")])
    return keras.Model(inputs, [penultimate, ops.sigmoid(logits)], name="MSD_musicnn")


def _vgg(n_frames: int):
    """MSD_vgg: (n, 187, 96) -> [pool5 flattened (n, 256), tag probabilities (n, 50)]."""
    import keras
    from keras import ops

    ck = _Checkpoint("MSD_vgg")
    inputs = keras.Input((n_frames, N_MELS), name="log_mel")
    x = _bn(ck, ops.expand_dims(inputs, 3), 0)
    pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
    for index, (size, strides) in enumerate(pools, start=1):
        x = _bn(ck, _conv2d(ck, x, index, "same", name=f"{index}CNN"), index)
        x = keras.layers.MaxPooling2D(size, strides=strides, name=f"pool{index}")(x)
    pool5 = keras.layers.Flatten(name="pool5_flat")(x)
    logits = _apply(keras.layers.Dense(50, name="dense"), pool5, [ck("dense/kernel"), ck("dense/bias")])
    return keras.Model(inputs, [pool5, ops.sigmoid(logits)], name="MSD_vgg")


@cache
def musicnn_network(model: str = "MSD_musicnn", n_frames: int = 187):
    """The Keras port of ``model`` (``MSD_musicnn`` or ``MSD_vgg``): log-mel patches
    (n, n_frames, 96) -> [embedding, tag probabilities (n, 50)]."""
    if model == "MSD_vgg":
        if n_frames != context_frames(CONTEXT_SECONDS):
            raise ValueError("MSD_vgg takes 3 s patches (187 frames) only")
        return _vgg(n_frames)
    if model == "MSD_musicnn":
        return _musicnn(n_frames)
    raise ValueError(f"unknown musicnn model {model!r}: MSD_musicnn or MSD_vgg")


# --- films ---------------------------------------------------------------------------------

def _resampled(audio, first: int, last: int) -> np.ndarray:
    """16 kHz samples ``first`` to ``last`` (zeros outside the film) from the 44.1 kHz stream."""
    from scipy.signal import resample_poly

    up, down, margin = RATE // 100, AUDIO_RATE // 100, 4            # 160 / 441; blocks of 10 ms
    block_first = first // up - margin
    block_last = -(-last // up) + margin
    raw = audio.take(block_first * down, block_last * down)
    out = resample_poly(raw, up, down).astype(np.float32)
    start = first - block_first * up
    return out[start:start + last - first]


def step_patches(audio, steps: np.ndarray, n_frames: int) -> np.ndarray:
    """Log-mel patches of ``n_frames`` frames centred on each step's centre: (len(steps), n_frames, 96).

    A patch's middle frame is the frame nearest the step's centre (frames are 16 ms apart).
    """
    centres = np.rint((steps + 0.5) * STEP_SECONDS * RATE / HOP).astype(np.int64)
    first_frame = int(centres[0]) - n_frames // 2
    last_frame = int(centres[-1]) - n_frames // 2 + n_frames
    samples = _resampled(audio, first_frame * HOP - N_FFT // 2, (last_frame - 1) * HOP + N_FFT // 2)
    frames = log_mel_frames(samples)                                  # frame j is frame first_frame + j
    windows = np.lib.stride_tricks.sliding_window_view(frames, n_frames, axis=0)
    return np.ascontiguousarray(windows[centres - n_frames // 2 - first_frame].transpose(0, 2, 1))


def musicnn_windows(source: FilmSource, model: str = "MSD_musicnn", context_seconds: float = CONTEXT_SECONDS,
                    batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Embedding and tag probabilities of the window centred on each step: (n_steps, dim + 50)."""
    from ...media import RollingAudio, iter_audio_steps
    from ...progress import progress

    n_frames = context_frames(context_seconds)
    network = musicnn_network(model, n_frames)
    audio = RollingAudio(iter_audio_steps(source.video, source.n_steps), source.n_steps * SAMPLES_PER_STEP)
    parts = []
    with progress(total=source.n_steps, desc=f"{source.name} {model}", unit="step", leave=False,
                  disable=not source.progress) as bar:
        for first in range(0, source.n_steps, BATCH_STEPS):
            steps = np.arange(first, min(source.n_steps, first + BATCH_STEPS))
            embedding, tags = batched_predict(network, step_patches(audio, steps, n_frames), batch_size)
            parts.append(np.concatenate([embedding, tags], axis=1))
            audio.drop(int((steps[-1] + 0.5) * SAMPLES_PER_STEP - context_seconds * AUDIO_RATE))
            bar.update(len(steps))
    dim = sum(output.shape[-1] for output in network.outputs)
    return as_float32(np.concatenate(parts) if parts else np.zeros((0, dim), np.float32))


def _extractor(name: str, model: str, embedding: str, size: int, context_seconds: float) -> Extractor:
    columns = [f"{embedding}_{i}" for i in range(size)] + [f"tag_{t.replace(' ', '_')}" for t in MSD_TAGS]
    return Extractor(name, "audio", "1", columns,
                     whole_film=lambda source: musicnn_windows(source, model, context_seconds),
                     check=lambda: packaged_folder(DISTRIBUTION, f"musicnn/{model}"),
                     params={"model": model, "weights": f"{DISTRIBUTION} 0.1.0 musicnn/{model}",
                             "context_seconds": context_seconds, "rate": RATE})


@register("musicnn")
def _msd_musicnn(context_seconds: float = CONTEXT_SECONDS) -> Extractor:
    try:
        context_seconds = float(context_seconds)
    except ValueError:
        raise ValueError(f"musicnn context_seconds: expected a number of seconds, got {context_seconds!r}") from None
    if not 1.0 <= context_seconds <= 30.0:
        raise ValueError(f"musicnn context_seconds: expected 1 to 30 seconds, got {context_seconds:g}")
    return _extractor("musicnn", "MSD_musicnn", "penultimate", 200, context_seconds)


@register("musicnn-vgg")
def _msd_vgg() -> Extractor:
    return _extractor("musicnn-vgg", "MSD_vgg", "pool5", 256, CONTEXT_SECONDS)
