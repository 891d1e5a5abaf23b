"""mediaeval: the MediaEval 2017 Emotional Impact of Movies toolkit.

Importing it quietens what is known to be harmless, so that a real warning stands out:

- TensorFlow's C++ INFO notices (``TF_CPP_MIN_LOG_LEVEL=1``, unless already set: its warnings
  and errors still show).  A few notices that TensorFlow writes before reading that setting
  (oneDNN, CUDA drivers) cannot be filtered from Python.
- NumPy 2's DeprecationWarning when Keras 3 (``keras.src.backend.tensorflow.core``) converts a
  TensorFlow variable with ``np.array`` (``model.save()``): TensorFlow's ``__array__`` takes
  no ``copy`` argument, so NumPy copies without it, which is what was asked.  Matched by message
  and module only.  pytest resets warning filters for each test, so setup.cfg repeats it.
"""
import os
import warnings

__version__ = "0.1.0"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept a copy keyword",
                        category=DeprecationWarning, module=r"keras\.src\.backend\.tensorflow\.core")
