"""How good is the time-left estimate? One real render, and both estimators replayed on its reports.

It renders a ladder (by default configs/quick.toml, vgg16-hed, tubingen x starry night), records
when each rung started and each progress report arrived, then replays those events through the
estimator the display uses (``hires.estimate.Estimator``) and through the one it replaced
(seconds per evaluation per pixel from the current rung's cumulative time, including its
start-up, times the pixel-iterations left). Both see the same events, so the comparison is
within one run. It prints, at each report, the true time left and both estimates.

    python benchmarks/time_left.py                      # the quick ladder
    python benchmarks/time_left.py --ladder 128:30,256:20,512:30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hires.config import load_config  # noqa: E402
from hires.estimate import Estimator  # noqa: E402
from hires.ladder import Rung  # noqa: E402
from hires.job import RenderJob, SilentReporter  # noqa: E402
from hires.render import render  # noqa: E402

IMAGES = ROOT.parent / "shared" / "images"


class Recorder(SilentReporter):
    """Keeps ``(time, kind, plan, progress)`` for every rung start and report."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def rung_started(self, plan) -> None:
        self.events.append((time.perf_counter(), "start", plan, None))

    def chunk(self, plan, progress) -> None:
        self.events.append((time.perf_counter(), "chunk", plan, progress))

    def rung_finished(self, result) -> None:
        self.events.append((time.perf_counter(), "finish", result.plan, None))


def previous_estimate(plans, done: dict[int, int], plan, progress) -> float:
    """The estimator before 2026-11-26: the current rung's cumulative rate, scaled by pixels."""
    per_pixel_evaluation = progress.seconds / progress.evaluations / plan.pixels
    per_iteration = progress.evaluations / progress.iteration
    work = sum((p.rung.iterations - done.get(p.index, 0)) * p.pixels for p in plans)
    return work * per_iteration * per_pixel_evaluation


def replay(events: list[tuple], end: float) -> list[tuple[str, float, float, float]]:
    """``(where, true seconds left, previous estimate, current estimate)`` at each report."""
    plans = [e[2] for e in events if e[1] == "start"]
    now = [0.0]
    current = Estimator(plans, clock=lambda: now[0])
    done: dict[int, int] = {}
    rows = []
    for when, kind, plan, progress in events:
        now[0] = when
        if kind == "start":
            current.rung_started(plan)
        elif kind == "finish":
            current.rung_finished(plan)
            done[plan.index] = plan.rung.iterations
        else:
            current.update(plan, progress)
            done[plan.index] = progress.iteration
            where = f"{plan.width}x{plan.height} it {progress.iteration}"
            rows.append((where, end - when, previous_estimate(plans, done, plan, progress),
                         current.seconds_left()))
    for plan in plans:
        print(f"{plan.width}x{plan.height}: {current.prices[plan.index]:.3f} s per evaluation, "
              f"start-up {current.startups.get(plan.index, float('nan')):.1f} s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=IMAGES / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=IMAGES / "starry_night.jpg")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quick.toml")
    parser.add_argument("--ladder", help="PX:ITERATIONS,... instead of the config's rungs")
    parser.add_argument("--backbone", default="vgg16-hed")
    args = parser.parse_args()
    settings = replace(load_config(args.config), backbone=args.backbone)
    if args.ladder:
        rungs = tuple(Rung(int(px), int(it)) for px, it in (r.split(":") for r in args.ladder.split(",")))
        settings = replace(settings, ladder=replace(settings.ladder, rungs=rungs))
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as folder:
        job = RenderJob(args.content, (args.style,), Path(folder) / "out.png", settings, save_rungs=False)
        render(job, recorder)
    end = max(e[0] for e in recorder.events)
    rows = replay(recorder.events, end)
    print(f"{'report':<24} {'true left':>9} {'previous':>9} {'current':>9}")
    for where, true, before, after in rows:
        print(f"{where:<24} {true:9.1f} {before:9.1f} {after:9.1f}")
    for name, column in (("previous", 2), ("current", 3)):
        errors = [abs(r[column] / r[1] - 1) for r in rows if r[1] > 0]
        print(f"{name}: median error {statistics.median(errors):.0%}, worst {max(errors):.0%} "
              f"over {len(errors)} reports")


if __name__ == "__main__":
    main()
