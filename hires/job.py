"""What a render is asked to do, what it plans per rung, what it hands back, and who hears of it.

These types are shared by the planner (``hires.plan``), the climb (``hires.render``) and those
who watch it (``hires.display``, ``hires.estimate``, ``hires.bench``, ``hires.batch``); none of
them needs TensorFlow, so the ones who only watch never load the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from hires.config import RenderSettings
from hires.devices import MachineOptions
from hires.ladder import Rung
from hires.tiling import MemoryPlan

if TYPE_CHECKING:
    from core.optimize import Progress


@dataclass(frozen=True)
class RenderJob:
    """One picture to render.

    Attributes:
        content: the photograph.
        styles: one or more paintings.
        output: the file to write; its extension picks the format.
        settings: the ladder and every render option, as the user gave them (``hires.plan``
            completes the ladder once the photograph's size is known).
        overwrite: replace an existing output.
        save_rungs: save each rung's result in ``<output>.rungs/`` as it finishes, and a
            contact sheet of the whole ladder as ``<output>.contact.png``.
        machine: devices, memory and tiling (they do not change the picture beyond rounding).
        guard: called before every file the render writes (checkpoints, rung pictures, the
            contact sheet, the output) and after every chunk; raising stops the render with
            nothing more written. A batch passes its lock's check, so that a process that lost
            its job to another writes nothing over that process's work.
        replace_rungs: a fresh render replaces an earlier render's rung pictures without being
            asked. A batch sets it: its jobs' pictures are its own (a crash can leave them
            without a state folder), and refusing would stop the whole night's batch.
    """

    content: Path
    styles: tuple[Path, ...]
    output: Path
    settings: RenderSettings
    overwrite: bool = False
    save_rungs: bool = True
    machine: MachineOptions = MachineOptions()
    guard: Callable[[], None] = lambda: None
    replace_rungs: bool = False


@dataclass(frozen=True)
class RungPlan:
    """What one rung will do, known before any pixel is optimised.

    Attributes:
        index, count: the rung's place (from 0) and the ladder's length.
        rung: the rung with every value resolved (``Ladder.resolve``).
        height, width: its size in pixels, multiples of ``stride``.
        style_shapes: each painting's size at this rung (``style_scale``).
        memory: whole image or tiles, correction pairs, the planned peak.
        stride: the backbone's total stride.
        xla: whether its whole-image evaluation is compiled with XLA.
        compiled_loop: whether its L-BFGS chunks run as one compiled program (``core.compiled``).
        preconditioned: whether its L-BFGS runs over a filtered picture (``core.precondition``,
            ``--coarse-step``): a later L-BFGS rung with ``coarse_step`` below 1.
    """

    index: int
    count: int
    rung: Rung
    height: int
    width: int
    style_shapes: tuple[tuple[int, int], ...]
    memory: MemoryPlan
    stride: int
    xla: bool = False
    compiled_loop: bool = False
    preconditioned: bool = False

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def memory_bytes(self) -> int:
        return self.memory.estimate_bytes


@dataclass(frozen=True)
class RungResult:
    """A finished rung: its plan, its image ``(H, W, 3)`` in [0, 1], its progress, where it was saved."""

    plan: RungPlan
    image: np.ndarray
    history: tuple[Progress, ...]
    stopped: str
    seconds: float
    path: Path | None


@dataclass(frozen=True)
class RenderResult:
    """A finished render: where it went, its rungs, and the picture's size (0 on a non-chief worker)."""

    output: Path
    rungs: tuple[RungResult, ...]
    backbone: str
    seconds: float
    width_px: int = 0
    height_px: int = 0


class Reporter(Protocol):
    """Receives a render's progress; ``SilentReporter`` is one that ignores it all."""

    def message(self, text: str) -> None: ...
    def ladder_started(self, plans: Sequence[RungPlan], finished: Sequence[RungResult] = ()) -> None:
        """``finished``: the rungs a resumed render had done before this run."""
    def rung_started(self, plan: RungPlan) -> None: ...
    def chunk(self, plan: RungPlan, progress: Progress) -> None: ...
    def rung_finished(self, result: RungResult) -> None: ...


class SilentReporter:
    """A Reporter that ignores everything."""

    def message(self, text: str) -> None:
        pass

    def ladder_started(self, plans: Sequence[RungPlan], finished: Sequence[RungResult] = ()) -> None:
        pass

    def rung_started(self, plan: RungPlan) -> None:
        pass

    def chunk(self, plan: RungPlan, progress: Progress) -> None:
        pass

    def rung_finished(self, result: RungResult) -> None:
        pass
