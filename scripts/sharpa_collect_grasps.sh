#!/usr/bin/env bash
# Collect Sharpa Wave grasp caches, one per object scale, one after another.
#
#   bash scripts/sharpa_collect_grasps.sh 0.8 1.0 1.2
#   bash scripts/sharpa_collect_grasps.sh -n 20000 -o caches/my_sharpa_grasp_cache 0.8 1.0 1.2
#
# Options: -n grasps per scale (default 5000), -o output prefix (files <prefix>_<scale>.npy; default
# the local cache folder, where SharpaInhandRotation-v0 looks), -e parallel envs (default 256).
# An interrupted collection resumes from its <file>.partial/ chunks when run again.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

num=5000
envs=256
out=()
while getopts "n:o:e:h" opt; do
  case "$opt" in
    n) num="$OPTARG" ;;
    o) out=(--out "$OPTARG") ;;
    e) envs="$OPTARG" ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ "$#" -eq 0 ]; then
  echo "error: give at least one object scale, e.g. bash $0 0.8 1.0 1.2" >&2
  exit 2
fi

exec "${PYTHON:-python}" -m unilab_envs.collect_grasps --hand sharpa --num-grasps "$num" --num-envs "$envs" \
  "${out[@]}" --scale "$@"
