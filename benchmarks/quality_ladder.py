"""How many iterations each rung needs before the picture stops improving, as a viewer sees it.

For each pair (a photograph and a painting), a ladder 256 -> 512 -> 1024 -> 2048 px is climbed
greedily: each rung runs long (300, 150, 100, 60 iterations: today's print-2k), its picture is
scored as it runs by ``hires.quality.Judge`` (layers the objective does not use), and
the next rung starts from the picture at the rung's plateau: the first reading within
``--share`` of the rung's last reading in style, layout and content distance (``--share 0``:
the rung's end, as a render climbs). Readings every ``--every`` iterations (default 10). The
readings, the loss and the evaluations at each are written as JSON.

    python benchmarks/quality_ladder.py --pairs tubingen-starry,coffee-shipwreck --out q.json

Pairs: the shared images (../shared/images), scikit-image's bundled photographs
(``pip install scikit-image``; measurement only, not a dependency of hires) and the demo's
drawn painting (``demostyle``, 640 px; ``demostyle2048`` drawn 2048 px wide). Copies of the first
two in benchmarks/images (NAME.jpg or NAME.png) serve where neither is at hand, and two
photographs with detail of their own at 1024 px live only there (``face``, ``bus``:
``bash benchmarks/detailed_photos.sh`` fetches them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, WholeImageObjective, compute_targets, make_extractor, make_loss_function  # noqa: E402
from core.optimize import minimize_lbfgs  # noqa: E402
from hires.images import read_image  # noqa: E402
from hires.inputs import resize, to_tensor  # noqa: E402
from hires.ladder import rung_shape  # noqa: E402
from hires.quality import Judge  # noqa: E402

SHARED = ROOT.parent / "shared" / "images"
# Pictures copied into the checkout, for a machine without ../shared or scikit-image (the GPU
# machine): benchmarks/gpu_quality_prep.sh writes them; git ignores the folder.
COPIED = ROOT / "benchmarks" / "images"
LADDER = ((256, 300), (512, 150), (1024, 100), (2048, 60))


def load_pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``photo-painting`` -> the two pictures as float arrays in [0, 1]."""
    photo, painting = name.split("-")
    return load_picture(photo), load_picture(painting)


def load_picture(name: str) -> np.ndarray:
    file = {"starry": "starry_night.jpg"}.get(name, f"{name}.jpg")
    for path in (SHARED / file, COPIED / file, COPIED / f"{name}.png"):
        if path.is_file():
            return read_image(path)
    if name.startswith("demostyle"):  # "demostyle2048": drawn 2048 px wide, its strokes in proportion
        from hires.demo_images import draw_demo_style
        width = int(name[len("demostyle"):] or 640)
        return draw_demo_style(width, width * 3 // 4)
    if name == "democontent":
        from hires.demo_images import draw_demo_content
        return draw_demo_content(640, 480)
    import skimage.data  # measurement only

    picture = np.asarray(getattr(skimage.data, name)(), np.float32) / 255.0
    return np.repeat(picture[..., None], 3, axis=-1) if picture.ndim == 2 else picture[..., :3]  # gravel is grey


def plateau(readings: list[dict], share: float) -> int:
    """The first reading within ``share`` of the rung's last reading in style, layout and content.

    Measured against the end of the rung, not against its start: the start (the photograph, or the
    rung below enlarged) is so far off in style that 95 % of the gain comes within 10 iterations,
    while the picture is still visibly unfinished; and its content distance is the smallest of
    all (zero for the photograph), so "best" is no yardstick either.
    """
    last = readings[-1]
    for index, reading in enumerate(readings[1:], start=1):
        if all(abs(reading[key] - last[key]) <= share * last[key] for key in ("style", "layout", "content")):
            return index
    return len(readings) - 1


def climb(name: str, backbone, spec: LossSpec, share: float, ladder, log, every: int = 10,
          make_loss=None) -> dict:
    photo, painting = load_pair(name)
    judge = Judge(backbone, photo, painting, used=spec.layer_names)
    extractor = make_extractor(backbone, spec)
    rungs, previous = [], None
    for long_edge, iterations in ladder:
        rung = run_rung(extractor, spec, photo, painting_at(painting, long_edge), previous, long_edge, iterations,
                        lambda picture: judge(picture).__dict__, every, lambda text: log(f"{name} {text}"),
                        make_loss)
        chosen = plateau(rung["readings"], share)
        pictures = rung.pop("pictures")
        rungs.append({**rung, "plateau_index": chosen, "plateau_iteration": rung["readings"][chosen]["iteration"]})
        log(f"{name} {rung['width_px']}x{rung['height_px']}: plateau at iteration "
            f"{rung['readings'][chosen]['iteration']} of {iterations}")
        previous = pictures[chosen]
    return {"pair": name, "rungs": rungs}


def climb_unjudged(extractor, spec: LossSpec, photo: np.ndarray, painting: np.ndarray, ladder, log) -> np.ndarray:
    """The last picture of ``ladder`` ((long edge, iterations) pairs), each rung from the one below
    and none judged: the start of a rung under study."""
    below = None
    for edge, iterations in ladder:
        rung = run_rung(extractor, spec, photo, painting_at(painting, edge), below, edge, iterations,
                        lambda picture: {}, iterations, log)
        below = rung["pictures"][-1]
    return below


def painting_at(painting: np.ndarray, long_edge: int) -> np.ndarray:
    """The painting with its long edge at ``long_edge`` px (``style_scale`` 1, as a render does)."""
    scale = long_edge / max(painting.shape[:2])
    size = round(painting.shape[0] * scale), round(painting.shape[1] * scale)
    return resize(to_tensor(painting), *size)[0].numpy()


def run_rung(extractor, spec: LossSpec, photo: np.ndarray, painting: np.ndarray, previous: np.ndarray | None,
             long_edge: int, iterations: int, judge, every: int, log, make_loss=None) -> dict:
    """One rung from ``previous`` (or the photograph) towards ``painting`` as given, judged every
    ``every`` iterations by ``judge(picture) -> {measure: value}``; the pictures are kept.
    ``make_loss(extractor, spec, targets, painting)`` builds another objective than the renderer's."""
    content = to_tensor(photo)
    height, width = rung_shape(*photo.shape[:2], long_edge, multiple=16)
    targets = compute_targets(extractor, spec, resize(content, height, width), [to_tensor(painting)])
    loss = (make_loss(extractor, spec, targets, to_tensor(painting)) if make_loss
            else make_loss_function(extractor, spec, targets))
    objective = WholeImageObjective(loss, jit_compile=True)
    start = resize(content if previous is None else to_tensor(previous), height, width)
    readings, pictures, clock = [], [], time.perf_counter()

    def record(image, iteration, evaluations, loss):
        picture = np.clip(image[0].numpy(), 0.0, 1.0)
        pictures.append(picture)
        readings.append({"iteration": iteration, "evaluations": evaluations, "loss": float(loss), **judge(picture)})
        log(f"{width}x{height} it {iteration}: loss {float(loss):.4g} "
            + " ".join(f"{key} {value:.4g}" for key, value in readings[-1].items() if key not in ("iteration", "evaluations", "loss"))
            + f" ({time.perf_counter() - clock:.0f} s)")

    record(start, 0, 0, objective.terms(start).total)
    minimize_lbfgs(objective, start, iterations=iterations, chunk_iterations=every,
                   callback=lambda p: record(p.image, p.iteration, p.evaluations, p.terms.total))
    return {"long_edge_px": long_edge, "height_px": height, "width_px": width, "readings": readings,
            "pictures": pictures, "seconds": time.perf_counter() - clock}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="tubingen-starry,coffee-shipwreck,chelsea-demostyle")
    parser.add_argument("--share", type=float, default=0.05, help="distance from the rung's last reading at the plateau (default 5 %%)")
    parser.add_argument("--ladder", default=",".join(f"{px}:{it}" for px, it in LADDER))
    parser.add_argument("--every", type=int, default=10, help="iterations between readings (default 10)")
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    ladder = tuple(tuple(int(v) for v in part.split(":")) for part in options.ladder.split(","))
    backbone, spec = load_backbone("vgg16-hed"), LossSpec()
    results = {"date": time.strftime("%Y-%m-%d"), "ladder": ladder, "share": options.share,
               "every": options.every, "pairs": []}
    for name in options.pairs.split(","):
        results["pairs"].append(climb(name, backbone, spec, options.share, ladder,
                                      lambda text: print(text, flush=True), options.every))
        options.out.write_text(json.dumps(results, indent=1))  # after each pair: a long run keeps its part


if __name__ == "__main__":
    main()
