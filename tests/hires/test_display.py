"""The progress displays: what a user reads."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from core.objective import LossTerms
from hires.display import PlainReporter, RichReporter
from tests.conftest import FakeClock as _Clock, progress_at as _progress, square_plans as _plans


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


def test_the_loss_line_adds_up_from_weighted_parts():
    from hires.display import format_terms
    from hires.ladder import Rung

    rung = Rung(64, 10, content_weight=1.0, style_weight=10.0, tv_weight=0.0)
    terms = LossTerms(total=0.3078, content=0.0108, style=0.0265, tv=0.0, range=3.2e-6)
    line = format_terms(terms, rung)
    assert line == "loss 0.3078 = content 0.0108 + style 0.265 + range 0.032"
    parts = [float(part.split()[-1]) for part in line.split(" = ")[1].split(" + ")]
    assert abs(sum(parts) - terms.total) < 1e-3
    quiet = format_terms(terms._replace(total=0.2758, range=0.0), replace(rung, tv_weight=2.0))
    assert quiet == "loss 0.2758 = content 0.0108 + style 0.265 + tv 0"
