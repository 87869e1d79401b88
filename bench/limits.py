"""The machine's limits, measured by fastnn's native probe: peak fp32 FMA, peak bf16 dot products and DRAM bandwidth."""
from __future__ import annotations


def measure(threads: int, quick: bool) -> dict:
    from fastnn import _C

    peaks = {isa: _C.probe_peak_gflops_f32(isa, threads, 3 if quick else 5) for isa in _C.isa_levels()}
    # The bf16 rows' limit: dot-product throughput of each bf16 level with an instruction for it.
    bf16 = {isa: _C.probe_peak_gflops_bf16(isa, threads, 3 if quick else 5)
            for isa in _C.bf16_isa_levels() if isa != "generic"}
    caches = _C.cache_info()
    # Arrays well beyond the last-level cache (capped so the probe stays quick on huge-L3 VMs).
    n = int(min(max(4 * caches["l3"], 1 << 27), 1 << 30) // 4)
    if quick:
        n = min(n, 1 << 26)
    bw = _C.probe_memory_bandwidth(n, threads, 3 if quick else 5)
    return {"peak_gflops": peaks, "peak_gflops_bf16": bf16, "bf16_isa": _C.bf16_isa_active(),
            "copy_gbs": bw["copy_gbs"], "triad_gbs": bw["triad_gbs"],
            "array_mib": n * 4 / 2**20}
