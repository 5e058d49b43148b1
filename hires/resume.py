"""Where a render starts: afresh, or from the checkpoint in its state folder; and the checkpoints it writes.

One decision (``decide``) serves both ``--plan``, which says what would happen, and the render,
which does it; ``Checkpointer`` writes the render's progress so that a later run can resume it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core.objective import LossTerms
from core.optimize import Progress, state_to_arrays
from hires.checkpoint import (Checkpoint, DamagedCheckpoint, read_checkpoint, refuse_foreign, remove_state,
                              state_folder, write_checkpoint)
from hires.errors import HiresError
from hires.job import RenderJob, RungPlan, RungResult


@dataclass
class Resume:
    """Where a render starts, and what must be done to its state folder first.

    Attributes:
        checkpoint: the checkpoint to continue (a fresh one when starting afresh).
        folder: the render's state folder.
        discard: the folder holds work this render throws away (``--restart``, a damaged
            checkpoint, ``--overwrite`` of another render's): remove it before starting.
        why: what the render tells the user as it starts, or "".
        would: the same, as ``--plan`` says it of a render not yet run, or "".
    """

    checkpoint: Checkpoint
    folder: Path
    discard: bool = False
    why: str = ""
    would: str = ""

    @property
    def resuming(self) -> bool:
        return self.checkpoint.rung > 0 or self.checkpoint.optimizer is not None


def decide(job: RenderJob, digest: str, legacy: str, plans: Sequence[RungPlan], *, restart: bool = False,
           chief: bool = True) -> Resume:
    """Where ``job`` starts, from its state folder.

    Args:
        digest, legacy: this render's checkpoint digest and the one an older hires gave it.
        plans: the ladder's rungs, to say where a resume stands.
        restart: ``--restart``: discard the folder.
        chief: False on a non-chief worker, which follows the chief's checkpoint and never
            changes the folder.

    Raises:
        HiresError: when the folder holds another render's work (other inputs or settings,
            without ``--overwrite``; another output that shares the folder).
    """
    folder = state_folder(job.output)
    fresh = Checkpoint(digest, output=job.output.name)
    if not chief:
        found = None if restart else _adopt(_read_quietly(folder), digest, legacy)
        return Resume(found if found is not None and found.digest == digest else fresh, folder)
    if restart:
        return Resume(fresh, folder, discard=folder.exists())
    try:
        found = _adopt(read_checkpoint(folder), digest, legacy)
    except DamagedCheckpoint as exc:
        return Resume(fresh, folder, True, f"the state folder is damaged ({exc}); starting this render afresh",
                      f"{folder} holds no usable checkpoint: the render would start afresh")
    if found is None:
        return Resume(fresh, folder)
    _refuse_other_output(folder, found, job.output)
    if found.digest != digest and job.overwrite:  # asked to redo: the old work is not this render's
        why = f"{folder} holds a render of other inputs or settings"
        return Resume(fresh, folder, True, f"{why}; --overwrite starts afresh", f"{why}: --overwrite would start afresh")
    refuse_foreign(folder, found, digest)
    found.output = job.output.name
    point = _resume_point(found, plans)
    return Resume(found, folder, why=f"resuming from {folder} {point}",
                  would=f"the render would resume from {folder} {point}")


def _resume_point(found: Checkpoint, plans: Sequence[RungPlan]) -> str:
    if found.rung >= len(plans):
        return "with every rung finished: the contact sheet and the output are left to write"
    where = f"at rung {found.rung + 1}"
    if found.optimizer is None:
        return where
    done = (found.partial or {}).get("iterations") or [0]
    return f"{where} (mid-rung, after iteration {done[-1]} of {plans[found.rung].rung.iterations})"


def _refuse_other_output(folder: Path, found: Checkpoint, output: Path) -> None:
    """``out.png`` and ``out.jpg`` share ``out.state/``: neither may take or discard the other's work."""
    if found.output and found.output != output.name:
        raise HiresError(
            f"{folder} holds the unfinished render of {found.output}, which shares its state folder "
            f"with {output.name}; give this render another name with -o, finish {found.output} "
            f"first, or pass --restart to discard its work")


def _adopt(found: Checkpoint | None, digest: str, legacy: str) -> Checkpoint | None:
    """``found``, under this version's digest when an older hires wrote it for this render."""
    if found is not None and legacy and found.digest == legacy:
        found.digest = digest
    return found


def _read_quietly(folder: Path) -> Checkpoint | None:
    try:
        return read_checkpoint(folder)
    except DamagedCheckpoint:
        return None


def apply(resume: Resume) -> Checkpoint:
    """Does what ``decide`` decided to the state folder; returns the checkpoint to continue."""
    if resume.discard:
        remove_state(resume.folder)
    return resume.checkpoint


def finished_rungs(job: RenderJob, plans: Sequence[RungPlan], checkpoint: Checkpoint,
                   read_picture: Callable[[Path], np.ndarray], rung_path: Callable[[RungPlan], Path]) -> list[RungResult]:
    """Results of rungs a checkpoint had finished, their pictures read back from ``out.rungs/``."""
    results = []
    for plan, entry in zip(plans[: checkpoint.rung], checkpoint.histories):
        path = rung_path(plan)
        if plan.index + 1 == checkpoint.rung:  # the float result the next rung (or the output) needs
            image = checkpoint.start_image[0]
        else:  # only the contact sheet needs it: the saved preview will do
            image = read_picture(path) if path.exists() else np.zeros((plan.height, plan.width, 3), np.float32)
        results.append(RungResult(plan, image, earlier_progress(entry, plan), entry["stopped"], entry["seconds"], path))
    return results


def earlier_progress(history: dict, plan: RungPlan) -> tuple[Progress, ...]:
    """A checkpoint's loss readings of a rung, as the Progress entries the contact sheet draws."""
    return tuple(Progress(i, plan.rung.iterations, 0, LossTerms(total=loss), 0.0, None)
                 for i, loss in zip(history["iterations"], history["losses"]))


class Checkpointer:
    """Writes checkpoints: at the end of every rung, every ``seconds`` within one, and on interruption."""

    def __init__(self, folder: Path, checkpoint: Checkpoint, seconds: float, *, writes: bool = True,
                 guard: Callable[[], None] = lambda: None) -> None:
        self.folder = folder
        self.guard = guard
        self.writes = writes  # False on the non-chief workers of a multi-worker render
        self.checkpoint = checkpoint
        self.seconds = seconds
        self.latest: Progress | None = None  # the newest chunk, if not yet written
        self.unwritten = False  # the checkpoint holds more than its file
        self.last_write = time.monotonic()
        # The current rung's loss history: what a resumed checkpoint had, then this run's chunks.
        self.earlier = checkpoint.partial or {"iterations": [], "losses": []}
        self.chunks: list[Progress] = []

    def chunk(self, progress: Progress) -> None:
        self.chunks.append(progress.without_tensors())  # only the newest chunk's state is kept
        self.latest = progress
        if time.monotonic() - self.last_write >= self.seconds:
            self.flush()

    def history(self) -> dict:
        return {"iterations": self.earlier["iterations"] + [p.iteration for p in self.chunks],
                "losses": self.earlier["losses"] + [p.terms.total for p in self.chunks]}

    def flush(self) -> None:
        """Writes what the checkpoint file does not hold yet: the newest chunk's state, a finished rung."""
        if self.latest is not None and self.latest.state is not None:
            self.checkpoint.optimizer = state_to_arrays(self.latest.state)
            self.checkpoint.partial = self.history()
            self.unwritten = True
        self.latest = None
        if self.unwritten and self.writes:
            self.guard()
            write_checkpoint(self.folder, self.checkpoint)
        # The arrays view the optimiser's tensors: kept, they would hold that state (history
        # and all) alive while the optimiser moves on. The file has them now.
        self.checkpoint.optimizer = None
        self.unwritten, self.last_write = False, time.monotonic()

    def flush_unless_refused(self) -> None:
        """``flush``, on an interrupt: when the guard refuses, writes nothing and lets the interrupt go on."""
        try:
            self.guard()
        except Exception:  # the folder is another process's now: its checkpoint is the one to keep
            return
        self.flush()

    def rung_finished(self, result: RungResult) -> None:
        entry = {**self.history(), "seconds": result.seconds, "stopped": result.stopped}
        # The finished rung's chunks are forgotten before the write: a signal during the write
        # then makes flush() write this rung's end again, not save the finished rung's
        # optimiser state as the next rung's (which no later run could resume).
        self.latest = None
        self.earlier, self.chunks = {"iterations": [], "losses": []}, []
        self.checkpoint.histories.append(entry)
        self.checkpoint.rung = result.plan.index + 1
        self.checkpoint.start_image = result.image[None]
        self.checkpoint.optimizer, self.checkpoint.partial = None, None
        self.unwritten = True
        self.flush()
