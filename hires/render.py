"""A render: read the inputs, climb the ladder rung by rung through the core, write the output.

This module holds the loop; the schedule is ``hires.ladder``, the method is ``core``, files are
``hires.images``. Progress goes to a ``Reporter``, so the same loop serves the rich display,
plain logs, batches and tests.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import tensorflow as tf

from core.backbones import (Backbone, find_vgg19_weights, load_backbone,
                            receptive_field)
from core.errors import CoreError
from core.objective import (LossSpec, Objective, WholeImageObjective, compute_targets, make_extractor,
                            make_loss_function)
from core.optimize import (ADAM_PRESETS, OptimizeResult, Progress, minimize_adam, minimize_lbfgs,
                           state_from_arrays, state_to_arrays)
from hires import colour, images
from hires.checkpoint import (Checkpoint, DamagedCheckpoint, digests_of, read_checkpoint, refuse_foreign,
                              remove_state, state_folder, write_checkpoint)
from hires.config import RenderSettings, resolve_ladder
from core.tiles import TiledObjective, compute_targets_tiled, plan_tiles
from hires.contact_sheet import SheetRung, make_contact_sheet
from hires.devices import DeviceSet, MachineOptions, find_devices, is_chief, make_strategy
from hires.errors import HiresError
from hires.ladder import Rung, rung_shape
from hires.printsize import PrintTarget
from hires.stopping import RenderInterrupted, raise_if_stopped
from hires.tiling import MemoryPlan, plan_memory

WEIGHTS_ENV = "HIRES_VGG19_WEIGHTS"
# XLA compiles for about 3 s per shape on a 2-core CPU and saves 9 % of an evaluation at
# 256x192 px, 29 % at 1024x768: below this many pixels the compile outweighs the saving.
XLA_MIN_PIXELS = 256 * 192
# Rung pictures are previews: a poster's rungs are saved shrunk to about this long edge (the
# output is the full-size picture), so that out.rungs/ stays small and quick to write.
RUNG_PICTURE_MAX_PX = 2048


@dataclass(frozen=True)
class RenderJob:
    """One picture to render.

    Attributes:
        content: the photograph.
        styles: one or more paintings.
        output: the file to write; its extension picks the format.
        settings: the ladder and every render option.
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
    """What one rung will do, known before any pixel is optimised."""

    index: int
    count: int
    rung: Rung
    height: int
    width: int
    style_shapes: tuple[tuple[int, int], ...]
    memory: MemoryPlan
    stride: int

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
    """A finished render."""

    output: Path
    rungs: tuple[RungResult, ...]
    backbone: str
    seconds: float
    width_px: int = 0
    height_px: int = 0


class Reporter(Protocol):
    """Receives a render's progress; every method may do nothing."""

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


def choose_backbone(settings: RenderSettings, *, device: str | None = None) -> tuple[Backbone, str]:
    """Loads the backbone the settings name; for "auto", VGG19 if its weights are here, else vgg16-hed.

    ``device`` keeps one copy of the weights per device they are loaded on (the caller's scope places them).

    Returns:
        The backbone and one line saying which it is and why.

    Raises:
        HiresError: when the named backbone cannot be loaded.
    """
    weights = settings.weights or os.environ.get(WEIGHTS_ENV) or None
    try:
        if settings.backbone != "auto":
            backbone = _cached_backbone(settings.backbone, weights, device)
            return backbone, f"backbone: {backbone.name} ({backbone.source})"
        path = find_vgg19_weights(weights)
        if path is not None:
            return _cached_backbone("vgg19", str(path), device), f"backbone: vgg19, the paper's network (weights {path})"
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    backbone = _cached_backbone("vgg16-hed", None, device)
    return backbone, (
        "backbone: vgg16-hed, because no VGG19 weights were found (pass --weights, set "
        f"{WEIGHTS_ENV}, or use --backbone vgg19 to let Keras download them)")


@functools.lru_cache(maxsize=4)
def _cached_backbone(name: str, weights: str | None, device: str | None) -> Backbone:
    return load_backbone(name, weights_path=weights)


def loss_spec(settings: RenderSettings, rung: Rung) -> LossSpec:
    """The core's loss specification for one resolved rung."""
    try:
        return LossSpec(
            content_layer=settings.content_layer,
            style_layers=settings.style_layers,
            content_weight=rung.content_weight,
            style_weight=rung.style_weight,
            tv_weight=rung.tv_weight,
            pooling=settings.pooling,
            precision=settings.precision,
        )
    except CoreError as exc:
        raise HiresError(str(exc)) from exc


def plan_ladder(
    settings: RenderSettings,
    backbone: Backbone,
    content_shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]],
    *,
    devices: DeviceSet | None = None,
    tile_px: int | None = None,
    xla: bool = False,
) -> list[RungPlan]:
    """Sizes, tiling and memory estimates of every rung, for a content image of ``(height, width)``.

    Args:
        devices: the devices and their memory; None plans without a memory limit.
        tile_px: force tiles of this side (``--tile-px``).
        xla: whole-image rungs of ``XLA_MIN_PIXELS`` or more will be compiled with XLA.

    Raises:
        HiresError: when a layer the settings name is not in the backbone, rungs round to one
            size, or a rung cannot fit the devices' memory.
    """
    spec_layers = [settings.content_layer] + [name for name, _ in settings.style_layers]
    try:
        _, stride = max(receptive_field(backbone, name) for name in spec_layers)
    except CoreError as exc:
        raise HiresError(str(exc)) from exc
    plans = []
    ladder = settings.ladder
    for index in range(len(ladder.rungs)):
        rung = ladder.resolve(index)
        height, width = rung_shape(*content_shape, rung.long_edge_px, multiple=stride)
        styles = tuple(_style_shape(shape, rung) for shape in style_shapes)
        if plans and max(height, width) <= max(plans[-1].height, plans[-1].width):
            raise HiresError(
                f"rungs {index} and {index + 1} ({ladder.rungs[index - 1].long_edge_px} and "
                f"{rung.long_edge_px} px) both round to a long edge of {max(height, width)} px "
                f"(sides are multiples of {stride} px); space the rungs further apart")
        try:
            memory = plan_memory(backbone, spec_layers, settings.content_layer, height, width,
                                 correction_pairs=rung.correction_pairs, optimizer=rung.optimizer,
                                 budget_bytes=devices.budget_bytes if devices else None, tile_px=tile_px,
                                 replicas=len(devices.names) * devices.workers if devices else 1,
                                 style_shapes=styles, iterations=rung.iterations,
                                 xla=xla and height * width >= XLA_MIN_PIXELS)
        except HiresError as exc:
            raise HiresError(f"rung {index + 1}: {exc}") from exc
        plans.append(RungPlan(index, len(ladder.rungs), rung, height, width, styles, memory, stride))
    return plans


def _style_shape(shape: tuple[int, int], rung: Rung) -> tuple[int, int]:
    long_edge = max(16, round(rung.style_scale * rung.long_edge_px))
    scale = long_edge / max(shape)
    return max(16, round(shape[0] * scale)), max(16, round(shape[1] * scale))


def rungs_folder(output: Path) -> Path:
    """Where each rung's result is saved: ``out.png`` -> ``out.rungs/``."""
    return images.side_path(output, ".rungs")


def to_tensor(image: np.ndarray) -> tf.Tensor:
    """``(H, W, 3)`` array -> ``(1, H, W, 3)`` float32 tensor (one copy, the tensor's)."""
    return tf.constant(np.asarray(image, np.float32)[None])


def resize(image: tf.Tensor, height: int, width: int, method: str = "bicubic") -> tf.Tensor:
    """Resizes ``(1, H, W, 3)`` with anti-aliasing when shrinking, clipped to [0, 1]."""
    if tuple(image.shape[1:3]) == (height, width):
        return image
    shrinking = height < image.shape[1] or width < image.shape[2]
    resized = tf.image.resize(image, (height, width), method=method, antialias=shrinking)
    return tf.clip_by_value(resized, 0.0, 1.0)


def read_init(settings: RenderSettings) -> tf.Tensor | None:
    """The image file ``--init`` names, read up front with the other inputs; None for content or noise."""
    if settings.init in ("content", "noise"):
        return None
    return to_tensor(images.read_image(settings.init, max_megapixels=settings.max_input_megapixels))


def initial_image(settings: RenderSettings, content: tf.Tensor, init: tf.Tensor | None,
                  height: int, width: int) -> tf.Tensor:
    """The first rung's starting point: the content, seeded uniform noise, or the ``--init`` image."""
    if settings.init == "noise":
        rng = np.random.default_rng(settings.seed)
        return tf.constant(rng.uniform(0.0, 1.0, size=(1, height, width, 3)).astype(np.float32))
    return resize(init if init is not None else content, height, width)


@dataclass(frozen=True)
class _Inputs:
    """Everything read and decided before the first rung: checked up front, so errors come early."""

    settings: RenderSettings  # with the ladder completed (--size, --print)
    content: tf.Tensor  # the photograph as given
    styles: list[tf.Tensor]  # the paintings as given
    transfer_content: tf.Tensor  # what the optimiser sees (grey for --preserve-colors luminance)
    transfer_styles: list[tf.Tensor]
    init: tf.Tensor | None
    target: PrintTarget | None


def _read_inputs(job: RenderJob) -> _Inputs:
    """Reads and checks the inputs and the output path, before anything is loaded or planned.

    Raises:
        HiresError: naming the problem and the fix.
    """
    settings = job.settings
    _refuse_output_over_input(job)
    images.check_output_path(job.output, overwrite=job.overwrite)
    if job.save_rungs:
        _check_contact_sheet_path(job)
        _check_rungs_folder(job)
    limit = settings.max_input_megapixels
    content = images.read_image(job.content, max_megapixels=limit)
    styles = [images.read_image(path, max_megapixels=limit) for path in job.styles]
    init = read_init(settings)
    if settings.style_blend is not None and len(settings.style_blend) != len(styles):
        raise HiresError(
            f"--style-blend (or the config's style_blend) has {len(settings.style_blend)} weights for "
            f"{len(styles)} styles; give one per style")
    settings, target = resolve_ladder(settings, content.shape[:2])
    transfer_content, transfer_styles = content, styles
    if settings.preserve_colors == "luminance":
        transfer_content = colour.luminance_image(content)
        transfer_styles = [colour.match_luminance(style, content) for style in styles]
        init = None if init is None else to_tensor(colour.luminance_image(init[0].numpy()))
    elif settings.preserve_colors == "histogram":
        transfer_styles = [colour.match_histogram(style, content) for style in styles]
    return _Inputs(settings, to_tensor(content), [to_tensor(s) for s in styles], to_tensor(transfer_content),
                   [to_tensor(s) for s in transfer_styles], init, target)


def _input_files(job: RenderJob) -> list[tuple[str, Path]]:
    """The files the render reads, in the order the digest hashes them, each with what it is."""
    files = [("photograph", job.content)] + [("painting", style) for style in job.styles]
    if job.settings.init not in ("content", "noise"):
        files.append(("--init image", Path(job.settings.init)))
    return files


def _refuse_output_over_input(job: RenderJob) -> None:
    """An output (or its contact sheet) that is one of the inputs would replace that picture."""
    written = [job.output] + ([contact_sheet_path(job.output)] if job.save_rungs else [])
    for target in written:
        for name, source in _input_files(job):
            if target.resolve() == source.resolve():
                raise HiresError(f"cannot write {target}: it is the {name} this render reads, and would "
                                 "replace it; choose another -o")


def _check_contact_sheet_path(job: RenderJob) -> None:
    sheet = contact_sheet_path(job.output)
    resuming = state_folder(job.output).is_dir()  # then the sheet is this unfinished render's own
    if sheet.is_file() and not job.overwrite and not resuming:
        # Most often an earlier render's sheet whose output was deleted to render it again; a
        # batch's --overwrite would redo every finished job, so the first fix named is to move it.
        raise HiresError(f"cannot write {sheet}, the contact sheet of {job.output}: it already exists "
                         "(from an earlier render?). Delete or move it, or pass --overwrite to replace it.")
    images.check_output_path(sheet, overwrite=job.overwrite)


def _rung_pictures(folder: Path) -> list[Path]:
    """The pictures hires writes in a rungs folder (``0256.png``), not whatever else a user keeps there."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.png") if path.stem.isdigit() and len(path.stem) >= 4)


def _check_rungs_folder(job: RenderJob) -> None:
    folder = rungs_folder(job.output)
    if folder.exists() and not folder.is_dir():
        raise HiresError(f"cannot save the rung pictures in {folder}: it is a file. Move it, "
                         "or choose another -o")
    found = _rung_pictures(folder)
    resuming = state_folder(job.output).is_dir()  # then the pictures are this unfinished render's own
    if found and not (job.overwrite or job.replace_rungs or resuming):
        raise HiresError(f"cannot save the rung pictures in {folder}: it holds {len(found)} from an earlier "
                         f"render ({found[0].name}, ...). Delete or move the folder, or pass --overwrite "
                         "to replace them.")


def _presenter(inputs: _Inputs):
    """The function that turns an optimised image ``(H, W, 3)`` into the picture to save."""
    if inputs.settings.preserve_colors != "luminance":
        return lambda image: image

    def join(image: np.ndarray) -> np.ndarray:
        content = resize(inputs.content, image.shape[0], image.shape[1])[0].numpy()
        return colour.join_chroma(image, content)

    return join


class _Checkpointer:
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
                "losses": self.earlier["losses"] + [p.terms["total"] for p in self.chunks]}

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


def _resume_point(found: Checkpoint, rungs: int) -> str:
    if found.rung >= rungs:
        return "with every rung finished: the contact sheet and the output are left to write"
    return f"at rung {found.rung + 1}" + (" (mid-rung)" if found.optimizer is not None else "")


def _open_checkpoint(job: RenderJob, digest: str, restart: bool, reporter: Reporter,
                     chief: bool = True, legacy: str = "", rungs: int = 0) -> Checkpoint:
    """The checkpoint to continue from, or a fresh one; a damaged one is reported and replaced.

    ``legacy``: the digest an older hires gave this render; its checkpoint is this render's too.
    """
    folder = state_folder(job.output)
    fresh = Checkpoint(digest, output=job.output.name)
    if not chief:  # a non-chief worker follows the chief's checkpoint and never changes the folder
        found = None if restart else _adopt(_read_quietly(folder), digest, legacy)
        return found if found is not None and found.digest == digest else fresh
    if restart:
        remove_state(folder)
        return fresh
    try:
        found = _adopt(read_checkpoint(folder), digest, legacy)
    except DamagedCheckpoint as exc:
        reporter.message(f"the state folder is damaged ({exc}); starting this render afresh")
        remove_state(folder)
        return fresh
    if found is None:
        return fresh
    _refuse_other_output(folder, found, job.output)
    if found.digest != digest and job.overwrite:  # asked to redo: the old work is not this render's
        reporter.message(f"{folder} holds a render of other inputs or settings; --overwrite starts afresh")
        remove_state(folder)
        return fresh
    refuse_foreign(folder, found, digest)
    reporter.message(f"resuming from {folder} {_resume_point(found, rungs)}")
    found.output = job.output.name
    return found


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


def render(job: RenderJob, reporter: Reporter | None = None, *, restart: bool = False,
           checkpoint_seconds: float = 300.0) -> RenderResult:
    """Renders ``job``: every rung of its ladder, then the output file.

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
    try:
        return _render(job, reporter or SilentReporter(), restart, checkpoint_seconds)
    except (KeyboardInterrupt, RenderInterrupted) as exc:
        if is_chief():  # so that the message says whether a resume has anything to start from
            folder = state_folder(job.output)
            exc.state_folder = folder if folder.is_dir() else None
        raise


def _render(job: RenderJob, reporter: Reporter, restart: bool, checkpoint_seconds: float) -> RenderResult:
    clock = time.perf_counter()
    chief = is_chief()  # with TF_CONFIG, only the chief writes files; the others lend their devices
    job = job if chief else replace(job, save_rungs=False)
    ready = prepare(job, reporter.message)
    job, inputs, backbone, devices, plans = ready.job, ready.inputs, ready.backbone, ready.devices, ready.plans
    strategy = make_strategy(devices)
    digest, legacy = _digests(ready)
    checkpoint = _open_checkpoint(job, digest, restart, reporter, chief, legacy, rungs=len(plans))
    reporter.message(f"each rung keeps the photograph's aspect ratio, sides rounded to multiples of "
                     f"{plans[0].stride} px (the backbone's total stride)")
    if chief and job.save_rungs and checkpoint.rung == 0:
        _clear_rung_pictures(job)
    results = _resumed_results(job, plans, checkpoint)
    reporter.ladder_started(plans, results)
    checkpointer = _Checkpointer(state_folder(job.output), checkpoint, checkpoint_seconds, writes=chief,
                                 guard=job.guard)
    present = _presenter(inputs)
    try:
        with tf.device(devices.first):  # --devices 1 works on GPU 1, not on TensorFlow's default
            image = inputs.init if checkpoint.start_image is None else tf.constant(checkpoint.start_image)
            for plan in plans[checkpoint.rung:]:
                raise_if_stopped()
                result = _render_rung(job, backbone, plan, inputs, image, present, reporter, checkpointer,
                                      strategy)
                results.append(result)
                checkpointer.rung_finished(result)
                reporter.rung_finished(result)
                image = to_tensor(result.image)
    except (KeyboardInterrupt, RenderInterrupted):
        checkpointer.flush_unless_refused()
        raise
    if not chief:
        return RenderResult(job.output, tuple(results), backbone.name, time.perf_counter() - clock)
    # The contact sheet before the output: until the output is written the state folder stays,
    # so an interrupt at any point here leaves a render that the same command finishes.
    if job.save_rungs:
        job.guard()
        sheet = make_contact_sheet(inputs.content[0].numpy(), [s[0].numpy() for s in inputs.styles],
                                   [_sheet_rung(result, present) for result in results])
        images.write_image(contact_sheet_path(job.output), sheet, overwrite=True)
    job.guard()
    raise_if_stopped()  # a signal lost in the last rung: the checkpoint of its end is kept
    with tf.device(devices.first):
        height_px, width_px = _write_output(job, inputs, present(results[-1].image))
    remove_state(state_folder(job.output))
    return RenderResult(job.output, tuple(results), backbone.name, time.perf_counter() - clock,
                        width_px, height_px)


@dataclass(frozen=True)
class Prepared:
    """Everything read, checked and decided before the first rung: ``--plan`` prints it, render runs it."""

    job: RenderJob  # its settings with the ladder completed (--size, --print)
    inputs: _Inputs
    backbone: Backbone
    why: str  # which backbone, and why
    devices: DeviceSet
    plans: list[RungPlan]


def prepare(job: RenderJob, say=lambda text: None) -> Prepared:
    """Reads the inputs, loads the backbone, finds the devices and plans the ladder, refusing
    anything render would refuse later; ``say`` hears the backbone, print size and devices lines.

    Raises:
        HiresError: naming the problem and the fix.
    """
    # The devices first: hiding the GPUs --devices leaves out must come before TensorFlow starts.
    devices = find_devices(job.machine.devices, memory_gb=job.machine.memory_gb)
    with tf.device(devices.first):  # the inputs and the network's weights live where the work runs
        inputs = _read_inputs(job)
        job = replace(job, settings=inputs.settings)
        backbone, why = choose_backbone(job.settings, device=devices.first)
    say(why)
    if inputs.target is not None:
        say(inputs.target.description)
    say(devices.description)
    plans = plan_ladder(job.settings, backbone, tuple(inputs.content.shape[1:3]),
                        [tuple(s.shape[1:3]) for s in inputs.styles], devices=devices,
                        tile_px=job.machine.tile_px, xla=job.machine.xla)
    _check_job_output(job, inputs, plans[-1])
    return Prepared(job, inputs, backbone, why, devices, plans)


def _digests(ready: Prepared) -> tuple[str, str]:
    """This render's checkpoint digest, and the one an older hires gave it (see ``digests_of``)."""
    job, backbone = ready.job, ready.backbone
    files = [path for _, path in _input_files(job)]
    return digests_of(files, job.settings, f"{backbone.name} {backbone.source}")


def resume_note(ready: Prepared, *, restart: bool = False) -> str | None:
    """What render would do with the state folder beside the output, for ``--plan``; None when there is none.

    Raises:
        HiresError: when render would refuse the folder (another render's, another output's).
    """
    folder = state_folder(ready.job.output)
    if restart or not folder.is_dir():
        return None
    digest, legacy = _digests(ready)
    found = _adopt(_read_quietly(folder), digest, legacy)
    if found is None:
        return f"{folder} holds no usable checkpoint: the render would start afresh"
    _refuse_other_output(folder, found, ready.job.output)
    if found.digest != digest and ready.job.overwrite:
        return f"{folder} holds a render of other inputs or settings: --overwrite would start afresh"
    refuse_foreign(folder, found, digest)
    return f"the render would resume from {folder} {_resume_point(found, len(ready.plans))}"


def _check_job_output(job: RenderJob, inputs: _Inputs, last: RungPlan) -> None:
    """Refuses, before the first rung, an output its format cannot hold (as ``_write_output`` will write it)."""
    settings, target = job.settings, inputs.target
    height, width = (target.height_px, target.width_px) if target is not None else (last.height, last.width)
    images.check_output_options(job.output, height=height, width=width, bit_depth=settings.bit_depth,
                                jpeg_quality=settings.jpeg_quality, dpi=_output_dpi(settings, target))


def _output_dpi(settings: RenderSettings, target: PrintTarget | None) -> float | None:
    """The DPI written into the output: --dpi, else the print size's, else none."""
    return settings.dpi if settings.dpi is not None else (target.dpi if target else None)


def _resumed_results(job: RenderJob, plans: list[RungPlan], checkpoint: Checkpoint) -> list[RungResult]:
    """Results of rungs a checkpoint had finished, their pictures read back from ``out.rungs/``."""
    results = []
    for plan, entry in zip(plans[: checkpoint.rung], checkpoint.histories):
        path = _rung_path(job, plan)
        if plan.index + 1 == checkpoint.rung:  # the float result the next rung (or the output) needs
            image = checkpoint.start_image[0]
        else:  # only the contact sheet needs it: the saved picture will do
            image = (images.read_image(path) if path.exists()
                     else np.zeros((plan.height, plan.width, 3), np.float32))
        history = _earlier_progress(entry, plan)
        results.append(RungResult(plan, image, history, entry["stopped"], entry["seconds"], path))
    return results


def _clear_rung_pictures(job: RenderJob) -> None:
    """Removes the rung pictures an earlier render left in ``out.rungs/``, before this one writes its own.

    A render started afresh (``--overwrite``, ``--restart``, a ladder changed since) would otherwise
    leave pictures of rungs it does not have beside its own. Only names hires writes (``0256.png``)
    go; anything else a user put in the folder stays.
    """
    found = _rung_pictures(rungs_folder(job.output))
    if found:
        job.guard()  # a batch job whose lock went to another process must not touch its folder
    for path in found:
        path.unlink(missing_ok=True)


def _rung_path(job: RenderJob, plan: RungPlan) -> Path:
    return rungs_folder(job.output) / f"{max(plan.height, plan.width):04d}.png"


def _write_output(job: RenderJob, inputs: _Inputs, image: np.ndarray) -> tuple[int, int]:
    """Writes the final picture: at the print's exact pixels when --print was given, quantised once.

    Returns:
        ``(height, width)`` of the written picture.
    """
    settings, target = job.settings, inputs.target
    if target is not None and image.shape[:2] != (target.height_px, target.width_px):
        # The ladder's sides are multiples of the backbone's stride; the print wants exact pixels.
        image = resize(to_tensor(image), target.height_px, target.width_px)[0].numpy()
    images.write_image(job.output, image, overwrite=job.overwrite, bit_depth=settings.bit_depth,
                       jpeg_quality=settings.jpeg_quality, dpi=_output_dpi(settings, target))
    return image.shape[0], image.shape[1]


def contact_sheet_path(output: Path) -> Path:
    """Where the contact sheet goes: ``out.png`` -> ``out.contact.png``."""
    return images.side_path(output, ".contact.png")


def _sheet_rung(result: RungResult, present) -> SheetRung:
    plan = result.plan
    planned = plan.rung.iterations
    done = result.history[-1].iteration if result.history else planned
    # A rung stopped early (--tolerance, a failed step) shows what it ran, not what was planned.
    iterations = f"{done} it" if done >= planned else f"{done} of {planned} it, {result.stopped}"
    label = (f"rung {plan.index + 1}/{plan.count}  {plan.width}x{plan.height}  "
             f"({iterations}, {result.seconds:.0f} s)")
    return SheetRung(label, present(result.image), [p.iteration for p in result.history],
                     [p.terms["total"] for p in result.history])


def _render_rung(job: RenderJob, backbone: Backbone, plan: RungPlan, inputs: _Inputs,
                 previous: tf.Tensor | None, present, reporter: Reporter,
                 checkpointer: _Checkpointer, strategy: tf.distribute.Strategy | None = None) -> RungResult:
    """Optimises one rung from the previous rung's upsampled result (for the first rung: the --init image, if any).

    When the checkpoint holds this rung's optimiser state, the rung continues from it exactly.
    """
    settings = job.settings
    clock = time.perf_counter()
    reporter.rung_started(plan)
    objective = _objective(job, backbone, plan, inputs, strategy)
    if plan.memory.note:
        reporter.message(f"rung {plan.index + 1}: {plan.memory.note}")
    if plan.index == 0:
        start = initial_image(settings, inputs.transfer_content, previous, plan.height, plan.width)
    else:
        start = resize(previous, plan.height, plan.width, settings.ladder.upsample)
    saved = checkpointer.checkpoint.optimizer
    state = state_from_arrays(saved) if saved is not None else None

    def on_chunk(progress: Progress) -> None:
        raise_if_stopped()
        job.guard()
        checkpointer.chunk(progress)
        reporter.chunk(plan, progress)

    earlier = _earlier_progress(checkpointer.earlier, plan)  # before a resume: the curve's first part
    outcome = _optimize(settings, plan, objective, start, on_chunk, state)
    image = outcome.image[0].numpy()
    path = None
    if job.save_rungs:
        path = _rung_path(job, plan)
        job.guard()
        images.write_image(path, present(images.shrink(image, RUNG_PICTURE_MAX_PX)), overwrite=True)
    return RungResult(plan, image, earlier + tuple(outcome.history), outcome.stopped,
                      time.perf_counter() - clock, path)


def _earlier_progress(history: dict, plan: RungPlan) -> tuple[Progress, ...]:
    """A checkpoint's loss readings of a rung, as the Progress entries the contact sheet draws."""
    return tuple(Progress(i, plan.rung.iterations, 0, {"total": loss}, 0.0, None)
                 for i, loss in zip(history["iterations"], history["losses"]))


def _objective(job: RenderJob, backbone: Backbone, plan: RungPlan, inputs: _Inputs,
               strategy: tf.distribute.Strategy | None) -> Objective:
    """The rung's objective: the whole image at once, or the tiles its memory plan chose."""
    spec = loss_spec(job.settings, plan.rung)
    extractor = make_extractor(backbone, spec)
    content_here = resize(inputs.transfer_content, plan.height, plan.width)
    styles_here = [resize(s, h, w) for s, (h, w) in zip(inputs.transfer_styles, plan.style_shapes)]
    blend = job.settings.style_blend
    if plan.memory.tile_px is None:
        # Eager: one forward pass per image; a tf.function here would trace for every new shape.
        targets = compute_targets(extractor, spec, content_here, styles_here, blend)
        xla = job.machine.xla and plan.pixels >= XLA_MIN_PIXELS
        return WholeImageObjective(make_loss_function(extractor, spec, targets), jit_compile=xla)
    tiles = plan_tiles(plan.height, plan.width, tile_px=plan.memory.tile_px, backbone=backbone,
                       layer_names=spec.layer_names)
    targets = compute_targets_tiled(extractor, spec, tiles, content_here, styles_here, blend)
    return TiledObjective(extractor, spec, targets, tiles, strategy,
                          content_dtype=tf.bfloat16 if plan.memory.content_bfloat16 else tf.float32)


def _optimize(settings: RenderSettings, plan: RungPlan, objective: Objective, start: tf.Tensor, callback,
              state=None) -> OptimizeResult:
    rung = plan.rung
    if rung.optimizer == "adam":
        return minimize_adam(objective, start, iterations=rung.iterations,
                             settings=ADAM_PRESETS[settings.adam_preset],
                             chunk_iterations=settings.chunk_iterations, callback=callback, state=state)
    return minimize_lbfgs(objective, start, iterations=rung.iterations,
                          chunk_iterations=settings.chunk_iterations,
                          correction_pairs=plan.memory.correction_pairs, tolerance=settings.tolerance,
                          callback=callback, state=state)
