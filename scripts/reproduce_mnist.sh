#!/usr/bin/env bash
# Train MNIST at the paper's defaults with one seed, evaluate the final model, and (for the figure seed)
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

# The run of this seed, if one exists (its config.json names the seed).
run_dir=$(grep -l "\"seed\": $seed," "$runs_dir"/mnist/*/config.json 2>/dev/null | head -n 1 | xargs -r dirname || true)
if [ -z "$run_dir" ]; then
  python code/train_mnist.py --seed "$seed" --log_dir "$runs_dir" "${data_args[@]}"
  run_dir=$(grep -l "\"seed\": $seed," "$runs_dir"/mnist/*/config.json | head -n 1 | xargs dirname)
elif [ ! -f "$run_dir/checkpoints/iteration-30000.index" ]; then
  python code/train_mnist.py --resume "$run_dir" "${data_args[@]}"
fi

rm -f "$run_dir/evaluation.json"  # rewritten from the final checkpoint
python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --evaluate --json "$run_dir/evaluation.json"

if [ "$figures" = "--figures" ]; then
  python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --output_dir imgs/mnist \
    --sample --reconstruct --generate --misclassified --row_labels --columns 20
fi

python scripts/mnist_results.py "$runs_dir"/mnist/*/ "${data_args[@]}"
