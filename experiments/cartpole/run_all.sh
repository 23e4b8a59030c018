#!/usr/bin/env bash
# Distils N-D cart-pole for N = 1..5 at k = N + 1 (= k_min of the paper) and scores each dataset
# with 1000 fresh Λ learners (sampled and greedy actions). Results: runs/cartpole_table/N{N}/summary.json.
# Usage: bash experiments/cartpole/run_all.sh [P] [DIMS...]   (default P = 16, DIMS = 1 2 3 4 5)
set -euo pipefail
P=${1:-16}; shift || true
DIMS=${*:-1 2 3 4 5}
for N in $DIMS; do
  out=runs/cartpole_table/P${P}/N${N}
  if [ -f "$out/summary.json" ]; then echo "skip $out (done)"; continue; fi
  extra=(); [ -d "$out" ] && extra=(--resume)
  python -m rlsl_jax.experiments.cartpole --dims "$N" --k $((N + 1)) --population "$P" \
    --meta-epochs 3000 --stop-return 495 --chunk 50 --checkpoint-every 250 --seed 0 \
    --no-progress --out "$out" "${extra[@]}"
done
