#!/usr/bin/env bash
# Kill a training run with SIGKILL at random moments, resume it each time, and check that it ends with exactly
# the weights of an uninterrupted run (every tensor of the final checkpoints, bitwise). See --help.
set -u

usage() {
    cat <<'EOF'
usage: scripts/run_tools/chaos_resume.sh [--kills N] [--seed S] [--max_iter M] [--dataset mnist|svhn] [--out DIR]
                               [--min_delay SEC] [--max_delay SEC | --at_checkpoints] [-- extra training flags]

Trains the same run twice in DIR (default: a new temporary folder, kept): reference/, uninterrupted, and
killed/, killed with SIGKILL (kill -9) N times, each time SEC seconds after its process started, drawn uniformly
from [min_delay, max_delay] by a numpy Generator seeded with S, and resumed each time with
`code/train_<dataset>.py --resume RUN_FOLDER` (a folder killed before its first checkpoint cannot be resumed:
then a new run is started, as a user would). The last session runs to the end. Then
scripts/run_tools/compare_checkpoints.py compares the two final checkpoints.

  --kills N         SIGKILLs (default 5)
  --seed S          seed of the kill delays (default: drawn from the clock, printed)
  --max_iter M      training iterations (default 12)
  --dataset D       mnist or svhn (default mnist)
  --out DIR         where the runs and logs go (default: mktemp -d)
  --min_delay SEC   shortest delay between a (re)start and its kill (default 2)
  --max_delay SEC   longest delay (default 60; a run on this 2-core machine needs ~20-40 s to start training)
  --at_checkpoints  instead of after a delay, kill each session as soon as it has saved a checkpoint before the
                    last iteration: every kill certainly happens (needs max_iter > kills x --checkpoint_every)
  -- FLAGS          more flags for both runs, after the defaults (--batch_size 8 --checkpoint_every 3
                    --log_every 6 --scalars_every 1 --validation_size 100; a later flag wins), e.g.
                    -- --data_dir /data/svhn --consistency_weight 1 --d_r1 0.1. MNIST is read from $MNIST_DIR
                    when set and no --data_dir is given.

Exit status: 0 the final checkpoints are equal; 1 they differ; 2 bad arguments or a run failed.
EOF
}

die() { echo "chaos_resume.sh: error: $*" >&2; exit 2; }

kills=5 seed="" max_iter=12 dataset=mnist out="" min_delay=2 max_delay=60 at_checkpoints=0
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_number() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --at_checkpoints) at_checkpoints=1; shift; continue ;;
        --kills|--seed|--max_iter|--dataset|--out|--min_delay|--max_delay)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --kills) is_uint "$2" || die "--kills must be a whole number >= 0, not '$2'"; kills=$2 ;;
                --seed) is_uint "$2" || die "--seed must be a whole number >= 0, not '$2'"; seed=$2 ;;
                --max_iter) { is_uint "$2" && [ "$2" -gt 0 ]; } || die "--max_iter must be a whole number > 0, not '$2'"
                            max_iter=$2 ;;
                --dataset) [ "$2" = mnist ] || [ "$2" = svhn ] || die "--dataset must be mnist or svhn, not '$2'"
                           dataset=$2 ;;
                --out) out=$2 ;;
                --min_delay) is_number "$2" || die "--min_delay must be a number of seconds, not '$2'"; min_delay=$2 ;;
                --max_delay) is_number "$2" || die "--max_delay must be a number of seconds, not '$2'"; max_delay=$2 ;;
            esac
            shift 2 ;;
        --) shift; break ;;
        *) die "unknown argument '$1' (training flags go after --; see --help)" ;;
    esac
done
extra=("$@")
awk -v a="$min_delay" -v b="$max_delay" 'BEGIN { exit !(a <= b) }' || die "--min_delay $min_delay is larger than --max_delay $max_delay"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PYTHON:-python}
export PYTHONPATH="$repo/code" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
[ -n "$seed" ] || seed=$(( $(date +%s) % 100000 ))
if [ -z "$out" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/chaos_resume.XXXXXX") || die "cannot make a temporary folder"
else
    mkdir -p "$out" || die "cannot create $out"
    [ -z "$(ls -A "$out")" ] || die "$out is not empty"
fi
out=$(cd "$out" && pwd)

flags=(--batch_size 8 --checkpoint_every 3 --log_every 6 --scalars_every 1 --validation_size 100)
has_data_dir=0
for flag in "${extra[@]}"; do [ "$flag" = --data_dir ] && has_data_dir=1; done
if [ "$dataset" = mnist ] && [ $has_data_dir = 0 ] && [ -n "${MNIST_DIR:-}" ]; then
    flags+=(--data_dir "$MNIST_DIR")
fi
flags+=(--max_iter "$max_iter" "${extra[@]}")
data_dir_flag=()  # a resume reads the data from where the run says, unless told otherwise
for ((i = 0; i < ${#flags[@]}; i++)); do
    [ "${flags[$i]}" = --data_dir ] && data_dir_flag=(--data_dir "${flags[$((i + 1))]}")
done
script="$repo/code/train_$dataset.py"

echo "chaos_resume: seed $seed, $kills kills, $max_iter iterations, $dataset; in $out"
echo "chaos_resume: flags: ${flags[*]}"

# the kill delays, from a numpy Generator seeded with S
mapfile -t delays < <("$python" -c "
import numpy as np
for d in np.random.default_rng($seed).uniform($min_delay, $max_delay, $kills): print(f'{d:.2f}')") \
    || die "cannot draw the delays with $python and numpy"

# the uninterrupted run, meanwhile
"$python" "$script" "${flags[@]}" --log_dir "$out/reference" > "$out/reference.log" 2>&1 &
reference_pid=$!
cleanup() { [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null; kill -9 "$reference_pid" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 2' INT TERM

newest_folder() { ls -d "$out/killed/$dataset"/*/ 2>/dev/null | sort | tail -n 1; }
# --at_checkpoints: whether the session's log shows a checkpoint saved before the last iteration
saved_early() { grep -oE "Model saved in .*iteration-[0-9]+" "$1" | grep -oE "[0-9]+$" | awk -v m="$max_iter" '$1 < m { found = 1 } END { exit !found }'; }
run_dir="" done_kills=0 session=0
while :; do
    session=$((session + 1))
    log="$out/killed_session_$(printf %02d $session).log"
    if [ -z "$run_dir" ]; then
        kind="new run"
        before=$(newest_folder)
        "$python" "$script" "${flags[@]}" --log_dir "$out/killed" > "$log" 2>&1 &
    else
        kind="resume"
        "$python" "$script" --resume "$run_dir" "${data_dir_flag[@]}" > "$log" 2>&1 &
    fi
    pid=$!
    if [ $done_kills -lt "$kills" ]; then
        delay=${delays[$done_kills]}
        waited=0
        # sleep in small steps so that a process that ends early is noticed
        while kill -0 "$pid" 2>/dev/null && if [ $at_checkpoints = 1 ]; then ! saved_early "$log"
                else awk -v w="$waited" -v d="$delay" 'BEGIN { exit !(w < d) }'; fi; do
            sleep 0.1; waited=$(awk -v w="$waited" 'BEGIN { print w + 0.1 }')
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid"; wait "$pid" 2>/dev/null
            done_kills=$((done_kills + 1))
            [ -z "$run_dir" ] && { folder=$(newest_folder); [ "$folder" != "$before" ] && run_dir=${folder%/}; }
            [ $at_checkpoints = 1 ] && delay=$waited
            echo "session $session ($kind): kill $done_kills after ${delay} s; last line: $(grep -v -e 'iter/s' -e '^[IW]0000' -e '^WARNING: All log' "$log" | tail -n 1 | cut -c1-100)"
            continue
        fi
    fi
    wait "$pid"; code=$?
    pid=""
    if [ -z "$run_dir" ]; then folder=$(newest_folder); [ "$folder" != "$before" ] && run_dir=${folder%/}; fi
    if [ $code = 2 ] && grep -q -e "has no checkpoint to resume from" -e "is not a run folder" \
            -e "is not a valid run config" -e "restores:" "$log"; then
        echo "session $session ($kind): resume refused ($(tail -n 1 "$log" | cut -c1-160)); starting a new run"
        run_dir=""
        continue
    fi
    [ $code = 0 ] || { echo "session $session failed (exit $code); see $log:" >&2; tail -n 5 "$log" >&2; exit 2; }
    [ $done_kills -lt "$kills" ] && echo "session $session: the run finished after $done_kills of $kills kills (raise --max_iter or lower --max_delay)"
    echo "session $session ($kind): ran to the end"
    break
done

wait "$reference_pid"; code=$?
[ $code = 0 ] || { echo "the reference run failed (exit $code); see $out/reference.log" >&2; exit 2; }
reference_dir=$(ls -d "$out/reference/$dataset"/*/ | head -n 1)
"$python" "$repo/scripts/run_tools/compare_checkpoints.py" "${reference_dir%/}" "$run_dir" --iteration "$max_iter"
code=$?
[ $code = 0 ] && echo "chaos_resume: equal after $done_kills kills (seed $seed)" \
    || echo "chaos_resume: NOT equal after $done_kills kills (seed $seed); runs in $out"
exit $code
