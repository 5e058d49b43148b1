"""The time a ladder has left, from the evaluation rate measured as it runs, scaled by pixel count.

A rung costs a start-up (its targets' forward passes; tracing and compiling the evaluation) and
then a steady price per evaluation. Both are measured per rung: the price between one progress
report and the next, the start-up as whatever the first report took beyond that price. Rungs yet
to run are priced from the rungs measured. With one measured, in proportion to pixels. With two or
more, as a fixed part plus a part per pixel, through the two largest measured: on a CPU a
128 px rung costs about twice per pixel what a 512 px rung does (dispatch, small convolutions),
and pricing the 512 px rung in proportion to the 128 px one doubled the first estimates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from core.optimize import Progress
from hires.job import RungPlan


@dataclass
class _RungClock:
    """One rung's timings in this process."""

    started: float
    last_time: float | None = None  # of the latest report; None before the first
    last_evaluations: int = 0
    steady_seconds: float = 0.0  # between reports
    steady_evaluations: int = 0


@dataclass
class Estimator:
    """Time left for a ladder.

    Attributes:
        plans: the ladder's rungs.
        clock: seconds, monotonic (a parameter so that tests can drive it).
        evaluations_per_iteration: measured on the current rung (L-BFGS: 1 to 2).
        done_iterations: iterations done, per rung index.
        prices: seconds per evaluation, per rung measured.
        startups: seconds a rung took before its steady price, per rung measured.
    """

    plans: Sequence[RungPlan]
    clock: Callable[[], float] = time.perf_counter
    evaluations_per_iteration: float = 1.5
    done_iterations: dict[int, int] = field(default_factory=dict)
    prices: dict[int, float] = field(default_factory=dict)
    startups: dict[int, float] = field(default_factory=dict)
    firsts: dict[int, tuple[float, int]] = field(default_factory=dict)  # (seconds, evaluations) to the first report
    _current: tuple[int, _RungClock] | None = None

    def rung_started(self, plan: RungPlan) -> None:
        self._current = (plan.index, _RungClock(self.clock()))

    def rung_finished(self, plan: RungPlan) -> None:
        self.done_iterations[plan.index] = plan.rung.iterations

    def update(self, plan: RungPlan, progress: Progress) -> None:
        """Takes one progress report of ``plan``'s rung."""
        now = self.clock()
        if self._current is None or self._current[0] != plan.index:
            self.rung_started(plan)  # a caller that skipped rung_started: time from here
        rung = self._current[1]
        if rung.last_time is None:
            # A resumed rung's evaluations count the earlier run's too: only this run's are priced.
            evaluations = progress.evaluations - progress.evaluations_before
            if evaluations > 0:
                self.firsts[plan.index] = (now - rung.started, evaluations)
        elif progress.evaluations > rung.last_evaluations:
            rung.steady_seconds += now - rung.last_time
            rung.steady_evaluations += progress.evaluations - rung.last_evaluations
            price = rung.steady_seconds / rung.steady_evaluations
            self.prices[plan.index] = price
            if plan.index in self.firsts:
                first_seconds, first_evaluations = self.firsts[plan.index]
                self.startups[plan.index] = max(0.0, first_seconds - first_evaluations * price)
        rung.last_time, rung.last_evaluations = now, progress.evaluations
        if progress.iteration:
            # The rung's first evaluation (of its starting image) belongs to no iteration: counted
            # in, a rung's first report of 1 iteration read 2 to 3 evaluations per iteration.
            self.evaluations_per_iteration = max(1.0, (progress.evaluations - 1) / progress.iteration)
        self.done_iterations[plan.index] = progress.iteration

    def evaluations_per_second(self, plan: RungPlan) -> float | None:
        """The rung's measured pace (after a resume, of this run's evaluations only)."""
        price = self._price_of(plan.index)
        return 1.0 / price if price else None

    def _price_of(self, index: int) -> float | None:
        """A rung's price: steady once it has reported twice; before, its first report less the
        start-up the latest rung measured (or, before any, with its own start-up inside)."""
        if index in self.prices:
            return self.prices[index]
        if index not in self.firsts:
            return None
        seconds, evaluations = self.firsts[index]
        startup = self._startup()
        return (seconds - startup if seconds > startup else seconds) / evaluations

    def work_done(self) -> float:
        """Pixel-iterations done, the unit of the ladder bar."""
        return sum(self.done_iterations.get(p.index, 0) * p.pixels for p in self.plans)

    def work_total(self) -> float:
        return sum(p.rung.iterations * p.pixels for p in self.plans)

    def seconds_left(self) -> float | None:
        """Seconds until the last rung ends, or None before any rung has reported."""
        if not self.firsts:
            return None
        price = self._price_model()
        startup = self._startup()
        seconds = 0.0
        for plan in self.plans:
            done = self.done_iterations.get(plan.index, 0)
            if done >= plan.rung.iterations:
                continue
            evaluations = (plan.rung.iterations - done) * self.evaluations_per_iteration
            if plan.index in self.firsts:  # under way: its own price
                seconds += evaluations * self._price_of(plan.index)
            else:
                seconds += evaluations * price(plan.pixels) + startup
        return seconds

    def _price_model(self) -> Callable[[int], float]:
        """Seconds per evaluation for a rung of so many pixels, from the rungs measured.

        A rung that has reported once counts with its start-up taken out (``_price_of``): the rung
        under way is the largest measured, the best guide to the larger ones to come.
        """
        measured = {i: self._price_of(i) for i in self.firsts}
        by_pixels = {self._plan(i).pixels: p for i, p in sorted(measured.items())}
        sizes = sorted(by_pixels)
        largest, price_largest = sizes[-1], by_pixels[sizes[-1]]
        if len(sizes) >= 2:
            smaller = sizes[-2]
            per_pixel = (price_largest - by_pixels[smaller]) / (largest - smaller)
            if per_pixel > 0:
                fixed = price_largest - per_pixel * largest
                return lambda pixels: max(fixed + per_pixel * pixels, 0.0)
        # One size measured, or a smaller rung that cost more: in proportion to pixels.
        return lambda pixels: price_largest * pixels / largest

    def _startup(self) -> float:
        """A rung's start-up, as the latest measured one (0 until a rung has reported twice)."""
        return self.startups[max(self.startups)] if self.startups else 0.0

    def _plan(self, index: int) -> RungPlan:
        return next(p for p in self.plans if p.index == index)
