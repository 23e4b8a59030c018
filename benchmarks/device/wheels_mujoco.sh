#!/usr/bin/env bash
# Wheels for benchmarks/device/mujoco_h200.sh: the packages the offline GPU machine (Python 3.12,
# jax/flax/optax/chex/orbax/numpy/scipy/matplotlib preinstalled) lacks for the envpool MuJoCo-v4
# tasks, with envpool slimmed to its gym-MuJoCo family.
#
#   usage: benchmarks/device/wheels_mujoco.sh [DEST]       (DEST default .whl, git-ignored)
#          PYV=3.11 benchmarks/device/wheels_mujoco.sh /tmp/whl311   # same slimming for a local test
#
# envpool's mujoco_gym_envpool.so links MuJoCo statically (it needs only envpool.libs' libEGL/
# libOpenGL/libGLdispatch and libc), so the `mujoco` python package is NOT needed; the gym XML
# files come from the envpool-assets wheel (envpool_assets/mujoco/assets_gym). Pure-python deps:
# gymnasium (+farama-notifications), dm-env, optree (binary), gymnax (+six), tqdm (the runner's
# progress bar; harmless if the image already has it). 5.5 MB in all.
set -euo pipefail
DEST=${1:-.whl}
PYV=${PYV:-3.12}
CACHE=${CACHE:-/tmp/wheels_mujoco_cache/$PYV}   # the full downloads, kept for a rebuild
rm -rf "$DEST"; mkdir -p "$DEST" "$CACHE"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

get() {  # get DIR SPEC...: binary wheels for the target Python, no dependencies
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d "$1" "${@:2}" 2>&1 | grep -v 'is ignored' || true
}

slim() {  # slim WHEEL KEEP_REGEX [FAMILIES]: rezip a wheel keeping .py files and paths matching
  # KEEP_REGEX, dropping the .py files of sub-packages matching DROP_PY (the other env families);
  # for envpool, FAMILIES are the registrations that envpool/entry.py imports
  local whl=$1 keep=$2 families=${3:-} dir="$TMP/slim"
  rm -rf "$dir"; mkdir -p "$dir"; (cd "$dir" && unzip -q "$whl")
  find "$dir" -type f ! -path '*.dist-info/*' | while read -r f; do
    rel=${f#"$dir"/}
    if [[ $rel == *.py ]]; then
      if [[ -n ${DROP_PY:-} && $rel =~ $DROP_PY ]]; then rm -f "$f"; fi
    elif ! [[ $rel =~ $keep ]]; then rm -f "$f"; fi
  done
  find "$dir" -type d -empty -delete
  if [[ -n $families ]]; then
    printf '"""Entry point for the registration of the env families kept in this slim build."""\n' \
      > "$dir/envpool/entry.py"
    for fam in $families; do echo "import envpool.$fam.registration  # noqa: F401" >> "$dir/envpool/entry.py"; done
  fi
  rm -f "$whl"; (cd "$dir" && zip -q -r "$whl" .)
}

get "$CACHE" gymnax==1.0.1 gymnasium==1.3.0 farama-notifications six tqdm dm-env optree envpool==1.2.5 \
  envpool-assets==0.3.0
cp "$CACHE"/*.whl "$DEST"/
DROP_PY='^envpool/(atari|box2d|classic_control|gfootball|highway|jumanji|minigrid|pgx|procgen|toy_text|vizdoom|mujoco/(dmc|metaworld|myosuite|playground|robotics))/' \
  slim "$(realpath "$DEST"/envpool-1.2.5-*.whl)" \
  '^envpool\.libs/|^envpool/python/|^envpool/mujoco/mujoco_gym_envpool\.so$|^envpool/py\.typed$' 'mujoco.gym'
DROP_PY='^envpool_assets/(atari|gfootball|procgen|vizdoom|mujoco/(assets_dmc|metaworld|robotics))/' \
  slim "$(realpath "$DEST"/envpool_assets-*.whl)" '^envpool_assets/mujoco/assets_gym/'
ls -l "$DEST"; du -ch "$DEST"/*.whl | tail -1
