"""What the CPU computes natively: bfloat16 support, as TensorFlow's oneDNN kernels will see it.

bfloat16 is *native* on x86-64 CPUs with the ``avx512_bf16`` or ``amx_bf16`` instructions
(Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later), unless the environment
variable ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below ``AVX512_CORE_BF16``.  Everywhere else
(Zen 2/3, Skylake to Ice Lake, ARM, a missing ``/proc/cpuinfo``) it is *emulated*: slower
than float32 and less exact.  :func:`bfloat16_support` is pure given its inputs, so that it can
be tested on any machine.
"""
from __future__ import annotations

import os

NATIVE = "native"
EMULATED = "emulated"
BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) that include bfloat16 instructions; any other cap is
# below AVX512_CORE_BF16 (SSE41, AVX, AVX2, AVX2_VNNI, AVX2_VNNI_2, AVX512_CORE, AVX512_CORE_VNNI).
BFLOAT16_ISAS = frozenset({"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX",
                           "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first processor's ``flags`` in ``cpuinfo``; empty when the file is missing (not Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bfloat16_support(flags: frozenset[str] | None = None, max_isa: str | None = None) -> str:
    """:data:`NATIVE` or :data:`EMULATED`.

    ``flags`` default to :func:`cpu_flags`, ``max_isa`` to ``$ONEDNN_MAX_CPU_ISA`` (unset or
    empty: no cap).  Native needs a bfloat16 flag *and* no cap below ``AVX512_CORE_BF16``.
    """
    flags = cpu_flags() if flags is None else flags
    max_isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "") if max_isa is None else max_isa
    capped = bool(max_isa.strip()) and max_isa.strip().upper() not in BFLOAT16_ISAS
    return NATIVE if flags & BFLOAT16_FLAGS and not capped else EMULATED
