"""What size to give the painting where the picture is larger than it: a print's upper rungs.

A render shows each rung the painting at the rung's size (``style_scale`` 1), so the strokes keep
their proportion to the picture; for a poster from a painting scanned at 1024 px that means the
painting enlarged 4-8 times, blurred, at the upper rungs. The alternative keeps it at its own
size there ("native"): sharp, but its strokes are then smaller against the picture.

Which is better can only be judged against what neither render saw: the painting at the
picture's size, sharp. So this proxy takes a painting that is large (the "scan"), gives the
renders a small copy of it (``--copy-px``, default 256), and climbs 256 -> 512 -> 1024 px with
each policy from one shared first rung (shown the copy at its size):

- ``enlarge``: the copy at the rung's size (what a render does today);
- ``native``: the copy never enlarged (``min(rung, copy)`` px);
- ``between``: the geometric mean of the two;
- ``scan``: the scan at the rung's size (the ideal: a painting as large as the print).

Each picture is judged by ``hires.quality.Judge`` against the scan (``style``, ``layout``,
``content``) and, for reference, against the enlarged copy (``style_copy``: today's measure).

    python benchmarks/style_scale.py --pairs tubingen-shipwreck,rocket-starry --out s.json --pictures /tmp/s
    python benchmarks/style_scale.py --report s.json   # each policy's worst ratio to the best
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from quality_ladder import load_pair, painting_at, run_rung  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.objective import LossSpec, make_extractor  # noqa: E402
from hires.quality import Judge  # noqa: E402

POLICIES = ("enlarge", "native", "between", "scan")


def painting_for(policy: str, scan: np.ndarray, copy: np.ndarray, long_edge: int) -> np.ndarray:
    """The painting a rung of ``long_edge`` px is shown under ``policy``."""
    native = max(copy.shape[:2])
    size = {"enlarge": long_edge, "native": min(long_edge, native),
            "between": min(long_edge, round(math.sqrt(long_edge * native))), "scan": long_edge}[policy]
    return painting_at(scan if policy == "scan" else copy, size)


def compare(name: str, backbone, spec: LossSpec, options, log) -> dict:
    photo, scan = load_pair(name)
    copy = painting_at(scan, options.copy_px)
    truth, today = (Judge(backbone, photo, painting, used=spec.layer_names) for painting in (scan, copy))

    def judge(picture):
        return {**truth(picture).__dict__, "style_copy": today(picture).style}

    extractor = make_extractor(backbone, spec)
    (first_px, first_iterations), *upper = options.ladder
    first = run_rung(extractor, spec, photo, painting_at(copy, first_px), None, first_px, first_iterations, judge, options.every,
                     lambda text: log(f"{name} {text}"))
    start = first.pop("pictures")[-1]
    result = {"pair": name, "scan_px": max(scan.shape[:2]), "copy_px": options.copy_px, "first": first, "policies": {}}
    for policy in options.policies:
        previous, rungs = start, []
        for long_edge, iterations in upper:
            painting = painting_for(policy, scan, copy, long_edge)
            rung = run_rung(extractor, spec, photo, painting, previous, long_edge, iterations, judge, options.every,
                            lambda text: log(f"{name} {policy} {text}"))
            previous = rung.pop("pictures")[-1]
            rungs.append({**rung, "painting_px": max(painting.shape[:2])})
        result["policies"][policy] = rungs
        if options.pictures:
            options.pictures.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(previous * 255).astype(np.uint8)).save(options.pictures / f"{name}-{policy}.png")
    return result


MEASURES = ("style", "layout", "content")


def worst_ratios(finished: dict[str, dict]) -> dict[str, float]:
    """Each policy's worst ratio, over the three measures, to the best policy on that measure;
    ``finished``: policy -> its last reading at one rung. 1 is best on every measure. ``scan`` is
    left out: a render does not have it."""
    last = {name: finished[name] for name in POLICIES if name in finished and name != "scan"}
    best = {measure: min(reading[measure] for reading in last.values()) for measure in MEASURES}
    return {name: max(reading[m] / best[m] for m in MEASURES) for name, reading in last.items()}


def finished_rungs(documents: list[dict]) -> dict[tuple[str, int, int], dict[str, dict]]:
    """(pair, copy px, rung px) -> policy -> last reading, gathered over runs (a file of this
    script's output, or of several under "runs"); the first run to give a policy keeps it."""
    table: dict[tuple[str, int, int], dict[str, dict]] = {}
    for document in documents:
        for run in document.get("runs", [document]):
            for pair in run["pairs"]:
                for policy, rungs in pair["policies"].items():
                    for rung in rungs:
                        key = (pair["pair"], pair["copy_px"], rung["long_edge_px"])
                        table.setdefault(key, {}).setdefault(policy, rung["readings"][-1])
    return table


def report(paths: list[Path]) -> None:
    """Prints, for each pair and rung, each policy's worst ratio to the best, from runs' JSON."""
    for (pair, copy_px, long_edge), finished in finished_rungs([json.loads(p.read_text()) for p in paths]).items():
        cells = ", ".join(f"{name} {ratio:.2f}" for name, ratio in worst_ratios(finished).items())
        print(f"{pair}, copy {copy_px} px, {long_edge} px ({long_edge / copy_px:g}x): {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="tubingen-shipwreck,rocket-starry")
    parser.add_argument("--copy-px", type=int, default=256, help="the renders' copy of the painting (default 256)")
    parser.add_argument("--ladder", default="256:200,512:100,1024:80")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--every", type=int, default=40, help="iterations between readings (default 40)")
    parser.add_argument("--pictures", type=Path, help="folder for each policy's final picture (PNG)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, nargs="+", help="print worst ratios from these runs' JSON; run nothing")
    options = parser.parse_args()
    if options.report:
        return report(options.report)
    if options.out is None:
        parser.error("--out is required to run")
    options.ladder = [tuple(int(v) for v in part.split(":")) for part in options.ladder.split(",")]
    options.policies = options.policies.split(",")
    backbone, spec = load_backbone("vgg16-hed"), LossSpec()
    results = {"date": time.strftime("%Y-%m-%d"), "ladder": options.ladder, "copy_px": options.copy_px,
               "every": options.every, "pairs": []}
    for name in options.pairs.split(","):
        results["pairs"].append(compare(name, backbone, spec, options, lambda text: print(text, flush=True)))
        options.out.write_text(json.dumps(results, indent=1))  # after each pair: a long run keeps its part


if __name__ == "__main__":
    main()
