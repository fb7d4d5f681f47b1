#!/usr/bin/env bash
# Train MNIST at the paper's defaults with one seed, evaluate the final model, and (with --figures)
# regenerate imgs/mnist/. Re-running it continues an unfinished run of that seed instead of starting anew.
# With --recipe NAME, the same for a recipe of train_mnist.py (reliable: the reliable mode), whose runs go to
# results/mnist_NAME.json instead of results/mnist.json, with E's test categories in results/mnist_NAME/.
#
#   scripts/mnist/reproduce_mnist.sh SEED [--figures | --recipe NAME]
#
# Environment:
#   MNIST_DIR (default: ../shared/data/mnist if it exists, else the download cache) where MNIST is,
#   RUNS_DIR (default: runs in the checkout) where the run folders go,
#   OUTPUT_ROOT (default: the checkout) where imgs/mnist/ and results/mnist.json go,
#   TRAIN_FLAGS (default: none) loop settings for train_mnist.py, which do not change the weights,
#     e.g. "--checkpoint_every 1000 --keep_checkpoints 40 --log_every 1000" for a checkpoint (and
#     a trajectory point) every 1,000 iterations.
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi
usage_line="usage: scripts/mnist/reproduce_mnist.sh SEED [--figures | --recipe NAME]   (see --help)"
if [ $# -lt 1 ] || [ $# -gt 3 ] || ! [[ "$1" =~ ^[0-9]+$ ]] \
    || { [ $# -eq 2 ] && [ "$2" != "--figures" ]; } || { [ $# -eq 3 ] && [ "$2" != "--recipe" ]; }; then
  echo "$usage_line" >&2
  exit 2
fi
seed="$1"
figures=$([ "${2:-}" = "--figures" ] && echo "--figures" || true)
recipe="${3:-paper}"
if ! python -c 'import sys; from bidirectional_infogan.datasets import DATASETS
sys.exit(sys.argv[1] not in DATASETS["mnist"].recipes)' "$recipe"; then
  echo "reproduce_mnist.sh: '$recipe' is not a recipe of train_mnist.py; its recipes: $(python -c \
    'from bidirectional_infogan.datasets import DATASETS; print(", ".join(DATASETS["mnist"].recipes))')" >&2
  exit 2
fi
mode_flags=()
results_name=mnist
if [ "$recipe" != paper ]; then
  mode_flags=(--recipe "$recipe")
  results_name="mnist_$recipe"
fi
export EXTRA_FLAGS="${mode_flags[*]:-}"  # find_paper_run.py then looks for runs with the recipe's values
# Paths given in the environment are relative to where the script was called from; the defaults to the checkout.
runs_dir=$(realpath -m "${RUNS_DIR:-$(dirname "$0")/../../runs}")
output_root=$(realpath -m "${OUTPUT_ROOT:-$(dirname "$0")/../..}")
mnist_dir=$( [ -n "${MNIST_DIR:-}" ] && realpath -m "$MNIST_DIR" || true)
cd "$(dirname "$0")/../.."

data_args=()
if [ -n "$mnist_dir" ]; then
  data_args=(--data_dir "$mnist_dir")
elif [ -d ../shared/data/mnist ]; then
  data_args=(--data_dir ../shared/data/mnist)
fi

# The run of this seed at the paper's settings (and the mode's flags), if one exists (from each config.json).
find_run() { python scripts/mnist/find_paper_run.py "$runs_dir" "$seed"; }

read -r -a train_flags <<< "${TRAIN_FLAGS:-}"
# Refuse a TRAIN_FLAGS that changes training before hours of training, not after.
python -c '
import sys
from bidirectional_infogan.train.cli import LOOP_FLAGS
bad = [a for a in sys.argv[1:] if a.startswith("--") and a[2:].split("=")[0] not in LOOP_FLAGS]
if bad:
    sys.exit("reproduce_mnist.sh: TRAIN_FLAGS may hold loop settings only (" + ", ".join("--" + f for f in LOOP_FLAGS)
             + "), not " + " ".join(bad))
' "${train_flags[@]}" || exit 2
run_dir=$(find_run)
if [ -z "$run_dir" ]; then
  python code/train_mnist.py --seed "$seed" --log_dir "$runs_dir" "${mode_flags[@]}" "${data_args[@]}" \
    "${train_flags[@]}"
  run_dir=$(find_run)
  if [ -z "$run_dir" ]; then
    echo "reproduce_mnist.sh: the new run is not at the paper's settings; TRAIN_FLAGS may hold loop settings only" >&2
    exit 2
  fi
elif [ ! -f "$run_dir/checkpoints/iteration-$(python -c 'import sys
from bidirectional_infogan.runs.run_folder import load_run_config
print(load_run_config(sys.argv[1]).train.max_iter)' "$run_dir").index" ]; then
  python code/train_mnist.py --resume "$run_dir" "${data_args[@]}" "${train_flags[@]}"
fi
echo "run: $run_dir"

rm -f "$run_dir/evaluation.json"  # this script's own output, rewritten from the final checkpoint
python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --evaluate --json "$run_dir/evaluation.json"

if [ "$figures" = "--figures" ]; then
  python evaluate_model.py --model_dir "$run_dir" "${data_args[@]}" --output_dir "$output_root/imgs/mnist" --overwrite \
    --sample --reconstruct --generate --misclassified --row_labels --columns 10
fi

# The results table of every run of this mode evaluated so far (all seeds).
mapfile -t paper_runs < <(python scripts/mnist/find_paper_run.py "$runs_dir")
python scripts/mnist/mnist_results.py "${paper_runs[@]}" "${data_args[@]}" --output "$output_root/results/$results_name.json"
