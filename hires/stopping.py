"""Ctrl-C and SIGTERM stop a render, even when Python drops the exception they raise.

Python runs a signal handler between any two bytecodes of the main thread, also inside an
object's ``__del__``: TensorFlow's "should use" helpers run there whenever the garbage collector
frees a graph. An exception raised inside ``__del__`` is printed as "Exception ignored in ..." and
lost, and the render went on as if nothing had been asked (seen as a SIGTERM that a render
outlived by minutes). So the handler also records the signal, and the render looks at the record
at every chunk, every rung and between batch jobs (``raise_if_stopped``).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


class RenderInterrupted(BaseException):
    """Raised (from a signal handler) to stop a render; it checkpoints, then exits with ``exit_status``.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it.
    """

    def __init__(self, exit_status: int) -> None:
        super().__init__(f"interrupted (exit status {exit_status})")
        self.exit_status = exit_status


_received: list[int] = []  # the signals that arrived while stop_on_signals was in force


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else RenderInterrupted(128 + signum)


def silence_tensorflow() -> None:
    """After an interrupt, TensorFlow logs "Object was never used" for the graph it left half
    traced: not the user's concern, and it would bury the one line that says what happened."""
    logging.getLogger("tensorflow").setLevel(logging.CRITICAL)


def _handle(signum: int, frame) -> None:
    _received.append(signum)
    silence_tensorflow()
    raise _exception(signum)


def raise_if_stopped() -> None:
    """Raises the interrupt a signal asked for, if its own exception was lost."""
    if _received:
        raise _exception(_received[0])


def _quiet_about_interrupts(previous):
    """An unraisable-exception hook that drops the interrupts recorded above (they are raised
    again at the next check) and passes everything else on."""
    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, (KeyboardInterrupt, RenderInterrupted)) and _received:
            return
        previous(unraisable)
    return hook


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM (a scheduler's pre-emption, ``kill``) raises RenderInterrupted, and Ctrl-C
    KeyboardInterrupt, recorded so that they cannot be lost; outside the main thread (where Python
    allows no handlers) nothing changes. A SIGINT that was ignored (a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_term = signal.signal(signal.SIGTERM, _handle)
    previous_int = signal.getsignal(signal.SIGINT)
    replace_int = previous_int is signal.default_int_handler
    if replace_int:
        signal.signal(signal.SIGINT, _handle)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _quiet_about_interrupts(sys.unraisablehook)
    try:
        yield
    finally:
        _received.clear()  # a stop asked during this run was this run's
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous_term)
        if replace_int:
            signal.signal(signal.SIGINT, previous_int)
