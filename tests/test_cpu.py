"""What the CPU computes natively (mediaeval/cpu.py): bfloat16 support from the CPU flags and oneDNN's cap."""


def test_bfloat16_support_follows_cpu_flags_and_onednn_cap(tmp_path, monkeypatch):
    from mediaeval.cpu import EMULATED, NATIVE, bfloat16_support, cpu_flags

    zen3 = frozenset({"avx2", "fma"})
    sapphire_rapids = frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"})
    assert bfloat16_support(zen3, "") == EMULATED
    assert bfloat16_support(frozenset({"avx512f", "avx512bw"}), "") == EMULATED  # Skylake-X
    assert bfloat16_support(sapphire_rapids, "") == NATIVE
    assert bfloat16_support(frozenset({"amx_bf16"}), "") == NATIVE
    for cap in ("AVX2", "avx512_core", "AVX512_CORE_VNNI", "SSE41"):
        assert bfloat16_support(sapphire_rapids, cap) == EMULATED, cap
    for cap in ("AVX512_CORE_BF16", "avx512_core_amx", "ALL"):
        assert bfloat16_support(sapphire_rapids, cap) == NATIVE, cap
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert bfloat16_support() == EMULATED  # whatever this CPU has
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()
