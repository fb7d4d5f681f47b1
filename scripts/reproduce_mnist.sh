#!/usr/bin/env bash
# Train MNIST at the paper's defaults with one seed, evaluate the final model, and (with --figures)
# regenerate imgs/mnist/. Re-running it continues an unfinished run of that seed instead of starting anew.
#
#   scripts/reproduce_mnist.sh SEED [--figures]
#
# Environment: MNIST_DIR (default: ../shared/data/mnist if it exists, else the download cache),
#              RUNS_DIR (default: runs) where the run folders go.
set -euo pipefail
cd "$(dirname "$0")/.."

seed="${1:?usage: scripts/reproduce_mnist.sh SEED [--figures]}"
figures="${2:-}"
runs_dir="${RUNS_DIR:-runs}"
data_args=()
if [ -n "${MNIST_DIR:-}" ]; then
  data_args=(--data_dir "$MNIST_DIR")
elif [ -d ../shared/data/mnist ]; then
  data_args=(--data_dir ../shared/data/mnist)
fi

# The run of this seed at the paper's settings, if one exists (settings read from each run's config.json).
find_run() {
  python - "$runs_dir" "$seed" <<'PY'
import json, sys
from pathlib import Path
sys.path.insert(0, "code")
from bidirectional_infogan import cli
runs_dir, seed = Path(sys.argv[1]), int(sys.argv[2])
paper = {k: v for k, v in cli.COMMON_DEFAULTS.items() if k not in cli.RESUMABLE_FLAGS + ("log_dir", "seed")}
for config in sorted(runs_dir.glob("mnist/*/config.json")):
    flags = json.loads(config.read_text()).get("flags", {})
    if flags.get("seed") == seed and all(flags.get(k, v) == v for k, v in paper.items()):  # absent: default
        print(config.parent)
        break
PY
}

run_dir=$(find_run)
if [ -z "$run_dir" ]; then
  python code/train_mnist.py --seed "$seed" --log_dir "$runs_dir" "${data_args[@]}"
  run_dir=$(find_run)
elif [ ! -f "$run_dir/checkpoints/iteration-30000.index" ]; then
  python code/train_mnist.py --resume "$run_dir" "${data_args[@]}"
fi
echo "run: $run_dir"

rm -f "$run_dir/evaluation.json"  # this script's own output, rewritten from the final checkpoint
python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --evaluate --json "$run_dir/evaluation.json"

if [ "$figures" = "--figures" ]; then
  python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --output_dir imgs/mnist --overwrite \
    --sample --reconstruct --generate --misclassified --row_labels --columns 10
fi

python scripts/mnist_results.py "$runs_dir"/mnist/*/ "${data_args[@]}"
