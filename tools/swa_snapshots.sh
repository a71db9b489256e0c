#!/usr/bin/env bash
# Train CONFIG one epoch at a time (train.stop_epoch; each run resumes the last exactly) and keep the
# weights after each epoch as OUT_DIR/snapshot_N.pt, for stochastic weight averaging.
#   tools/swa_snapshots.sh configs/default_model_swa.yaml 6 [KEY=VALUE ...]
set -euo pipefail
config=$1; epochs=$2; shift 2
out_dir=$(.venv/bin/python -c "from posekit.config import load_config; print(load_config('$config').out_dir)")
for epoch in $(seq 1 "$epochs"); do
  if [ -f "$out_dir/snapshot_$epoch.pt" ]; then continue; fi
  .venv/bin/posekit train "$config" "train.stop_epoch=$epoch" "$@"
  cp "$out_dir/last.pt" "$out_dir/snapshot_$epoch.pt"
done
