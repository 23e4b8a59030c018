#!/usr/bin/env bash
# Every run behind the Table-3 section of experiments/mujoco/RESULTS.md: envpool MuJoCo-v4, direct PPO
# (the RL column) and PPMO full distillation (k = 64) with the same code and env steps, then the
# distilled dataset scored by EVAL_LEARNERS fresh learners (one SGD step, one 1000-step episode each),
# sampled and mean actions. One training process at a time.
#
#   experiments/mujoco/table3.sh [OUT_ROOT] [META_EPOCHS] [extra CLI flags...]
#   experiments/mujoco/table3.sh runs/table3 2000
#   TASKS="hopper walker2d" ROWS=ppmo experiments/mujoco/table3.sh runs/table3 3000 --lr 1e-3
#   ANNEAL=1 TASKS=ant ROWS=ppo experiments/mujoco/table3.sh runs/table3 8000   # the RL column's annealed PPO
#   (environment: TASKS, ROWS ("ppo ppmo"), EVAL_LEARNERS (64), PYTHON (python), NICE ("nice -n 5"),
#    ANNEAL (0; 1: a NEW PPO row anneals its rates to 0 over META_EPOCHS epochs of the default 16 x 128
#    steps, --anneal-steps; the schedule is recorded, so resuming it past that budget trains at rate 0))
#
# OUT_ROOT/<task>_<row>: a run whose summary.json records >= META_EPOCHS is skipped, a shorter or
# interrupted one is resumed (--resume: its saved config; envpool's emulators restart, the
# normaliser is kept). PPO rows end with EVAL_LEARNERS episodes of the trained agent (summary.json
# "eval", "eval_mean"); PPMO rows then get eval_sampled/eval.json and eval_mean/eval.json.
# experiments/mujoco/table3.py OUT_ROOT prints the table.
set -euo pipefail
ROOT=${1:-runs/table3}
EPOCHS=${2:-2000}
shift $(( $# < 2 ? $# : 2 ))
TASKS=${TASKS:-"halfcheetah inverted_double_pendulum reacher walker2d hopper ant humanoid humanoidstandup"}
ROWS=${ROWS:-"ppo ppmo"}
EVAL_LEARNERS=${EVAL_LEARNERS:-64}
NICE=${NICE-"nice -n 5"}
PYTHON=${PYTHON:-python}
mkdir -p "$ROOT"
# meta-epochs a finished run reached (0 if none; a PPO run counts only once its agent was scored)
done_epochs() { $PYTHON -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['meta_epochs'] if s['method'] == 'ppmo' or 'eval' in s else 0)" "$1" 2>/dev/null || echo 0; }
for task in $TASKS; do
  for row in $ROWS; do
    out="$ROOT/${task}_${row}"
    if [[ -f "$out/summary.json" && $(done_epochs "$out/summary.json") -ge $EPOCHS ]]; then
      echo "skip $out (done)" >&2
    else
      if [[ -f "$out/run.json" ]]; then flags=(--resume); else flags=(--env "$task" --backend envpool --method "$row"); fi
      echo "== $out" >&2
      [[ $row == ppo ]] && flags+=(--final-eval-learners "$EVAL_LEARNERS")
      [[ $row == ppo && ${ANNEAL:-0} == 1 && ${flags[0]} != --resume ]] && flags+=(--anneal-steps $((EPOCHS * 2048)))
      $NICE $PYTHON -m rlsl_jax.experiments.mujoco "${flags[@]}" --meta-epochs "$EPOCHS" --out "$out" --no-progress \
        "$@" 2>>"$out.stderr.log" | tee -a "$out.txt"
      rm -rf "$out"/eval_sampled "$out"/eval_mean
    fi
    if [[ $row == ppmo && ! -f "$out/eval_mean/eval.json" ]]; then
      $NICE $PYTHON -m rlsl_jax.experiments.mujoco --eval "$out" --eval-learners "$EVAL_LEARNERS" --out "$out/eval_sampled" | tee -a "$out.txt"
      $NICE $PYTHON -m rlsl_jax.experiments.mujoco --eval "$out" --eval-learners "$EVAL_LEARNERS" --greedy --out "$out/eval_mean" | tee -a "$out.txt"
    fi
  done
done
