#!/usr/bin/env bash
# Every row of experiments/minatar/RESULTS.md at once on a many-core machine: one training process
# per (game, row), each pinned to ONE CPU core (JAX's CPU backend, one XLA thread), each trained
# for a fixed wall-clock budget; then each run is finished from its newest checkpoint (--resume up
# to that meta-epoch: dataset.npz, dataset.png, learning_curve.png, summary.json) and scored by
# EVAL_LEARNERS fresh learners, sampled and greedy.
#
#   experiments/minatar/many_core.sh OUT_ROOT [TRAIN_SECONDS] [extra CLI flags...]
#   GAMES="Breakout" ROWS="k16 ppo" experiments/minatar/many_core.sh runs/mc 60 --preset tiny
#
# Rows (OUT_ROOT/<game>_<row>): ppo = direct PPO, k16 = PPMO l = 0 at k = 16, kmin = l = 0 at the
# paper's k_min, l2 = encoder rollback at l = 2 (k = 16). Budgets are wall-clock seconds per run,
# so env steps differ by row: each summary.json says how many were used.
set -u
ROOT=${1:?usage: many_core.sh OUT_ROOT [TRAIN_SECONDS] [flags...]}
TRAIN=${2:-360}
shift $(( $# < 2 ? $# : 2 ))
GAMES=${GAMES:-"Breakout SpaceInvaders Asterix Freeway"}
ROWS=${ROWS:-"ppo k16 kmin l2"}
EVAL_LEARNERS=${EVAL_LEARNERS:-128}
CORES=$(nproc)
export JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$ROOT"
flags_of() {
  case $1 in
    ppo)  echo "--method ppo" ;;
    k16)  echo "--k 16 --layer 0" ;;
    kmin) echo "--k-min --layer 0" ;;
    l2)   echo "--k 16 --layer 2" ;;
    *) echo "unknown row $1" >&2; exit 2 ;;
  esac
}
i=0
for game in $GAMES; do
  for row in $ROWS; do
    out="$ROOT/${game}_${row}"
    # shellcheck disable=SC2046
    taskset -c $((i % CORES)) timeout "$TRAIN" python3 -m rlsl_jax.experiments.minatar --game "$game" \
      $(flags_of "$row") --meta-epochs 1000000 --checkpoint-every 25 --chunk 25 --eval-learners 0 \
      --no-progress --no-compile-cache --out "$out" "$@" > "$out.train.log" 2>&1 &
    i=$((i + 1))
  done
done
wait
i=0
for game in $GAMES; do
  for row in $ROWS; do
    out="$ROOT/${game}_${row}"
    step=$(ls "$out/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1)
    if [[ -z $step ]]; then echo "$out: no checkpoint (see $out.train.log)" >&2; continue; fi
    taskset -c $((i % CORES)) python3 -m rlsl_jax.experiments.minatar --resume --meta-epochs "$step" \
      --eval-learners "$EVAL_LEARNERS" --no-progress --no-compile-cache --out "$out" > "$out.txt" 2> "$out.eval.log" &
    i=$((i + 1))
  done
done
wait
for f in "$ROOT"/*.txt; do echo "$(basename "$f" .txt): $(tail -1 "$f")"; done
