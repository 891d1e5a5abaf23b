"""Running a Keras network on batches: one traced function per network, any batch size."""
from __future__ import annotations

import numpy as np


def batched_predict(network, inputs: np.ndarray, batch_size: int) -> np.ndarray | list[np.ndarray]:
    """``network`` on ``inputs`` in batches of ``batch_size``; outputs concatenated along axis 0.

    Runs on a GPU when TensorFlow sees one.  The traced function is cached on the network, so
    the graph is built once per process.
    """
    import tensorflow as tf

    call = getattr(network, "_mediaeval_call", None)
    if call is None:
        spec = tf.TensorSpec((None,) + tuple(network.input_shape[1:]), tf.float32)
        call = tf.function(lambda x: network(x, training=False), input_signature=[spec])
        network._mediaeval_call = call
    outputs = [call(tf.constant(inputs[i:i + batch_size], tf.float32)) for i in range(0, len(inputs), batch_size)]
    if isinstance(outputs[0], (list, tuple)):
        return [np.concatenate([np.asarray(o[k]) for o in outputs]) for k in range(len(outputs[0]))]
    return np.concatenate([np.asarray(o) for o in outputs])
