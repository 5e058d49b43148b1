"""The progress displays: what a user reads."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from hires.display import PlainReporter, RichReporter
from tests.hires.test_estimate import _Clock, _plans, _progress


def test_rich_messages_print_brackets_as_written():
    stream = io.StringIO()
    reporter = RichReporter(Console(file=stream, width=200))
    reporter.message("wrote renders[final]/out.png")
    assert "renders[final]/out.png" in stream.getvalue()


def test_the_rate_shown_after_a_resume_counts_this_run_only():
    """A rung resumed at 450 of 500 evaluations: its reports must not claim 450 in a few seconds."""
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    plans = _plans((64, 500))
    reporter.ladder_started(plans)
    reporter.estimator.clock = clock = _Clock()
    reporter.rung_started(plans[0])
    for evaluations in (460, 470):
        clock.now += 20.0  # 10 evaluations in 20 s
        reporter.chunk(plans[0], replace(_progress(evaluations, evaluations), evaluations_before=450))
    rates = [line.split("  ")[-2] for line in stream.getvalue().splitlines() if " iter " in line]
    assert rates == ["0.50 eval/s", "0.50 eval/s"]
