"""A signal whose exception Python drops (raised inside a __del__) still stops the render."""

import gc
import os
import signal
from dataclasses import replace

import pytest

from hires import checkpoint as checkpoints
from hires.config import default_settings
from hires.ladder import Ladder, Rung
from hires.job import RenderJob, SilentReporter
from hires.render import render
from hires.stopping import RenderInterrupted, raise_if_stopped, stop_on_signals
from tests.conftest import noise_image, save_png, smooth_image


class _SignalledWhileCollected:
    """Sends the signal from its __del__ and runs on there, as TensorFlow's should-use helpers do
    when the collector frees a graph: the handler's exception is then only "ignored"."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        total = 0
        for step in range(100_000):  # the handler runs between these bytecodes
            total += step


def _lose_a_signal(signum: int) -> None:
    _SignalledWhileCollected(signum)
    gc.collect()


@pytest.fixture
def interruptible():
    """Ctrl-C as in a terminal, also where the tests run as a background job, which ignores SIGINT
    (and stop_on_signals rightly keeps it ignored then)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("signum, expected", [(signal.SIGTERM, RenderInterrupted), (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_lost_inside_del_is_raised_at_the_next_check(interruptible, signum, expected):
    with stop_on_signals():
        _lose_a_signal(signum)  # before: the exception was printed as "ignored" and the render went on
        with pytest.raises(expected):
            raise_if_stopped()
    raise_if_stopped()  # the stop was that run's: the next one starts without it


def test_the_handlers_are_put_back():
    term, interrupt = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not term
    assert signal.getsignal(signal.SIGTERM) is term and signal.getsignal(signal.SIGINT) is interrupt


class _LosesASigtermAtItsFirstChunk(SilentReporter):
    def __init__(self) -> None:
        self.chunks = 0

    def chunk(self, plan, progress) -> None:
        self.chunks += 1
        if self.chunks == 1:
            _lose_a_signal(signal.SIGTERM)


def test_a_render_stops_and_keeps_its_checkpoint_when_the_signals_exception_is_lost(tmp_path):
    content = save_png(tmp_path / "content.png", smooth_image(48, 64, 0))
    style = save_png(tmp_path / "style.png", noise_image(40, 40, 1))
    settings = replace(default_settings(), backbone="tiny", chunk_iterations=2, ladder=Ladder(rungs=(Rung(32, 400),)))
    job = RenderJob(content, (style,), tmp_path / "out.png", settings)
    reporter = _LosesASigtermAtItsFirstChunk()
    with stop_on_signals(), pytest.raises(RenderInterrupted):
        render(job, reporter, checkpoint_seconds=3600)
    assert reporter.chunks == 1  # stopped at the next chunk, not 200 chunks later
    assert checkpoints.read_checkpoint(checkpoints.state_folder(job.output)).optimizer is not None
    assert not job.output.exists()
