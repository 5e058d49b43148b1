"""The time-left estimate, driven by a clock the tests move."""

from __future__ import annotations

import io

import pytest

from hires.display import PlainReporter
from hires.estimate import Estimator
from hires.job import RungPlan, RungResult
from tests.conftest import FakeClock, progress_at, square_plans


def _ladder(*rungs: tuple[int, int]) -> tuple[FakeClock, list[RungPlan], Estimator]:
    clock, plans = FakeClock(), square_plans(*rungs)
    return clock, plans, Estimator(plans, clock=clock)


def _run_rung(estimator: Estimator, clock: FakeClock, plan: RungPlan, *, startup: float, price: float,
              chunks: int, chunk: int = 10, finish: bool = False) -> None:
    """Runs ``chunks`` reports of ``chunk`` iterations at one evaluation each; then ends the rung if ``finish``."""
    estimator.rung_started(plan)
    clock.now += startup
    for k in range(1, chunks + 1):
        clock.now += chunk * price
        estimator.update(plan, progress_at(k * chunk, k * chunk))
    if finish:
        estimator.rung_finished(plan)


def test_no_estimate_before_the_first_report():
    plans = square_plans((64, 10))
    estimator = Estimator(plans, clock=FakeClock())
    estimator.rung_started(plans[0])
    assert estimator.seconds_left() is None


def test_a_rung_is_priced_between_reports_and_its_start_up_kept_apart():
    clock, plans, estimator = _ladder((100, 50))
    _run_rung(estimator, clock, plans[0], startup=30.0, price=2.0, chunks=1)
    # One report: the start-up is inside the price, so the estimate is high.
    assert estimator.seconds_left() == pytest.approx(40 * 50.0 / 10)
    clock.now += 10 * 2.0
    estimator.update(plans[0], progress_at(20, 20))
    assert estimator.prices[0] == pytest.approx(2.0)
    assert estimator.startups[0] == pytest.approx(30.0)
    assert estimator.seconds_left() == pytest.approx(30 * 2.0)


def test_later_rungs_are_priced_in_proportion_to_pixels_from_one_measured_rung():
    clock, plans, estimator = _ladder((100, 30), (200, 10))
    _run_rung(estimator, clock, plans[0], startup=5.0, price=1.0, chunks=3, finish=True)
    assert estimator.seconds_left() == pytest.approx(10 * 4.0 + 5.0)  # 4x the pixels, 4x the price


def test_two_measured_sizes_give_a_fixed_part_and_a_part_per_pixel():
    clock, plans, estimator = _ladder((100, 20), (200, 20), (400, 10))
    # Seconds per evaluation = 0.5 + pixels / 10_000: 1.5 at 100 px, 4.5 at 200 px, 16.5 at 400 px.
    _run_rung(estimator, clock, plans[0], startup=3.0, price=1.5, chunks=2, finish=True)
    _run_rung(estimator, clock, plans[1], startup=3.0, price=4.5, chunks=2, finish=True)
    assert estimator.seconds_left() == pytest.approx(10 * 16.5 + 3.0)


def test_a_smaller_rung_that_cost_more_falls_back_to_proportion():
    clock, plans, estimator = _ladder((100, 20), (200, 20), (400, 10))
    _run_rung(estimator, clock, plans[0], startup=0.0, price=5.0, chunks=2, finish=True)
    _run_rung(estimator, clock, plans[1], startup=0.0, price=4.0, chunks=2, finish=True)
    assert estimator.seconds_left() == pytest.approx(10 * 16.0)


def test_the_current_rung_keeps_its_own_price_and_iterations_left():
    clock, plans, estimator = _ladder((100, 20), (200, 40))
    _run_rung(estimator, clock, plans[0], startup=0.0, price=1.0, chunks=2, finish=True)
    _run_rung(estimator, clock, plans[1], startup=7.0, price=3.0, chunks=2)
    assert estimator.seconds_left() == pytest.approx(20 * 3.0)
    assert estimator.work_done() == pytest.approx(20 * 100 * 100 + 20 * 200 * 200)


def test_evaluations_per_iteration_scale_what_is_left():
    clock, plans, estimator = _ladder((100, 30))
    estimator.rung_started(plans[0])
    clock.now += 20.0
    estimator.update(plans[0], progress_at(10, 21))
    clock.now += 20.0
    estimator.update(plans[0], progress_at(20, 41))  # the start's evaluation, then 2 an iteration at 1 s each
    assert estimator.seconds_left() == pytest.approx(10 * 2 * 1.0)


def test_a_first_report_of_one_iteration_is_not_read_as_three_evaluations_an_iteration():
    """L-BFGS evaluates its start, then about once an iteration: 3 evaluations at iteration 1 is 2 an iteration."""
    clock, plans, estimator = _ladder((100, 30))
    estimator.rung_started(plans[0])
    clock.now += 3.0
    estimator.update(plans[0], progress_at(1, 3))
    assert estimator.evaluations_per_iteration == pytest.approx(2.0)
    estimator.update(plans[0], progress_at(1, 1))
    assert estimator.evaluations_per_iteration == pytest.approx(1.0)  # never below one an iteration


def test_a_resumed_ladder_counts_its_finished_rungs_as_done():
    plans = square_plans((100, 20), (200, 20))
    reporter = PlainReporter(io.StringIO())
    finished = RungResult(plans[0], None, (), "iterations", 12.0, None)
    reporter.ladder_started(plans, [finished])
    assert reporter.estimator.work_done() == 20 * 100 * 100
    reporter.estimator.clock = clock = FakeClock()
    _run_rung(reporter.estimator, clock, plans[1], startup=0.0, price=1.0, chunks=2)
    assert reporter.estimator.seconds_left() == pytest.approx(0.0)


def test_a_rung_that_reported_once_is_priced_without_the_start_up_the_last_rung_measured():
    clock, plans, estimator = _ladder((100, 20), (200, 20), (400, 10))
    _run_rung(estimator, clock, plans[0], startup=3.0, price=1.5, chunks=2, finish=True)
    _run_rung(estimator, clock, plans[1], startup=3.0, price=4.5, chunks=1)
    assert estimator.evaluations_per_second(plans[1]) == pytest.approx(1 / 4.5)
    # It counts in the price model too: 16.5 s per evaluation at 400 px, as above.
    assert estimator.seconds_left() == pytest.approx(10 * 4.5 + 10 * 16.5 + 3.0)
