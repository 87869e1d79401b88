#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (issue 13), well inside a 10-minute call:
#   1. build fastnn with CUDA for the GPU present (in place, no pip: the machine has no network)
#   2. the CUDA test suite for real (FASTNN_CUDA=auto: CuPy arrays, fastnn._C.cuda kernels)
#   3. compute-sanitizer memcheck and racecheck over the CUDA kernel tests
#   4. the GPU bench rows as JSON
# Everything lands in $OUT (the device tool's folder) or ./gpu_out. The image's python3 holds torch, CuPy,
# pybind11, CMake and ninja (see the device tool's KINDS.md).
set -uo pipefail
out="${OUT:-$PWD/gpu_out}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 FASTNN_CUDA=auto
py=python3
status=0
step() { echo "== $1 ($(date +%T))"; }

step "build (CUDA: sm_80 and sm_90 SASS, sm_90a where wgmma is used, sm_90 PTX)"
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTNN_CUDA=ON \
  -Dpybind11_DIR="$($py -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v $py)" > "$out/build.log" 2>&1 &&
  ninja -C build/gpu -j16 _C _emu >> "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
cp build/gpu/_C*.so build/gpu/_emu*.so python/fastnn/
export PYTHONPATH="$PWD/python:$PWD/tests"
$py -c "import fastnn; c = fastnn.config(); print(c['cuda_build'], '| available:', c['cuda_available'], '|', fastnn.cuda.get_device_name(0))"

step "CUDA tests (pytest -m cuda, on the GPU)"
$py -m pytest -q -p no:cacheprovider -m cuda -x tests 2>&1 | tee "$out/pytest_cuda.log" | tail -25 || status=1

step "compute-sanitizer memcheck + racecheck on the kernel tests"
for tool in memcheck racecheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 20 \
    $py -m pytest -q -p no:cacheprovider -m cuda -k "cuda and not emu" tests/test_cuda_kernels_*.py \
    > "$out/sanitizer_$tool.log" 2>&1
  rc=$?
  echo "   $tool: exit $rc ($(grep -c '=========' "$out/sanitizer_$tool.log") sanitizer lines)"
  [ $rc -eq 0 ] || status=1
done

step "GPU bench rows"
$py bench/gpu.py --quick --json "$out/gpu_bench.json" 2>&1 | tee "$out/gpu_bench.txt" || status=1
exit $status
