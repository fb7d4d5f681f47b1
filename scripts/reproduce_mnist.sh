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
find_run() { python scripts/find_paper_run.py "$runs_dir" "$seed"; }

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

# The results table of every paper-settings run evaluated so far (all seeds).
mapfile -t paper_runs < <(python scripts/find_paper_run.py "$runs_dir")
python scripts/mnist_results.py "${paper_runs[@]}" "${data_args[@]}"
