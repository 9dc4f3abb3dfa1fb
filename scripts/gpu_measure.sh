#!/usr/bin/env bash
# On the lent GPU machine, after scripts/gpu_install.sh printed `ready:` (docs/gpu_task_layer.md, step 5): one call
# that first runs the MuJoCo Warp tests on the GPU (the CUDA path, graph capture and torch/Warp stream order,
# has never run elsewhere), then the throughput benchmark. Everything it writes lands in $OUT (at most 8 files):
#   bash scripts/gpu_measure.sh            # the run tool's timeout_s: 600
set -uo pipefail
out="${OUT:-/tmp/gpu_out}"; mkdir -p "$out"
export PYTHONPATH="/tmp/site:$PWD" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 UNILAB_TEST_WARP_DEVICE=cuda
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
# the contract (the backend picks the GPU itself), parity with mujoco.batch, advance, the task layer on the device
timeout 240 python3 -m pytest -q -p no:cacheprovider -x tests/test_mjwarp.py tests/test_device_task_layer.py \
  tests/test_backend_contract.py 2>&1 | tee "$out/gpu_tests.log"
echo "tests rc=${PIPESTATUS[0]}" | tee -a "$out/gpu_tests.log"
# 1k-64k worlds, both hands, zero and random actions; then the host-copy path at 16k for comparison
timeout 270 python3 benchmarks/gpu_throughput.py --device cuda:0 --seconds 5 --out "$out/gpu_throughput.json" 2>&1 \
  | tee "$out/gpu_throughput.log"
timeout 60 python3 benchmarks/gpu_throughput.py --device cuda:0 --seconds 3 --env-ids AllegroInhandRotation-v0 \
  --num-envs 16384 --actions random --arrays numpy --out "$out/gpu_throughput_numpy.json" 2>&1 \
  | tee -a "$out/gpu_throughput.log"
