"""Benchmarks: they measure and report; tests never assert on their timings.

``compare_ladder_to_single`` runs, side by side in one process, a ladder to the target size and a
single rung at the target size started from the content image, and records the loss at the
target size over wall time for both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from core.optimize import Progress
from hires.config import RenderSettings
from hires.ladder import Rung
from hires.render import RenderJob, SilentReporter, render


@dataclass(frozen=True)
class Curve:
    """Loss at the target size against seconds since the run began."""

    name: str
    seconds: tuple[float, ...]
    losses: tuple[float, ...]

    def time_to_reach(self, loss: float) -> float | None:
        """The first time at which the loss was at or below ``loss``, or None."""
        for seconds, value in zip(self.seconds, self.losses):
            if value <= loss:
                return seconds
        return None


class _TimedReporter(SilentReporter):
    """Records the top rung's loss and the time since the render started."""

    def __init__(self, top_index: int) -> None:
        self.top_index = top_index
        self.start = time.perf_counter()
        self.points: list[tuple[float, float]] = []
        self.offset = 0.0

    def rung_started(self, plan) -> None:
        if plan.index == self.top_index:
            self.offset = time.perf_counter() - self.start

    def chunk(self, plan, progress: Progress) -> None:
        if plan.index == self.top_index:
            self.points.append((self.offset + progress.seconds, progress.terms["total"]))


def _run_curve(name: str, job: RenderJob, top_index: int) -> Curve:
    reporter = _TimedReporter(top_index)
    render(job, reporter)
    return Curve(name, tuple(p[0] for p in reporter.points), tuple(p[1] for p in reporter.points))


def compare_ladder_to_single(
    content: Path, style: Path, *, settings: RenderSettings, ladder_rungs: tuple[Rung, ...],
    single_iterations: int, folder: Path,
) -> tuple[Curve, Curve]:
    """Runs the ladder and the single rung on the same target size; returns their loss curves.

    Both use the same weights and targets at the target size, so their losses compare directly.
    The ladder's curve starts at its top rung, timed from the start of its first rung.
    """
    top = ladder_rungs[-1].long_edge_px
    single = replace(settings, ladder=replace(settings.ladder, rungs=(Rung(top, single_iterations),)))
    ladder = replace(settings, ladder=replace(settings.ladder, rungs=ladder_rungs))
    curves = []
    for name, chosen, index in (("single", single, 0), ("ladder", ladder, len(ladder_rungs) - 1)):
        job = RenderJob(content, (style,), folder / f"{name}.png", chosen, overwrite=True, save_rungs=False)
        curves.append(_run_curve(name, job, index))
    return curves[0], curves[1]
