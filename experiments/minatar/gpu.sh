#!/usr/bin/env bash
# The MinAtar table on an accelerator: one lane per game, the lanes in parallel (each lane runs its
# game's rows one after another through run_all.sh).
#
#   experiments/minatar/gpu.sh OUT_ROOT META_EPOCHS [extra CLI flags...]
#   ARCHIVE=/tmp/minatar_gpu.tgz experiments/minatar/gpu.sh runs/minatar_gpu 500 --preset purejaxrl
#
# GAMES, ROWS, EVAL_LEARNERS, PYTHON as for run_all.sh. ARCHIVE: every 20 s (and at the end) the
# runs' small files (not their checkpoints) are packed into this .tgz, so a run cut short by a
# time limit still leaves every finished row behind.
set -uo pipefail
ROOT=$1
EPOCHS=$2
shift 2
LANES=${GAMES:-"Breakout SpaceInvaders Asterix Freeway"}
mkdir -p "$ROOT"
export NICE= XLA_PYTHON_CLIENT_PREALLOCATE=false
archive() {
  [[ -z "${ARCHIVE:-}" ]] || tar czf "$ARCHIVE.tmp" --exclude=checkpoints -C "$(dirname "$ROOT")" "$(basename "$ROOT")" \
    && mv "$ARCHIVE.tmp" "$ARCHIVE"
}
for g in $LANES; do
  GAMES=$g bash experiments/minatar/run_all.sh "$ROOT" "$EPOCHS" "$@" > "$ROOT/lane_$g.log" 2>&1 &
done
while [[ -n "$(jobs -r)" ]]; do archive; sleep 20; done
archive
"${PYTHON:-python}" experiments/minatar/table.py "$ROOT"
