"""``c3d`` and ``vgg19-audio``: the thesis's feature networks, with weights the user names.

Neither set of weights can be shipped or downloaded here, and random weights make features
that mean nothing, so both extractors refuse to run without ``--weights PATH``.

``c3d`` (visual, 4,096 values per step)
    C3D (Tran et al. 2015) as the thesis's Figure 3.9 and the Keras port commonly distributed
    with its Sports-1M weights (``sports1M_weights_tf.h5``, channels last) define it: eight
    3x3x3 convolutions (conv1, conv2, conv3a/b, conv4a/b, conv5a/b), pool1 1x2x2, pools 2-5
    2x2x2 (pool5 after a zero padding of one row and column), fc6.  The feature is fc6 after
    its ReLU.  Input: the step's 16 frames at 112 x 112, RGB, minus the Sports-1M mean
    (R 101.41, G 97.66, B 90.25).

``vgg19-audio`` (audio, 4,096 values per step)
    VGG19's 16 convolutions (Keras names ``block1_conv1`` ... ``block5_conv4``) on the step's
    98 x 64 log-mel patch (exactly the ``log-mel`` extractor's, on the UPC thesis's step grid
    of 16/30 s), then ``fc1`` and ``fc2`` (4,096 each, ReLU); the feature is fc2.  A first convolution with 3
    input channels (a network fine-tuned from ImageNet) gets the patch on all three.

Weights files: Keras HDF5 weights saved by name (``model.save_weights("x.h5")`` in Keras 2,
one group per layer, as ``sports1M_weights_tf.h5`` is), or a Keras 3 ``.weights.h5`` saved
from :func:`c3d_network` / :func:`vgg19_audio_network`.  Layers not used (fc7, fc8,
classifiers) are ignored; a missing layer or a shape that differs is an error naming both.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..registry import Extractor, as_float32, register
from .runtime import batched_predict
from .weights import MissingWeights, sha256

C3D_MEAN_RGB = (101.41, 97.66, 90.25)
C3D_LAYERS = [("conv1", 64), ("pool1", (1, 2, 2)), ("conv2", 128), ("pool2", (2, 2, 2)),
              ("conv3a", 256), ("conv3b", 256), ("pool3", (2, 2, 2)), ("conv4a", 512), ("conv4b", 512),
              ("pool4", (2, 2, 2)), ("conv5a", 512), ("conv5b", 512), ("pool5", (2, 2, 2))]
VGG19_BLOCKS = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]
FC_UNITS = 4096
BATCH_SIZE = 8


def _units(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def c3d_network(width: float = 1.0):
    """C3D up to fc6: (n, 16, 112, 112, 3) mean-subtracted RGB -> (n, 4096).

    ``width`` scales every layer (tests use small networks; 1 is the thesis's network).
    """
    import keras

    inputs = keras.Input((16, 112, 112, 3), name="clips")
    x = inputs
    for name, arg in C3D_LAYERS:
        if name.startswith("conv"):
            x = keras.layers.Conv3D(_units(arg, width), 3, padding="same", activation="relu", name=name)(x)
        else:
            if name == "pool5":
                x = keras.layers.ZeroPadding3D(((0, 0), (0, 1), (0, 1)), name="zeropad5")(x)
            x = keras.layers.MaxPooling3D(arg, strides=arg, padding="valid", name=name)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(_units(FC_UNITS, width), activation="relu", name="fc6")(x)
    return keras.Model(inputs, x, name="c3d")


def vgg19_audio_network(width: float = 1.0, channels: int = 1):
    """VGG19 on log-mel patches up to fc2: (n, 98, 64) -> (n, 4096)."""
    import keras

    inputs = keras.Input((98, 64), name="log_mel")
    x = keras.ops.repeat(keras.ops.expand_dims(inputs, 3), channels, axis=3)
    for block, (filters, convs) in enumerate(VGG19_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(_units(filters, width), 3, padding="same", activation="relu",
                                    name=f"block{block}_conv{conv}")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(_units(FC_UNITS, width), activation="relu", name="fc1")(x)
    x = keras.layers.Dense(_units(FC_UNITS, width), activation="relu", name="fc2")(x)
    return keras.Model(inputs, x, name="vgg19_audio")


@contextmanager
def _h5_layers(path: Path):
    """Weights by layer name in a Keras 2 HDF5 weights (or whole-model) file, as h5py datasets:
    their shapes cost no reading, and only the layers used are read."""
    import h5py

    with h5py.File(path, "r") as h5:
        root = h5["model_weights"] if "model_weights" in h5 else h5
        names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs.get("layer_names", [])]
        layers = {}
        for name in names or list(root):
            group = root[name]
            weight_names = [w.decode() if isinstance(w, bytes) else w for w in group.attrs.get("weight_names", [])]
            if weight_names:
                layers[name] = [group[w] for w in weight_names]
        yield layers


def load_weights_by_name(model, path, what: str) -> None:
    """Set every weighted layer of ``model`` from the file ``path`` (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeights(f"{what}: weights file {path} does not exist")
    if path.name.endswith(".weights.h5") or path.suffix == ".keras":
        try:
            model.load_weights(path)
        except Exception as error:  # Keras raises ValueError or KeyError, with its own wording
            raise DataError(path, f"not {what} weights saved from mediaeval's architecture: {error}") from None
        return
    try:
        with _h5_layers(path) as layers:
            _set_by_name(model, layers, path, what)
    except OSError as error:
        raise DataError(path, f"not an HDF5 weights file ({error})") from None


def _set_by_name(model, layers: dict, path: Path, what: str) -> None:
    for layer in model.layers:
        expected = [tuple(w.shape) for w in layer.weights]
        if not expected:
            continue
        if layer.name not in layers:
            raise DataError(path, f"no layer {layer.name!r}, which {what} needs; the file has: "
                                  f"{', '.join(sorted(layers)) or 'no weighted layers'}")
        found = [tuple(w.shape) for w in layers[layer.name]]
        if found != expected:
            raise DataError(path, f"layer {layer.name!r} holds weights of shapes {found}, {what} expects {expected}")
        layer.set_weights([np.asarray(w, np.float32) for w in layers[layer.name]])


def _first_kernel_channels(path: Path) -> int:
    """Input channels of block1_conv1 in a weights file (1, or 3 for an ImageNet start)."""
    try:
        with _h5_layers(path) as layers:
            kernel = layers.get("block1_conv1")
            return int(kernel[0].shape[2]) if kernel else 1
    except OSError:
        return 1


def _loaded(kind: str, path: str):
    """The network with the weights of ``path``, built once per file content and process."""
    return _loaded_by_hash(kind, path, sha256(path))


@cache
def _loaded_by_hash(kind: str, path: str, digest: str):
    if kind == "c3d":
        model = c3d_network()
    else:
        model = vgg19_audio_network(channels=_first_kernel_channels(Path(path)))
    load_weights_by_name(model, path, kind)
    return model


def c3d_features(clips: np.ndarray, weights) -> np.ndarray:
    """fc6 of C3D for uint8 RGB clips (n, 16, 112, 112, 3): (n, 4096)."""
    centred = clips.astype(np.float32) - np.asarray(C3D_MEAN_RGB, np.float32)
    return as_float32(batched_predict(_loaded("c3d", str(weights)), centred, BATCH_SIZE))


def vgg19_audio_features(samples: np.ndarray, weights) -> np.ndarray:
    """fc2 of the VGG19 audio network for steps of 23,520 samples: (n, 4096)."""
    from ..audio import log_mel, power_spectra

    patches = log_mel(power_spectra(samples))
    return as_float32(batched_predict(_loaded("vgg19-audio", str(weights)), patches, BATCH_SIZE))


def _refuse_without(name: str, weights):
    def check():
        if weights is None:
            raise MissingWeights(
                f"{name} needs weights: give them with --weights {name}=PATH (mediaeval extract). "
                f"No weights ship with mediaeval, and features of a network with random weights mean "
                f"nothing, so {name} never runs without them.")
        if not Path(weights).is_file():
            raise MissingWeights(f"{name}: weights file {weights} does not exist")
    return check


def _weights_params(weights) -> dict:
    if weights is None or not Path(weights).is_file():
        return {"weights": None}
    return {"weights": Path(weights).name, "weights_sha256": sha256(weights)}


@register("c3d")
def _c3d(weights: str | None = None) -> Extractor:
    return Extractor("c3d", "visual", "1", [f"fc6_{i}" for i in range(FC_UNITS)],
                     process=lambda state, block: c3d_features(block.frames, weights),
                     check=_refuse_without("c3d", weights),
                     params={**_weights_params(weights), "mean_rgb": list(C3D_MEAN_RGB), "layer": "fc6"})


@register("vgg19-audio")
def _vgg19_audio(weights: str | None = None) -> Extractor:
    return Extractor("vgg19-audio", "audio", "1", [f"fc2_{i}" for i in range(FC_UNITS)],
                     process=lambda state, block: vgg19_audio_features(block.audio, weights),
                     check=_refuse_without("vgg19-audio", weights),
                     params={**_weights_params(weights), "input": "log-mel patch 98 x 64", "layer": "fc2"})
