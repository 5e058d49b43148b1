"""Showing a render's progress: a rich display on a terminal, plain log lines elsewhere.

Both estimate the time left from the measured evaluation rate, scaled by pixel count: a rung
of 4x the pixels costs about 4x per evaluation.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Sequence, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress as RichProgress, TaskProgressColumn, TextColumn

from core.optimize import Progress
from hires.render import RungPlan, RungResult


def format_seconds(seconds: float) -> str:
    """``3725 -> "1h02m"``, ``75 -> "1m15s"``, ``9.4 -> "9s"``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_terms(terms: dict[str, float]) -> str:
    """The loss and its parts, as short as they can be read."""
    parts = [f"loss {terms['total']:.4g}", f"content {terms['content']:.3g}", f"style {terms['style']:.3g}"]
    if terms.get("tv", 0.0):
        parts.append(f"tv {terms['tv']:.3g}")
    return "  ".join(parts)


@dataclass
class Estimator:
    """Time left for a ladder, from seconds per evaluation per pixel and evaluations per iteration."""

    plans: Sequence[RungPlan]
    seconds_per_pixel_evaluation: float | None = None
    evaluations_per_iteration: float = 1.5
    done_iterations: dict[int, int] = field(default_factory=dict)

    def update(self, plan: RungPlan, progress: Progress) -> None:
        if progress.evaluations and progress.seconds > 0:
            self.seconds_per_pixel_evaluation = progress.seconds / progress.evaluations / plan.pixels
        if progress.iteration:
            self.evaluations_per_iteration = progress.evaluations / progress.iteration
        self.done_iterations[plan.index] = progress.iteration

    def work_done(self) -> float:
        """Pixel-iterations done, the unit of the ladder bar."""
        return sum(self.done_iterations.get(p.index, 0) * p.pixels for p in self.plans)

    def work_total(self) -> float:
        return sum(p.rung.iterations * p.pixels for p in self.plans)

    def seconds_left(self) -> float | None:
        if self.seconds_per_pixel_evaluation is None:
            return None
        work = self.work_total() - self.work_done()
        return work * self.evaluations_per_iteration * self.seconds_per_pixel_evaluation


class PlainReporter:
    """One log line per chunk and per rung, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.estimator: Estimator | None = None
        self.clock = time.perf_counter()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def message(self, text: str) -> None:
        self._print(text)

    def ladder_started(self, plans: Sequence[RungPlan]) -> None:
        self.estimator = Estimator(plans)
        sizes = ", ".join(f"{p.width}x{p.height}" for p in plans)
        self._print(f"ladder: {len(plans)} rung{'s' if len(plans) > 1 else ''} ({sizes})")

    def rung_started(self, plan: RungPlan) -> None:
        self._print(f"rung {plan.index + 1}/{plan.count}: {plan.width}x{plan.height}, "
                    f"{plan.rung.iterations} iterations ({plan.rung.optimizer})")

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        self.estimator.update(plan, progress)
        left = self.estimator.seconds_left()
        rate = progress.evaluations / progress.seconds if progress.seconds > 0 else 0.0
        line = (f"rung {plan.index + 1}/{plan.count} iter {progress.iteration}/{progress.iterations}  "
                f"{format_terms(progress.terms)}  {rate:.2f} eval/s  "
                f"left {format_seconds(left) if left is not None else '?'}")
        if progress.message:
            line += f"  [{progress.message}]"
        self._print(line)

    def rung_finished(self, result: RungResult) -> None:
        self.estimator.done_iterations[result.plan.index] = result.plan.rung.iterations
        where = f", saved {result.path}" if result.path else ""
        self._print(f"rung {result.plan.index + 1}/{result.plan.count} done in "
                    f"{format_seconds(result.seconds)} ({result.stopped}){where}")


class RichReporter:
    """A bar for the whole ladder (with time left) and a bar for the current rung (with its loss)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bars = RichProgress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"), console=self.console, transient=False)
        self.estimator: Estimator | None = None
        self.ladder_task = None
        self.rung_task = None

    def message(self, text: str) -> None:
        self.console.print(text)

    def ladder_started(self, plans: Sequence[RungPlan]) -> None:
        self.estimator = Estimator(plans)
        self.bars.start()
        self.ladder_task = self.bars.add_task("ladder", total=self.estimator.work_total(), detail="")

    def rung_started(self, plan: RungPlan) -> None:
        description = f"rung {plan.index + 1}/{plan.count} {plan.width}x{plan.height}"
        self.rung_task = self.bars.add_task(description, total=plan.rung.iterations, detail="starting")

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        self.estimator.update(plan, progress)
        left = self.estimator.seconds_left()
        rate = progress.evaluations / progress.seconds if progress.seconds > 0 else 0.0
        detail = f"{format_terms(progress.terms)}  {rate:.2f} eval/s"
        if progress.message:
            self.console.print(f"[yellow]{progress.message}[/yellow]")
        self.bars.update(self.rung_task, completed=progress.iteration, detail=detail)
        self.bars.update(self.ladder_task, completed=self.estimator.work_done(),
                         detail=f"left {format_seconds(left) if left is not None else '?'}")

    def rung_finished(self, result: RungResult) -> None:
        self.estimator.done_iterations[result.plan.index] = result.plan.rung.iterations
        self.bars.update(self.rung_task, completed=result.plan.rung.iterations)
        if result.plan.index + 1 == result.plan.count:
            self.bars.update(self.ladder_task, completed=self.estimator.work_total(), detail="done")
            self.bars.stop()

    def close(self) -> None:
        self.bars.stop()
