#!/usr/bin/env bash
# On the lent GPU machine: keep this call's carried part of the wheels (.gpu/pN from scripts/gpu_wheels.sh) in
# /tmp/gpuw, which outlives the call while the machine stays warm; once all four are there, join warp-lang's
# parts and install everything into /tmp/site. Then: export PYTHONPATH=/tmp/site:$PWD
set -euo pipefail
mkdir -p /tmp/gpuw
for d in .gpu/p1 .gpu/p2 .gpu/p3 .gpu/p4; do [ -d "$d" ] && cp -n "$d"/* /tmp/gpuw/; done
have=$(ls /tmp/gpuw/warp_part_* 2>/dev/null | wc -l)
if [ "$have" -lt 3 ] || [ ! -f /tmp/gpuw/warp_wheel_name ]; then
  echo "wheels so far: $(ls /tmp/gpuw | wc -l) files, $have of 3 warp parts: carry the next .gpu/pN"; exit 0
fi
if [ ! -d /tmp/site/warp ]; then
  cat /tmp/gpuw/warp_part_a? > "/tmp/gpuw/$(cat /tmp/gpuw/warp_wheel_name)"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site /tmp/gpuw/*.whl
fi
PYTHONPATH=/tmp/site python3 -c "import warp, mujoco, mujoco_warp, torch; warp.init(); print('ready:', torch.cuda.get_device_name(0), 'warp', warp.__version__, 'mujoco', mujoco.__version__)"
