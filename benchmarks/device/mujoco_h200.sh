#!/usr/bin/env bash
# One device session (NVIDIA H200 + 16 CPU cores, no network) for the envpool MuJoCo-v4 tasks, run
# from the repository root with the wheels of benchmarks/device/wheels_mujoco.sh in .whl (carry it):
#   A. on the GPU, cores 0-7: benchmarks/mujoco_epoch.py (PPMO meta-epoch vs PPO epoch, s) over
#      the eight tasks, most useful first; every row is printed as it is measured, so a cut table
#      survives in $OUT/mujoco_epoch_gpu.{log,md}; a crash in one task skips that task only.
#      Before it, $OUT/device.txt gets the device, the JAX version and a smoke test of envpool's
#      .xla() step inside jit on the default (GPU) backend (env steps/s through the custom call).
#   B. on the CPU backend, cores 8-15: Humanoid PPMO at population 4 from scratch (check and
#      checkpoint every 50 meta-epochs), stopped by `timeout`; then `--resume --meta-epochs <newest
#      checkpoint>` (no further training) re-scores the kept dataset and writes dataset.npz,
#      summary.json and learning_curve.png. A resume truncates log.csv to the checkpoint, so the
#      log as the killed run left it is kept as log_until_kill.csv. Only the newest checkpoint is kept.
# Everything is bounded by deadlines from the start: the whole script ends within TOTAL s (510).
#
#   run: bash benchmarks/device/mujoco_h200.sh          (carry .whl; timeout_s >= 540)
#   local dry run of the same flow (no pip, CPU only, small budgets; /tmp/site_test = the cp311 build of
#   wheels_mujoco.sh installed with --target, /tmp/vs_dev = the venv site-packages without envpool,
#   seaborn/pandas, brax, mujoco, gymnax, gymnasium, tqdm, six: what the image has):
#     LOCAL=1 OUT=/tmp/mjout TOTAL=170 TASKS=hopper,bogus,reacher B_ENV=humanoid B_POP=1 B_EVERY=10 B_FINISH=60 \
#       GPU_CORES=0 CPU_CORES=1 PY="/work/main/.venv/bin/python -S" \
#       PYTHONPATH=/tmp/site_test:$PWD/src:/tmp/vs_dev \
#       nice -n 10 bash benchmarks/device/mujoco_h200.sh
set -u
START=$(date +%s)
LOCAL=${LOCAL:-0}
if [ "$LOCAL" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
fi
PY=${PY:-python3}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
# gymnax 1.0.1 imports seaborn at import time (only its Pong renderer uses it); if the image lacks
# it, an empty stand-in module (never called on these paths) avoids shipping pandas + seaborn
if ! $PY -c "import seaborn" 2>/dev/null; then
  mkdir -p /tmp/site_stub/seaborn
  echo '"""Stand-in: the image has no seaborn; gymnax imports it for rendering only."""' \
    > /tmp/site_stub/seaborn/__init__.py
  export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}/tmp/site_stub
  echo "seaborn missing: empty stand-in module on PYTHONPATH" > "$OUT/stub.txt"
fi
export PYTHONUNBUFFERED=1
export RLSL_JAX_CACHE=${RLSL_JAX_CACHE:-$(mktemp -d /tmp/mj_cache.XXXX)}  # a fresh compile cache
TOTAL=${TOTAL:-510}                 # the whole script ends within this many seconds of its start
# most useful first (humanoid: B's task; hopper: the reference; then by CPU cost), so a cut table still helps
TASKS=${TASKS:-humanoid,hopper,ant,humanoidstandup,walker2d,halfcheetah,reacher,inverted_double_pendulum}
EPOCHS=${EPOCHS:-5}; REPEATS=${REPEATS:-2}
GPU_CORES=${GPU_CORES:-0-7}; CPU_CORES=${CPU_CORES:-8-15}
B_ENV=${B_ENV:-humanoid}; B_POP=${B_POP:-4}; B_EVERY=${B_EVERY:-50}
B_FINISH=${B_FINISH:-75}            # seconds reserved for B's resume (re-score, dataset.npz, plot)
END=$((START + TOTAL - 10))          # every part is over by then (10 s for pruning and the summary)
left() { echo $(( $1 - $(date +%s) )); }

# ---------------------------------------------------------------- A: GPU timings
(
  export XLA_PYTHON_CLIENT_PREALLOCATE=false
  [ "$LOCAL" = 1 ] && export JAX_PLATFORMS=cpu
  { nvidia-smi -L 2>&1; echo "script start $(date -u +%FT%TZ)"; } > "$OUT/device.txt"
  timeout -k 5 60 taskset -c "$GPU_CORES" $PY - >> "$OUT/device.txt" 2>&1 <<'EOF'
import time
import jax, jax.numpy as jnp
print("jax", jax.__version__, jax.devices(), "backend", jax.default_backend(), "| jax.enable_x64:", hasattr(jax, "enable_x64"))
import envpool
from rlsl_jax.envs import make
benv, _ = make("envpool/Hopper-v4", num_envs=16, seed=0)
obs, st = benv.reset()
act = jnp.zeros((16, 3), jnp.float32)
def body(s, _):
    r = benv.step(None, s, act)
    return r.state, r.obs[:, 0]
f = jax.jit(lambda s: jax.lax.scan(body, s, None, length=1000))
t = time.time(); s2, o = jax.block_until_ready(f(st)); t1 = time.time() - t
t = time.time(); s2, o = jax.block_until_ready(f(s2)); t2 = time.time() - t
print(f"envpool {envpool.__version__} ({envpool.__file__}) Hopper-v4 .xla() in jit on {jax.default_backend()}: "
      f"16 envs x 1000 steps in one lax.scan: compile+first {t1:.1f}s, then {t2:.2f}s = {16000 / t2:.0f} env steps/s "
      f"({t2 * 1e3:.0f} us per step call); outputs on {o.devices()}, finite {bool(jnp.isfinite(o).all())}")
EOF
  echo "preflight rc=$? at $(( $(date +%s) - START ))s" >> "$OUT/device.txt"
  log=$OUT/mujoco_epoch_gpu.log; : > "$log"
  todo=$TASKS; seg=0
  while [ -n "$todo" ] && [ "$(left $END)" -gt 30 ]; do
    seg=$((seg + 1))
    echo "## segment $seg at $(( $(date +%s) - START ))s: --tasks $todo" >> "$log"
    timeout -k 5 "$(left $END)" taskset -c "$GPU_CORES" $PY benchmarks/mujoco_epoch.py --tasks "$todo" \
      --epochs "$EPOCHS" --repeats "$REPEATS" >> "$log" 2>&1
    rc=$?
    echo "## segment $seg rc=$rc at $(( $(date +%s) - START ))s" >> "$log"
    [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ] && break
    # a crash: the first task without a row is the culprit; skip it, go on with the others
    new=""; culprit=""
    for t in ${todo//,/ }; do
      if grep -q "^| $t |" "$log"; then continue; fi
      if [ -z "$culprit" ]; then culprit=$t; else new=${new:+$new,}$t; fi
    done
    echo "## skipping $culprit (crashed)" >> "$log"; todo=$new
  done
  # the table from the rows printed (complete, or cut by the deadline)
  { grep -m1 '^backend ' "$log"; echo; grep -m1 '^| task |' "$log"; grep -m1 '^|---' "$log"
    grep -E '^\| [a-z_0-9]+ \|' "$log" | grep -v '^| task |'
    grep '^## skipping' "$log"; } > "$OUT/mujoco_epoch_gpu.md"
  echo "A done at $(( $(date +%s) - START ))s" >> "$log"
) &
PID_A=$!

# ---------------------------------------------------------------- B: CPU exploration run
(
  export JAX_PLATFORMS=cpu
  D=$OUT/${B_ENV}_p$B_POP; log=$OUT/${B_ENV}_p$B_POP.log
  args=(--eval-every "$B_EVERY" --eval-check-learners 16 --checkpoint-every "$B_EVERY" --out "$D" --no-progress)
  echo "## train from $(( $(date +%s) - START ))s" > "$log"
  timeout -k 5 "$(left $((END - B_FINISH)))" taskset -c "$CPU_CORES" $PY -m rlsl_jax.experiments.mujoco \
    --env "$B_ENV" --backend envpool --population "$B_POP" --meta-epochs 100000 "${args[@]}" >> "$log" 2>&1
  echo "## train rc=$? at $(( $(date +%s) - START ))s" >> "$log"
  [ -f "$D/log.csv" ] && cp "$D/log.csv" "$D/log_until_kill.csv"
  last=$(ls "$D/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1)
  if [ -n "$last" ]; then
    timeout -k 5 "$(left $END)" taskset -c "$CPU_CORES" $PY -m rlsl_jax.experiments.mujoco --resume \
      --meta-epochs "$last" "${args[@]}" >> "$log" 2>&1
    echo "## resume to $last rc=$? at $(( $(date +%s) - START ))s" >> "$log"
  else
    echo "## no checkpoint to resume" >> "$log"
  fi
  # keep only the newest checkpoint (orbax keeps 3) and no half-written one
  rm -rf "$D"/checkpoints/*tmp* 2>/dev/null
  ls "$D/checkpoints" 2>/dev/null | grep -E '^[0-9]+$' | sort -n | head -n -1 | while read -r s; do
    rm -rf "${D:?}/checkpoints/$s"; done
  echo "## B done at $(( $(date +%s) - START ))s" >> "$log"
) &
PID_B=$!

wait $PID_A $PID_B
rm -rf "$RLSL_JAX_CACHE"
echo "total $(( $(date +%s) - START ))s"; du -sh "$OUT"
cat "$OUT/device.txt" "$OUT/mujoco_epoch_gpu.md"; tail -n 6 "$OUT/${B_ENV}_p$B_POP.log"
cat "$OUT/${B_ENV}_p$B_POP/summary.json" 2>/dev/null
