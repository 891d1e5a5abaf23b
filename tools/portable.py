"""The CPU features of a plain AVX2 machine (an AMD Zen 3, say), forced on this one: `make test-portable`.

    python tools/portable.py names   # the AVX-512 targets of the installed NumPy's dispatch that
                                     # this CPU has: the value of NPY_DISABLE_CPU_FEATURES
    python tools/portable.py check   # exit 1, saying what, unless this environment really runs
                                     # NumPy, OpenBLAS and oneDNN as on an AVX2 machine

The environment `make test-portable` sets: NPY_DISABLE_CPU_FEATURES (those names: NumPy's
AVX-512 loops off), OPENBLAS_CORETYPE=Haswell (the AVX2 kernels of NumPy's and SciPy's OpenBLAS,
the ones it picks on a Zen too), ONEDNN_MAX_CPU_ISA=AVX2 (TensorFlow's oneDNN kernels).  A name
NumPy does not know, or a variable it reads no more, would be ignored without a word: `check`
asks each library what it runs.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

OPENBLAS_CORE = "Haswell"
ONEDNN_ISA = "AVX2"
# A oneDNN primitive run with ONEDNN_VERBOSE=1 prints the instruction set it dispatches to.
ONEDNN_PROBE = """
import tensorflow as tf
x = tf.random.normal((1, 8, 8, 3))
tf.nn.conv2d(x, tf.random.normal((3, 3, 3, 4)), 1, "SAME").numpy()
y = tf.random.normal((64, 64))
tf.linalg.matmul(y, y).numpy()
"""


def is_avx512(name: str) -> bool:
    """An AVX-512 target of NumPy's dispatch: ``X86_V4`` (NumPy 2.4 on: the x86-64-v4 level,
    AVX512F/CD/VL/BW/DQ) or an ``AVX512*`` group (``AVX512_SKX``, ``AVX512_ICL``, ...).

    >>> [n for n in ["X86_V3", "X86_V4", "AVX512_ICL", "AVX512F", "AVX2"] if is_avx512(n)]
    ['X86_V4', 'AVX512_ICL', 'AVX512F']
    """
    return name == "X86_V4" or name.startswith("AVX512")


def avx512_names() -> list[str]:
    """The AVX-512 targets NumPy dispatches to that this CPU has (NumPy warns about a name it
    cannot disable: one it was not built to dispatch to, or one the CPU lacks)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [n for n in __cpu_dispatch__ if is_avx512(n) and __cpu_features__.get(n)]


def numpy_problems() -> list[str]:
    """What NumPy still runs with AVX-512: a target reported enabled, a function dispatched to one."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    from numpy.lib.introspect import opt_func_info

    problems = [f"NumPy reports its AVX-512 target {n} enabled" for n in __cpu_dispatch__
                if is_avx512(n) and __cpu_features__.get(n)]
    used = sorted({target["current"] for signatures in opt_func_info().values()
                   for target in signatures.values() if is_avx512(target["current"])})
    if used:
        problems.append(f"NumPy functions dispatch to {', '.join(used)}")
    return problems


def openblas_problems() -> tuple[list[str], int]:
    """The OpenBLAS libraries NumPy and SciPy load that run other kernels than Haswell's; and
    how many were looked at."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    found = [i for i in threadpool_info() if i["internal_api"] == "openblas"]
    return ([f"OpenBLAS {i['filepath']} runs {i.get('architecture')} kernels, not {OPENBLAS_CORE}'s"
             for i in found if (i.get("architecture") or "").lower() != OPENBLAS_CORE.lower()], len(found))


def onednn_isa() -> str | None:
    """The instruction set TensorFlow's oneDNN dispatches to in this environment (a process of
    its own, ONEDNN_VERBOSE=1), or None when it runs no oneDNN primitive."""
    done = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], capture_output=True, text=True,
                          env={**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"portable: TensorFlow failed:\n{done.stderr[-2000:]}")
    for line in (done.stdout + done.stderr).splitlines():
        if ",info,cpu,isa:" in line:
            return line.split(",info,cpu,isa:", 1)[1].strip()
    return None


def check() -> int:
    problems = numpy_problems()
    blas, n_blas = openblas_problems()
    problems += blas
    isa = onednn_isa()
    if isa is not None and any(word in isa for word in ("512", "AMX", "AVX10")):
        problems.append(f"TensorFlow's oneDNN runs {isa} (ONEDNN_MAX_CPU_ISA={ONEDNN_ISA} expected)")
    if problems:
        print("portable: this environment does not run as an AVX2 machine would:\n  " + "\n  ".join(problems),
              file=sys.stderr)
        return 1
    print(f"portable: NumPy without AVX-512 (disabled: {os.environ.get('NPY_DISABLE_CPU_FEATURES') or 'none'}), "
          f"{n_blas} OpenBLAS on {OPENBLAS_CORE} kernels, oneDNN on "
          f"{isa if isa is not None else 'nothing (TensorFlow ran no oneDNN primitive)'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("names", "check"))
    args = parser.parse_args(argv)
    if args.what == "names":
        print(" ".join(avx512_names()))
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
