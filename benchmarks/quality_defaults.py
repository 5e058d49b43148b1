"""Two ladders rendered as hires renders them, judged as a viewer sees them, with their cost.

For each pair, each ladder (a config file, or ``default:SIZE`` for the built-in ladder to that
size, with ``@old`` for the built-in ladder until 2026-12-05: 200 iterations at 256 px and 100 on
every later rung, on pixels, enlarged by bicubic) is rendered by ``hires.render.render`` and its picture judged by
``hires.quality.Judge``; the cost is the evaluations times megapixels of every rung. Written as
JSON, and a line per render.

    python benchmarks/quality_defaults.py --pairs astronaut-starry --ladders default:1024@old,default:1024 --out d.json

``--judge-every N`` also judges the top rung's picture every N iterations, with the cost so far,
so that one render gives the ladder with its top rung stopped at N, 2N, ...
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.quality_ladder import load_pair  # noqa: E402
from benchmarks.plateau_report import stop_at  # noqa: E402
from hires import images  # noqa: E402
from hires.config import default_settings, load_config  # noqa: E402
from hires.job import RenderJob, SilentReporter  # noqa: E402
from hires.ladder import EARLIER_DEFAULT_ITERATIONS, EARLIER_DEFAULT_UPSAMPLE, Ladder, default_rungs  # noqa: E402
from hires.plan import CHANGED_DEFAULTS, choose_backbone  # noqa: E402
from hires.quality import Judge, cost_of  # noqa: E402
from hires.render import render  # noqa: E402



class Costs(SilentReporter):
    """Each rung's cost and losses; with ``judge`` and ``every``, the top rung's picture judged every
    ``every`` iterations (``readings``), so that one render shows its top rung stopped anywhere."""

    def __init__(self, judge: Judge | None = None, every: int = 0) -> None:
        self.rungs: list[tuple[int, int, str, int]] = []
        self.losses: list[list[tuple[int, float]]] = []  # per rung, (iteration, loss) at each chunk's end
        self.judge, self.every = judge, every
        self.readings: list[dict] = []

    def cost(self) -> float:
        """MP-evaluations of the rungs finished so far."""
        return cost_of([r[:2] for r in self.rungs])

    def chunk(self, plan, progress) -> None:
        if self.judge is None or plan.index != plan.count - 1 or progress.iteration % self.every:
            return
        below = self.cost()
        quality = self.judge(np.clip(np.asarray(progress.image)[0], 0.0, 1.0))
        self.readings.append({"iteration": progress.iteration, "cost_mp_evaluations":
                              below + plan.pixels * progress.evaluations / 1e6, **quality.__dict__})
        print(f"  top rung at {progress.iteration}: cost {self.readings[-1]['cost_mp_evaluations']:.1f}, "
              f"style {quality.style:.4g}, layout {quality.layout:.4g}, content {quality.content:.4g}, "
              f"grid {quality.grid:.4g}", flush=True)

    def rung_finished(self, result) -> None:
        done = result.history[-1] if result.history else None
        self.rungs.append((result.plan.pixels, done.evaluations if done else 0, result.stopped,
                           done.iteration if done else 0))
        self.losses.append([(p.iteration, float(p.terms.total)) for p in result.history])


def would_stop(losses: list[tuple[int, float]], gain: float) -> int:
    """The iteration where ``--stop-gain gain`` would have ended a rung with these losses (one per
    10 iterations, as a render's chunks report them; the last: it never would). Up to there the
    run is the same with the rule as without it."""
    readings = [{"iteration": iteration, "loss": loss} for iteration, loss in losses]
    return readings[stop_at(readings, gain)]["iteration"]


def settings_for(ladder: str):
    """``configs/x.toml``, ``default:1024`` or ``default:1024@old``."""
    if not ladder.startswith("default:"):
        return load_config(ladder)
    size, _, era = ladder.removeprefix("default:").partition("@")
    settings = replace(default_settings(int(size)), backbone="vgg16-hed")
    if era == "old":
        old = default_rungs(int(size), EARLIER_DEFAULT_ITERATIONS[-1])  # the built-in ladder until 2026-12-05
        # Every default that changed since, at its earlier value: a new one cannot creep in.
        earlier = {name: value for name, _, value, _ in CHANGED_DEFAULTS}
        settings = replace(settings, ladder=Ladder(rungs=old, upsample=EARLIER_DEFAULT_UPSAMPLE), **earlier)
    return settings


def _setting(name: str, value: str) -> tuple[str, int | float | str]:
    """``--set NAME=VALUE``: a whole number where it reads as one (chunk_iterations=2), else a
    number (coarse_step=0.1), else the word (pooling=blur)."""
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--ladders", required=True, help="comma-separated: config paths or default:SIZE[@old]")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keep", type=Path, help="keep each picture here, as PAIR.LADDER-NAME.png")
    parser.add_argument("--stop-gain", type=float, help="stop_gain for every ladder (default: each ladder's own)")
    parser.add_argument("--start-noise", type=float, help="start_noise for every ladder (default: each ladder's own)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every ladder, a number (e.g. coarse_step=0.1) or a name "
                        "(pooling=blur); may be repeated")
    parser.add_argument("--would-stop", default="", help="comma-separated gains: print where --stop-gain G would "
                        "have ended each rung of a run without it")
    parser.add_argument("--judge-every", type=int, default=0, metavar="N",
                        help="also judge the top rung's picture every N iterations (a multiple of 10)")
    options = parser.parse_args()
    results = {"date": time.strftime("%Y-%m-%d"), "runs": []}
    for pair in options.pairs.split(","):
        photo, painting = load_pair(pair)
        with tempfile.TemporaryDirectory() as folder:
            content, style = Path(folder) / "content.png", Path(folder) / "style.png"
            images.write_image(content, photo), images.write_image(style, painting)
            for ladder in options.ladders.split(","):
                settings = replace(settings_for(ladder), backbone="vgg16-hed")
                if options.stop_gain is not None:
                    settings = replace(settings, stop_gain=options.stop_gain)
                if options.start_noise is not None:
                    settings = replace(settings, start_noise=options.start_noise)
                settings = replace(settings, **dict(_setting(name, value) for name, value in
                                                    (item.split("=", 1) for item in options.set)))
                backbone, _ = choose_backbone(settings)
                used = [settings.content_layer, *(name for name, _ in settings.style_layers)]
                judge = Judge(backbone, images.read_image(content), images.read_image(style), used=used)
                reporter = Costs(judge if options.judge_every else None, options.judge_every)
                output, clock = Path(folder) / "out.png", time.perf_counter()
                render(RenderJob(content, (style,), output, settings, overwrite=True, save_rungs=False), reporter,
                       restart=True)
                quality = judge(images.read_image(output))
                run = {"pair": pair, "ladder": ladder, "cost_mp_evaluations": reporter.cost(),
                       "stop_gain": settings.stop_gain, "start_noise": settings.start_noise,
                       "coarse_step": settings.coarse_step, "style_enlarge": settings.style_enlarge,
                       "upsample": settings.ladder.upsample,
                       "rungs": [{"pixels": p, "evaluations": e, "stopped": s, "iterations": i, "losses": losses}
                                 for (p, e, s, i), losses in zip(reporter.rungs, reporter.losses)],
                       "top_readings": reporter.readings,
                       "seconds": time.perf_counter() - clock, **quality.__dict__}
                results["runs"].append(run)
                print(f"{pair} {ladder}: cost {run['cost_mp_evaluations']:.1f} MP·eval, style {quality.style:.4g}, "
                      f"layout {quality.layout:.4g}, content {quality.content:.4g}, grid {quality.grid:.4g}, "
                      f"iterations {[r[3] for r in reporter.rungs]} ({run['seconds']:.0f} s)", flush=True)
                for gain in filter(None, options.would_stop.split(",")):
                    ends = [would_stop(losses, float(gain)) for losses in reporter.losses]
                    print(f"  --stop-gain {gain} would end the rungs at iterations {ends} (a rung's last: not "
                          "before its end)")
                options.out.write_text(json.dumps(results, indent=1))
                if options.keep is not None:
                    options.keep.mkdir(parents=True, exist_ok=True)
                    name = ladder.replace("/", "_").replace(":", "-").replace("@", "-")
                    output.replace(options.keep / f"{pair}.{name}.png")


if __name__ == "__main__":
    main()
