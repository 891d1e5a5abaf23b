"""``egemaps`` (mediaeval/features/opensmile_features.py): windows centred on the steps, and the
same values after TensorFlow in one process."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from films import write_film
from mediaeval.features.extract import ExtractionOptions, extract_film


def needs(module: str) -> None:
    """Skip unless ``module`` is installed, without importing it (``import opensmile`` after
    TensorFlow, not through the extractor, would load its library with the wrong bindings)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def test_egemaps_windows_are_centred_on_the_steps(tmp_path):
    needs("opensmile")
    video = write_film(tmp_path / "Film.mp4", 8.0, loud_after=4.0)
    features = extract_film(video, ExtractionOptions(("egemaps",)))
    n = len(features.values)
    assert features.values.shape == (n, 88) and n == 15
    assert np.isfinite(features.values).all()
    loudness = features.values[:, features.columns.index("egemaps/loudness_sma3_amean")]
    # window of step i: centre (i + 0.5) * 16/30, 3 s wide; silent if it ends before 4 s
    ends = (np.arange(n) + 0.5) * 16 / 30 + 1.5
    starts = ends - 3
    assert loudness[ends < 3.95].max() < 0.05
    assert loudness[(starts > 4.05) & (ends < 8)].min() > 0.5


EGEMAPS_OF_A_TONE = """
import sys
import numpy as np
if sys.argv[1] == "tensorflow":
    import tensorflow
from mediaeval.features.opensmile_features import _smile
tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * 16_000) / 16_000)).astype(np.float32)
sys.stdout.write(_smile(3.0).process_signal(tone, 16_000).to_numpy().tobytes().hex())
"""


@pytest.mark.slow
def test_egemaps_after_tensorflow_in_the_same_process():
    """TensorFlow's library, loaded with RTLD_GLOBAL, exports a double-precision FFT of the same
    names as openSMILE's single-precision one; openSMILE loaded after it called TensorFlow's and
    corrupted the heap (abort).  The same values as in a process without TensorFlow."""
    needs("opensmile")
    needs("tensorflow")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, "-c", EGEMAPS_OF_A_TONE, first], capture_output=True, text=True,
                           env=env) for first in ("tensorflow", "nothing")]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr[-2000:]
    assert len(runs[0].stdout) == 2 * 4 * 88 and runs[0].stdout == runs[1].stdout
