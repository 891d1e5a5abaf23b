"""The LSTM layer of :mod:`mediaeval.model`, defined once when this module is imported (it
imports Keras and TensorFlow, so :mod:`mediaeval.model` imports it only to build or load a
network, and the CLI's ``--help`` stays instant).

:class:`ChunkLSTM` takes its state as inputs and returns it, so the state is carried explicitly
(no stateful layer, any batch size).  It computes the input projection of a whole chunk as one
matrix product and scans only the recurrent part, the cost that dominates at 7,168 inputs.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


def _native_bfloat16() -> bool:
    """True where bfloat16 is native (see :mod:`mediaeval.cpu`); elsewhere the projection setting
    ``bfloat16`` rounds its operands to bfloat16 and multiplies in float32 (same precision, no
    speed-up), warned once, because TensorFlow's bfloat16 kernels crash under an AVX2 cap and
    drift on CPUs without bfloat16 instructions."""
    from .cpu import NATIVE, bfloat16_support

    native = bfloat16_support() == NATIVE
    if not native and not _WARNED:
        import warnings

        _WARNED.append(True)
        warnings.warn("projection_dtype = bfloat16: this CPU has no native bfloat16, so it is emulated "
                      "(bfloat16 precision, float32 speed); float32 is as fast and exact here", stacklevel=2)
    return native


_WARNED: list = []



@keras.saving.register_keras_serializable(package="mediaeval")
class ChunkLSTM(keras.layers.Layer):
    """LSTM over a chunk with explicit state: ``(x, h0, c0) -> (h_seq, h_last, c_last)``.

    Gates in the order input, forget, cell, output; the forget bias starts at 1.
    Shapes: x (batch, time, features), h0 and c0 (batch, units).
    """

    def __init__(self, units: int, projection_dtype: str = "float32", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.projection_dtype = projection_dtype

    def build(self, input_shape):
        features = input_shape[0][-1] if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple)) else input_shape[-1]
        self.kernel = self.add_weight(shape=(features, 4 * self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        bias = np.zeros(4 * self.units, np.float32)
        bias[self.units:2 * self.units] = 1.0
        self.bias = self.add_weight(shape=(4 * self.units,), initializer=keras.initializers.Constant(bias),
                                    name="bias")

    def call(self, x, h0, c0):
        if self.projection_dtype == "float32":
            projected = ops.einsum("btd,dg->tbg", x, self.kernel)
        elif _native_bfloat16():  # bfloat16 products, float32 sums and state (AMX / AVX512-BF16 CPUs)
            low = self.projection_dtype
            projected = ops.cast(ops.einsum("btd,dg->tbg", ops.cast(x, low), ops.cast(self.kernel, low)), "float32")
        else:  # emulated: TensorFlow's bfloat16 kernels crash or drift there; the same values in float32
            def rounded(t):
                return ops.cast(ops.cast(t, "bfloat16"), "float32")
            projected = ops.einsum("btd,dg->tbg", rounded(x), rounded(self.kernel))
        projected = projected + self.bias
        recurrent = self.recurrent_kernel

        def step(carry, z):
            h, c = carry
            i, f, g, o = tf.split(z + tf.matmul(h, recurrent), 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        hs, cs = tf.scan(step, projected, initializer=(h0, c0))
        return tf.transpose(hs, (1, 0, 2)), hs[-1], cs[-1]

    def compute_mask(self, inputs, mask=None):
        return None, None, None   # the mask only serves the input normalisation before

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        return (x_shape[0], x_shape[1], self.units), (x_shape[0], self.units), (x_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "projection_dtype": self.projection_dtype}

