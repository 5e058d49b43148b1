"""Showing a render's progress: a rich display on a terminal, plain log lines elsewhere.

Both show the time left that ``hires.estimate.Estimator`` works out from the measured evaluation
rate, scaled by pixel count.
"""

from __future__ import annotations

import sys
import time
from typing import Sequence, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress as RichProgress, TaskProgressColumn, TextColumn
from rich.text import Text

from core.objective import RANGE_WEIGHT, LossTerms
from core.optimize import Progress
from hires.estimate import Estimator
from hires.ladder import Rung
from hires.job import RungPlan, RungResult


BAR_WIDTH = 24  # with the labels and figures beside it, a line fits 80 columns


def format_seconds(seconds: float) -> str:
    """``3725 -> "1h02m"``, ``75 -> "1m15s"``, ``9.4 -> "9s"``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_terms(terms: LossTerms, rung: Rung) -> str:
    """The loss and its weighted parts, which add up to it: ``loss 0.31 = content 0.011 + style 0.27 + range 0.03``.

    ``range`` is the penalty on pixels outside [0, 1] (see core.objective), shown when it is
    more than 0.1 % of the loss; ``tv`` when its weight is not 0.
    """
    total = terms.total
    parts = [("content", rung.content_weight * terms.content), ("style", rung.style_weight * terms.style)]
    if rung.tv_weight:
        parts.append(("tv", rung.tv_weight * terms.tv))
    excursion = RANGE_WEIGHT * terms.range
    if abs(excursion) > 1e-3 * abs(total):
        parts.append(("range", excursion))
    return f"loss {total:.4g} = " + " + ".join(f"{name} {value:.3g}" for name, value in parts)


def _rate(estimator: Estimator, plan: RungPlan) -> str:
    rate = estimator.evaluations_per_second(plan)
    return f"{rate:.2f} eval/s" if rate is not None else "? eval/s"


def _estimator(plans: Sequence[RungPlan], finished: Sequence[RungResult]) -> Estimator:
    """An estimator for the ladder, with the rungs a resumed render had finished counted as done."""
    estimator = Estimator(plans)
    for result in finished:
        estimator.rung_finished(result.plan)
    return estimator


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

    def ladder_started(self, plans: Sequence[RungPlan], finished: Sequence[RungResult] = ()) -> None:
        self.estimator = _estimator(plans, finished)
        sizes = ", ".join(f"{p.width}x{p.height}" for p in plans)
        self._print(f"ladder: {len(plans)} rung{'s' if len(plans) > 1 else ''} ({sizes})")

    def rung_started(self, plan: RungPlan) -> None:
        self.estimator.rung_started(plan)
        self._print(f"rung {plan.index + 1}/{plan.count}: {plan.width}x{plan.height}, "
                    f"{plan.rung.iterations} iterations ({plan.rung.optimizer})")

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        self.estimator.update(plan, progress)
        left = self.estimator.seconds_left()
        line = (f"rung {plan.index + 1}/{plan.count} iter {progress.iteration}/{progress.iterations}  "
                f"{format_terms(progress.terms, plan.rung)}  {_rate(self.estimator, plan)}  "
                f"left {format_seconds(left) if left is not None else '?'}")
        if progress.message:
            line += f"  [{progress.message}]"
        self._print(line)

    def rung_finished(self, result: RungResult) -> None:
        self.estimator.rung_finished(result.plan)
        where = f", saved {result.path}" if result.path else ""
        self._print(f"rung {result.plan.index + 1}/{result.plan.count} done in "
                    f"{format_seconds(result.seconds)} ({result.stopped}){where}")


class RichReporter:
    """A bar for the whole ladder (with time left) and one for the current rung (with its rate),
    and below them the rung's loss line, which wraps on a narrow terminal instead of squeezing
    the bars out (at 80 columns a loss line beside the bars left no room for them)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.bars = RichProgress(
            TextColumn("{task.description}"), BarColumn(bar_width=BAR_WIDTH), TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"), console=self.console)
        self.loss = Text("")
        self.live = Live(Group(self.bars, self.loss), console=self.console, transient=False,
                         refresh_per_second=4)
        self.estimator: Estimator | None = None
        self.ladder_task = None
        self.rung_task = None

    def message(self, text: str) -> None:
        self.console.print(text, markup=False)  # paths like renders[final]/ are not markup

    def ladder_started(self, plans: Sequence[RungPlan], finished: Sequence[RungResult] = ()) -> None:
        self.estimator = _estimator(plans, finished)
        self.live.start()
        self.ladder_task = self.bars.add_task("ladder", total=self.estimator.work_total(),
                                              completed=self.estimator.work_done(), detail="")

    def rung_started(self, plan: RungPlan) -> None:
        self.estimator.rung_started(plan)
        description = f"rung {plan.index + 1}/{plan.count} {plan.width}x{plan.height}"
        self.rung_task = self.bars.add_task(description, total=plan.rung.iterations, detail="starting")

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        self.estimator.update(plan, progress)
        left = self.estimator.seconds_left()
        if progress.message:
            self.console.print(progress.message, style="yellow", markup=False)
        self.bars.update(self.rung_task, completed=progress.iteration, detail=_rate(self.estimator, plan))
        self.bars.update(self.ladder_task, completed=self.estimator.work_done(),
                         detail=f"left {format_seconds(left) if left is not None else '?'}")
        self.loss.plain = format_terms(progress.terms, plan.rung)

    def rung_finished(self, result: RungResult) -> None:
        self.estimator.rung_finished(result.plan)
        self.bars.update(self.rung_task, completed=result.plan.rung.iterations)
        if result.plan.index + 1 == result.plan.count:
            self.bars.update(self.ladder_task, completed=self.estimator.work_total(), detail="done")
            self.live.stop()

    def close(self) -> None:
        self.live.stop()
