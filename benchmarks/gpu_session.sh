#!/usr/bin/env bash
# The GPU checks of the "Fast on the GPU" issue, as one prepared script for the device machine.
#
# After shipping TensorFlow with ../shared/gpu (its README: calls 1..N), run in one call:
#   . .gpu/bin/activate.sh && bash benchmarks/gpu_session.sh
# Every measurement is its own process (a bench killed by its cap loses its JSON) with its own
# timeout, and writes into $OUT (JSON from hires bench --json-file, logs of the renders).
# SMALL=1 runs the same steps at small sizes on the CPU, to check the script itself.
set -u
OUT=${OUT:-/tmp/hires-gpu}
mkdir -p "$OUT"
BACKBONE=${BACKBONE:-vgg16-hed}
PY=${PY:-python3}
if [ "${SMALL:-0}" = 1 ]; then SIZES="64 128"; BIG=128; ITER=20; CAP=300; FLAG=--small
else SIZES="1024 2048 4096"; BIG=4096; ITER=100; CAP=240; FLAG=""; fi
step() {  # step NAME TIMEOUT COMMAND...: runs one measurement, notes its status and seconds
  local name=$1 limit=$2; shift 2
  local start=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "$name: status $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/steps.txt"
}
date -u +%FT%TZ > "$OUT/date.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1

# 1. Evaluations: float32 with and without XLA, bfloat16; one size per process.
for size in $SIZES; do
  step "bench-fp32-$size" $CAP $PY -m hires bench --backbone $BACKBONE --sizes $size --repeats 3 --iterations $ITER --json-file "$OUT/bench-fp32-$size.json"
  step "bench-xla-$size" $CAP $PY -m hires bench --backbone $BACKBONE --sizes $size --repeats 3 --iterations $ITER --xla --json-file "$OUT/bench-xla-$size.json"
done
step "bench-bf16-$BIG" $CAP $PY -m hires bench --backbone $BACKBONE --sizes $BIG --repeats 3 --iterations 20 --precision bfloat16 --json-file "$OUT/bench-bf16-$BIG.json"

# 2. The poster-4k ladder end to end (the goal: under 90 s), with its --plan first. The
# pictures must travel in the checkout: copy ../shared/images/{tubingen,starry_night}.jpg to
# benchmarks/images/ (git ignores it) and carry it.
IMG=benchmarks/images
if [ -f "$IMG/tubingen.jpg" ]; then
  CONFIG=configs/poster-4k.toml; [ "${SMALL:-0}" = 1 ] && CONFIG=configs/quick.toml
  step plan-poster-4k 120 $PY -m hires render "$IMG/tubingen.jpg" "$IMG/starry_night.jpg" -c $CONFIG --backbone $BACKBONE -o "$OUT/poster-4k.png" --plan
  step render-poster-4k 400 /usr/bin/time -v $PY -m hires render "$IMG/tubingen.jpg" "$IMG/starry_night.jpg" -c $CONFIG --backbone $BACKBONE -o "$OUT/poster-4k.png" --overwrite
fi

# 3. Two logical GPUs on one card: the same loss, gradient and picture as one device, and the cost.
step two-logical-gpus $CAP $PY benchmarks/gpu_two_logical.py --out "$OUT/two-logical.json" $FLAG

# 4. The memory planner against TensorFlow's own peak, whole and tiled.
step memory-calibration $CAP $PY benchmarks/gpu_memory.py --out "$OUT/memory.json" $FLAG
cat "$OUT/steps.txt"
