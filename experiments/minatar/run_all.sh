#!/usr/bin/env bash
# Every run behind experiments/minatar/RESULTS.md, one after the other (one training process at a time).
#
#   experiments/minatar/run_all.sh [OUT_ROOT] [META_EPOCHS] [extra CLI flags...]
#   experiments/minatar/run_all.sh runs/minatar 1000
#   GAMES="Breakout" experiments/minatar/run_all.sh runs/minatar 1000 --no-progress     # one game
#   ROWS="k16 ppo" experiments/minatar/run_all.sh runs/minatar_gpu 500 --preset purejaxrl   # some rows, a GPU batch
#   (environment: GAMES, ROWS, EVAL_LEARNERS (256), PYTHON (python), NICE ("nice -n 5"; NICE= for none))
#
# Rows per game (OUT_ROOT/<game>_<row>): ppo = direct PPO (same env steps: one PPO epoch = one
# meta-epoch), k16 = PPMO full distillation (l = 0) at k = 16, kmin = l = 0 at the paper's
# k_min = ceil(c/2)+1, l2 = encoder rollback at l = 2 (k = 16). Each run's last line and summary.json
# hold its score over EVAL_LEARNERS fresh learners (PPO: episodes), sampled and greedy. A run whose
# summary.json exists is skipped; one with run.json but no summary is resumed from its checkpoint.
# Then experiments/minatar/table.py OUT_ROOT prints the results table.
set -euo pipefail
ROOT=${1:-runs/minatar}
EPOCHS=${2:-1000}
shift $(( $# < 2 ? $# : 2 ))
GAMES=${GAMES:-"Breakout SpaceInvaders Asterix Freeway"}
ROWS=${ROWS:-"ppo k16 kmin l2"}
EVAL_LEARNERS=${EVAL_LEARNERS:-256}
NICE=${NICE-"nice -n 5"}
PYTHON=${PYTHON:-python}
mkdir -p "$ROOT"
for game in $GAMES; do
  for row in $ROWS; do
    case $row in
      ppo)  flags=(--method ppo) ;;
      k16)  flags=(--k 16 --layer 0) ;;
      kmin) flags=(--k-min --layer 0) ;;
      l2)   flags=(--k 16 --layer 2) ;;
      *) echo "unknown row $row" >&2; exit 2 ;;
    esac
    out="$ROOT/${game}_${row}"
    if [[ -f "$out/summary.json" ]]; then echo "skip $out (done)"; continue; fi
    if [[ -f "$out/run.json" ]]; then flags=(--resume); fi
    echo "== $out" >&2
    $NICE $PYTHON -m rlsl_jax.experiments.minatar --game "$game" "${flags[@]}" --meta-epochs "$EPOCHS" \
      --eval-learners "$EVAL_LEARNERS" --out "$out" "$@" 2>"$out.stderr.log" | tee "$out.txt"
  done
done
$PYTHON experiments/minatar/table.py "$ROOT"
