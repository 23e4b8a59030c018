#!/usr/bin/env bash
# Item 5 of the Atari issue, for the lent GPU machine (NOT run yet: no GPU was lent to the session
# that wrote it). Prepare once on the CPU machine, in the repo root:
#     echo /.whl/ >> .git/info/exclude; ../shared/device/wheelhouse.sh atari .whl
#     cp ../shared/refdata/atari_centipede_fulldistill_k10.npz experiments/atari/   # ~1.1 MB, for stage "conformance"
# then run through the device tool with carry [".whl"], one stage per call (each < 10 min):
#     bash experiments/atari/gpu.sh conformance|timing|pong_l4|centipede_l0 [META_EPOCHS]
# Results land in $OUT (come back with the call); copy the numbers into experiments/atari/RESULTS.md.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
A="python3 -m rlsl_jax.experiments.atari --no-progress"
case "${1:?stage}" in
  conformance)  # authors' Centipede dataset: expect ≈ 9027 ± 4806 (32 learners), untrained ≈ 1911 ± 1251
    $A --eval experiments/atari/atari_centipede_fulldistill_k10.npz --game Centipede --eval-learners 32 --out "$OUT" \
      2>&1 | tail -2
    $A --eval experiments/atari/atari_centipede_fulldistill_k10.npz --game Centipede --eval-learners 32 --untrained \
      --out "$OUT" 2>&1 | tail -2 ;;
  timing)  # seconds per meta-epoch after compile: PPMO full distillation (l=0), l=4, and PPO (l=5), Centipede,
    # with lax.conv (the GPU default) and with im2col convolutions (the CPU default), to pick the faster
    for impl in conv im2col; do
      python3 benchmarks/atari_epoch.py --game Centipede --layers 0,4,5 --epochs "${2:-10}" --repeats 3 --impl $impl \
        --out "$OUT/atari_epoch_$impl.md" 2>&1 | grep -v '^Failed to import'
    done ;;
  pong_l4)  # Table 2: Pong l=4 (paper 21.0; RL 17.3); resumable: call again with a larger META_EPOCHS and --resume
    $A --game Pong --layer 4 --meta-epochs "${2:-3000}" --chunk 50 --checkpoint-every 250 --final-eval-learners 32 \
      --out "$OUT/pong_l4" 2>&1 | tail -2 ;;
  centipede_l0)  # Table 2: Centipede full distillation (paper 8083)
    $A --game Centipede --layer 0 --meta-epochs "${2:-3000}" --chunk 50 --checkpoint-every 250 \
      --final-eval-learners 32 --out "$OUT/centipede_l0" 2>&1 | tail -2 ;;
  *) echo "unknown stage $1" >&2; exit 2 ;;
esac
