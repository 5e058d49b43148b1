"""A render: plan it (``hires.plan``), then climb the ladder rung by rung and write the pictures.

``run`` is the climb: each rung starts from the last one's result, enlarged; every rung's end
(and every few minutes within one, and an interrupt) is checkpointed, so a killed render
continues where it stood. Progress goes to a ``Reporter``, so the same loop serves the rich
display, plain logs, batches and tests.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import tensorflow as tf

from core.optimize import Progress, state_from_arrays
from hires import images
from hires.checkpoint import remove_state, state_folder
from hires.contact_sheet import SheetRung, make_contact_sheet
from hires.devices import is_chief, make_strategy
from hires.errors import HiresError
from hires.files import remove_empty
from hires.inputs import initial_image, presenter, rung_start, to_tensor
from hires.job import RenderJob, RenderResult, Reporter, RungPlan, RungResult, SilentReporter
from hires.outputs import clear_rung_pictures, contact_sheet_path, rung_path, save_rung_picture, write_output
from hires.plan import RenderPlan, make_plan
from hires.resume import Checkpointer, apply, earlier_progress, finished_rungs
from hires.rung import build_objective, finish, optimize, preconditioner_for
from hires.stopping import RenderInterrupted, raise_if_stopped


def render(job: RenderJob, reporter: Reporter | None = None, *, restart: bool = False,
           checkpoint_seconds: float = 300.0) -> RenderResult:
    """Plans and renders ``job``: every rung of its ladder, then the output file.

    A state folder beside the output (``out.state/``) holds a checkpoint, written at the end of
    every rung, every ``checkpoint_seconds`` within a rung, and when interrupted; a render whose
    state folder exists continues from it exactly, unless ``restart``.

    Raises:
        HiresError: for unreadable inputs, an output that cannot be written, bad settings, or a
            state folder left by a render of other inputs; all are checked before the first rung.
        RenderInterrupted, KeyboardInterrupt: after writing a checkpoint of the work since the
            last one; their ``state_folder`` is the folder a resume starts from, or None when the
            render was stopped before it had written any.
    """
    reporter = reporter or SilentReporter()
    chief = is_chief()  # with TF_CONFIG, only the chief writes files; the others lend their devices
    try:
        plan = make_plan(job if chief else replace(job, save_rungs=False), restart=restart, chief=chief,
                         say=reporter.message)
        return run(plan, reporter, checkpoint_seconds=checkpoint_seconds, chief=chief)
    except (KeyboardInterrupt, RenderInterrupted) as exc:
        if chief:  # so that the message says whether a resume has anything to start from
            folder = state_folder(job.output)
            exc.state_folder = folder if folder.is_dir() else None
        raise


def run(plan: RenderPlan, reporter: Reporter, *, checkpoint_seconds: float = 300.0,
        chief: bool = True) -> RenderResult:
    """The climb: each rung from the one before, checkpointed; then the output and its side files."""
    clock = time.perf_counter()
    job = plan.job
    new_folders = _missing_folders(job.output.parent)  # for a failed run to leave none of them empty
    checkpoint = apply(plan.resume)
    if plan.resume.why:
        reporter.message(plan.resume.why)
    reporter.message(f"each rung keeps the photograph's aspect ratio, sides rounded to multiples of "
                     f"{plan.rungs[0].stride} px (the backbone's total stride)")
    if chief and job.save_rungs and checkpoint.rung == 0:
        clear_rung_pictures(job)
    results = finished_rungs(job, plan.rungs, checkpoint, images.read_image, lambda r: rung_path(job.output, r))
    reporter.ladder_started(plan.rungs, results)
    checkpointer = Checkpointer(state_folder(job.output), checkpoint, checkpoint_seconds, writes=chief,
                                guard=job.guard)
    strategy = make_strategy(plan.devices)
    try:
        with tf.device(plan.devices.first):  # --devices 1 works on GPU 1, not on TensorFlow's default
            image = plan.inputs.init if checkpoint.start_image is None else tf.constant(checkpoint.start_image)
            for rung in plan.rungs[checkpoint.rung:]:
                raise_if_stopped()
                result = _climb(plan, rung, image, reporter, checkpointer, strategy)
                results.append(result)
                checkpointer.rung_finished(result)
                reporter.rung_finished(result)
                image = to_tensor(result.image)
    except (KeyboardInterrupt, RenderInterrupted):
        checkpointer.flush_unless_refused()
        raise
    except HiresError:  # a full disk: nothing to resume from leaves nothing of this run behind
        if chief and job.save_rungs and not state_folder(job.output).exists():
            clear_rung_pictures(job)
            remove_empty(new_folders)
        raise
    if not chief:
        return RenderResult(job.output, tuple(results), plan.backbone.name, time.perf_counter() - clock)
    height_px, width_px = _write_pictures(plan, results)
    remove_state(state_folder(job.output))
    return RenderResult(job.output, tuple(results), plan.backbone.name, time.perf_counter() - clock,
                        width_px, height_px)


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    return [path for path in (folder, *folder.parents) if not path.exists()]


def _climb(plan: RenderPlan, rung: RungPlan, previous: tf.Tensor | None, reporter: Reporter,
           checkpointer: Checkpointer, strategy: tf.distribute.Strategy | None) -> RungResult:
    """Optimises one rung from the previous rung's result, enlarged (for the first rung: the
    ``--init`` image, if any); from the checkpoint's optimiser state when it holds this rung's."""
    job, settings = plan.job, plan.settings
    clock = time.perf_counter()
    reporter.rung_started(rung)
    objective = build_objective(settings, plan.backbone, rung, plan.inputs, strategy)
    if rung.memory.note:
        reporter.message(f"rung {rung.index + 1}: {rung.memory.note}")
    if rung.index == 0:
        start = initial_image(settings, plan.inputs.transfer_content, previous, rung.height, rung.width)
    else:
        start = rung_start(settings, previous, rung.index, rung.height, rung.width, plan.inputs.transfer_content)
    saved = checkpointer.checkpoint.optimizer
    state = state_from_arrays(saved) if saved is not None else None

    def on_chunk(progress: Progress) -> None:
        raise_if_stopped()
        job.guard()
        checkpointer.chunk(progress)
        reporter.chunk(rung, progress)

    earlier = earlier_progress(checkpointer.earlier, rung)  # before a resume: the curve's first part
    below = None if rung.index == 0 else tuple(previous.shape[1:3])
    outcome = optimize(settings, rung, objective, start, on_chunk, state, preconditioner_for(settings, rung, below))
    present = presenter(plan.inputs)
    save = (lambda r, picture: save_rung_picture(job, r, present(picture))) if job.save_rungs else None
    return finish(rung, outcome, earlier, time.perf_counter() - clock, save)


def _write_pictures(plan: RenderPlan, results: list[RungResult]) -> tuple[int, int]:
    """The output, then the contact sheet; returns the output's ``(height, width)``.

    The output first, so that a side file never costs the picture (a full disk). Until both are
    written the state folder stays, so a failure or an interrupt here leaves a render that the
    same command finishes (replacing the output it wrote).
    """
    job, present = plan.job, presenter(plan.inputs)
    job.guard()
    raise_if_stopped()  # a signal lost in the last rung: the checkpoint of its end is kept
    with tf.device(plan.devices.first):
        height_width = write_output(job, plan.target, present(results[-1].image), own=plan.own_output)
    if job.save_rungs:
        job.guard()
        sheet = make_contact_sheet(plan.inputs.content[0].numpy(), [s[0].numpy() for s in plan.inputs.styles],
                                   [sheet_rung(result, present) for result in results])
        images.write_image(contact_sheet_path(job.output), sheet, overwrite=True)
    return height_width


def sheet_rung(result: RungResult, present) -> SheetRung:
    """A finished rung as the contact sheet shows it: picture, label and loss curve."""
    plan = result.plan
    planned = plan.rung.iterations
    done = result.history[-1].iteration if result.history else planned
    # A rung stopped early (--tolerance, a failed step) shows what it ran, not what was planned.
    iterations = f"{done} it" if done >= planned else f"{done} of {planned} it, {result.stopped}"
    label = (f"rung {plan.index + 1}/{plan.count}  {plan.width}x{plan.height}  "
             f"({iterations}, {result.seconds:.0f} s)")
    return SheetRung(label, present(result.image), [p.iteration for p in result.history],
                     [p.terms.total for p in result.history])
