#!/usr/bin/env bash
# Wheels for a lent GPU machine (Python 3.12, torch 2.11 + CUDA, numpy, tensorboard, rich, tqdm, pyyaml already
# there; no network): everything else `--sim mjwarp` and `--algo rsl_ppo` import, in folders under .gpu/ of at
# most ~50 MB each, because one device call carries at most 64 MiB with the repo. warp-lang's wheel (~150 MB) is
# split in three parts; scripts/gpu_install.sh joins them there. Run here, in the repo root:
#   bash scripts/gpu_wheels.sh
# then carry .gpu/p1 ... .gpu/p4 one per call (docs/gpu_task_layer.md, step 5).
set -euo pipefail
exclude="$(git rev-parse --git-path info/exclude)"; mkdir -p "$(dirname "$exclude")"
grep -qx "/.gpu/" "$exclude" 2>/dev/null || echo "/.gpu/" >> "$exclude"
rm -rf .gpu && mkdir -p .gpu/dl .gpu/p1 .gpu/p2 .gpu/p3 .gpu/p4
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
for pkg in warp-lang==1.19.0 mujoco-warp==4.0.0 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw pyopengl \
           gymnasium==1.4.0 farama-notifications cloudpickle omegaconf==2.3.0 array-api-compat==1.16.0 \
           rsl-rl-lib==5.5.1 tensordict==0.15.3 pyvers GitPython gitdb smmap; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLAT[@]}" \
    -d .gpu/dl "$pkg"
done
python3 -m pip wheel -q --no-deps antlr4-python3-runtime==4.9.3 -w .gpu/dl   # omegaconf's; an sdist only
split -b 50M .gpu/dl/warp_lang-*.whl .gpu/warp_part_
mv .gpu/warp_part_aa .gpu/p1/ && mv .gpu/warp_part_ab .gpu/p2/ && mv .gpu/warp_part_ac .gpu/p3/
basename .gpu/dl/warp_lang-*.whl > .gpu/p4/warp_wheel_name
rm .gpu/dl/warp_lang-*.whl && mv .gpu/dl/*.whl .gpu/p4/ && rmdir .gpu/dl
du -sh .gpu/p*
