#!/usr/bin/env bash
# Train SVHN or CelebA at the paper's table-2 defaults on a proxy made of real MNIST digits with known
# factors (scripts/investigations/make_proxy_data.py), then score every checkpoint against those factors. Re-running it
# continues the unfinished run instead of starting anew.
#
#   scripts/investigations/reproduce_proxy.sh svhn|celeba
#
# Environment:
#   MNIST_DIR (default: ../shared/data/mnist if it exists, else the download cache) the digits,
#   PROXY_DIR (default: proxy in the checkout) where the proxy data sets are written once,
#   RUNS_DIR (default: runs in the checkout) where the run folders go (under RUNS_DIR/<dataset>_proxy),
#   OUTPUT_ROOT (default: the checkout) where results/<dataset>_proxy.json goes,
#   ITERATIONS (default: 20000 for svhn, 10000 for celeba) where training stops (--stop_after: the learning
#     rates still decay over the paper's 300,000 / 500,000 iterations, so the run can be continued),
#   TRAIN_FLAGS (default: "--checkpoint_every 1000 --keep_checkpoints 40 --log_every 1000") loop settings only.
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi
if [ $# -ne 1 ] || { [ "$1" != "svhn" ] && [ "$1" != "celeba" ]; }; then
  echo "usage: scripts/investigations/reproduce_proxy.sh svhn|celeba   (see --help)" >&2
  exit 2
fi
dataset="$1"
default_iterations=$([ "$dataset" = "svhn" ] && echo 20000 || echo 10000)
iterations="${ITERATIONS:-$default_iterations}"
if ! [[ "$iterations" =~ ^[1-9][0-9]*$ ]]; then
  echo "reproduce_proxy.sh: ITERATIONS must be a positive integer, got '$iterations'" >&2
  exit 2
fi
# Paths given in the environment are relative to where the script was called from; the defaults to the checkout.
runs_dir=$(realpath -m "${RUNS_DIR:-$(dirname "$0")/../../runs}")/${dataset}_proxy
proxy_dir=$(realpath -m "${PROXY_DIR:-$(dirname "$0")/../../proxy}")
output_root=$(realpath -m "${OUTPUT_ROOT:-$(dirname "$0")/../..}")
mnist_dir=$( [ -n "${MNIST_DIR:-}" ] && realpath -m "$MNIST_DIR" || true)
cd "$(dirname "$0")/../.."
if [ -z "$mnist_dir" ]; then
  if [ -d ../shared/data/mnist ]; then
    mnist_dir=$(realpath ../shared/data/mnist)
  else
    mnist_dir=$(python -c 'from bidirectional_infogan.data.mnist import default_cache_dir, ensure_downloaded
ensure_downloaded(default_cache_dir()); print(default_cache_dir())')
  fi
fi

read -r -a train_flags <<< "${TRAIN_FLAGS:---checkpoint_every 1000 --keep_checkpoints 40 --log_every 1000}"
# Refuse a TRAIN_FLAGS that changes training before hours of training, not after.
python -c '
import sys
from bidirectional_infogan.train.cli import LOOP_FLAGS
allowed = [f for f in LOOP_FLAGS if f != "stop_after"]  # ITERATIONS sets --stop_after
bad = [a for a in sys.argv[1:] if a.startswith("--") and a[2:].split("=")[0] not in allowed]
if bad:
    sys.exit("reproduce_proxy.sh: TRAIN_FLAGS may hold " + ", ".join("--" + f for f in allowed)
             + " only (ITERATIONS sets --stop_after), not " + " ".join(bad))
' "${train_flags[@]}" || exit 2

if [ ! -d "$proxy_dir/$dataset" ]; then
  python scripts/investigations/make_proxy_data.py --mnist_dir "$mnist_dir" --out "$proxy_dir" --datasets "$dataset"
fi

find_run() { DATASET="$dataset" python scripts/mnist/find_paper_run.py "$runs_dir" | head -n 1; }
run_dir=$(find_run)
if [ -z "$run_dir" ]; then
  python "code/train_$dataset.py" --data_dir "$proxy_dir/$dataset" --log_dir "$runs_dir" --stop_after "$iterations" \
    "${train_flags[@]}"
  run_dir=$(find_run)
else
  reached=$(python -c 'import sys
from bidirectional_infogan.runs.run_folder import list_checkpoints
print(max(list_checkpoints(sys.argv[1]), default=0))' "$run_dir")
  if [ "$reached" -lt "$iterations" ]; then
    python "code/train_$dataset.py" --resume "$run_dir" --stop_after "$iterations" "${train_flags[@]}"
  fi
fi
echo "run: $run_dir"

mkdir -p "$output_root/results"
# this script's own output, rewritten from every checkpoint each time
python scripts/investigations/score_proxy.py "$run_dir" --json "$output_root/results/${dataset}_proxy.json" --overwrite
if [ "$dataset" = "celeba" ]; then
  # the attribute table: how well each variable predicts each attribute column (digit, background, random)
  rm -f "$output_root/results/celeba_proxy_attributes.json"  # this script's own output (evaluate_model.py never overwrites)
  python evaluate_model.py --model_dir "$run_dir" --evaluate --json "$output_root/results/celeba_proxy_attributes.json"
fi
