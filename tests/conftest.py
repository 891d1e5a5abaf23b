"""Shared fixtures: a tiny sample dataset made once per test session, and the real curves."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CURVES = Path(os.environ.get("MEDIAEVAL_SHARED", REPO.parent / "shared")) / "data" / "liris-accede-continuous"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Two development films and one test film of 12-16 s, with test labels."""
    from mediaeval.sample import make_sample

    root = tmp_path_factory.mktemp("tiny") / "data"
    make_sample(root, films=2, test_films=1, durations=(12.0, 16.0), seed=3, jobs=1,
                test_labels=True, progress=False)
    return root


@pytest.fixture(scope="session")
def real_curves():
    """Per-second (valence, arousal) arrays of the real LIRIS-ACCEDE films; skip when absent."""
    import numpy as np

    if not SHARED_CURVES.is_dir():
        pytest.skip(f"real curves not found at {SHARED_CURVES}")
    curves = {}
    for valence_file in sorted(SHARED_CURVES.glob("*_Valence.txt")):
        film = valence_file.name[: -len("_Valence.txt")]
        valence = np.loadtxt(valence_file, skiprows=1)[:, 1]
        arousal = np.loadtxt(SHARED_CURVES / f"{film}_Arousal.txt", skiprows=1)[:, 1]
        n = min(len(valence), len(arousal))
        curves[film] = (valence[:n], arousal[:n])
    return curves
