#!/usr/bin/env bash
# The one device session of 2026-11-30 (NVIDIA H200 + 16 CPU cores, no network), run from the
# repository root with the wheels of ../shared/device/wheelhouse.sh atari in .whl:
#   - on the 16 CPU cores: every MinAtar row (experiments/minatar/many_core.sh), one core per run;
#   - on the GPU, at the same time: MinAtar and Atari (paper preset) meta-epoch timings.
# Results under $OUT (checkpoints dropped to keep the transfer small; datasets, logs, PNGs kept).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
OUT=${OUT:-/tmp/out}; TRAIN=${TRAIN:-330}
export PYTHONUNBUFFERED=1
nvidia-smi -L > "$OUT/device.txt" 2>&1; python3 -c "import jax; print(jax.__version__, jax.devices())" >> "$OUT/device.txt" 2>&1
(
  export XLA_PYTHON_CLIENT_PREALLOCATE=false
  timeout 240 python3 benchmarks/minatar_epoch.py --epochs 10 --repeats 2 --out "$OUT/minatar_epoch_gpu.md" \
    > "$OUT/minatar_epoch_gpu.log" 2>&1
  timeout 200 python3 benchmarks/atari_epoch.py --game Centipede --layers 0,4,5 --preset paper --epochs 3 \
    --repeats 2 --out "$OUT/atari_epoch_gpu_paper.md" > "$OUT/atari_epoch_gpu_paper.log" 2>&1
) &
experiments/minatar/many_core.sh "$OUT/minatar" "$TRAIN" > "$OUT/minatar_many_core.txt" 2>&1
wait
rm -rf "$OUT"/minatar/*/checkpoints
du -sh "$OUT"; cat "$OUT/minatar_many_core.txt" "$OUT"/*.md 2>/dev/null | tail -40
