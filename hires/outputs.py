"""What a render writes beside its reads: the output, the rung pictures and the contact sheet.

Side files are named after the output's stem (``out.png`` -> ``out.rungs/``, ``out.contact.png``,
``out.state/``), so ``out.png`` and ``out.jpg`` share them. Everything a render would refuse to
write is refused here, before the first rung.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hires import images
from hires.files import remove_empty, resolve
from hires.checkpoint import DamagedCheckpoint, read_checkpoint, state_folder
from hires.config import RenderSettings
from hires.errors import HiresError
from hires.inputs import INIT_CHOICES, resize, to_tensor
from hires.job import RenderJob, RungPlan
from hires.printsize import PrintTarget

# Rung pictures are previews: a poster's rungs are saved shrunk to about this long edge (the
# output is the full-size picture), so that out.rungs/ stays small and quick to write.
RUNG_PICTURE_MAX_PX = 2048


def rungs_folder(output: Path) -> Path:
    """Where each rung's result is saved: ``out.png`` -> ``out.rungs/``."""
    return images.side_path(output, ".rungs")


def contact_sheet_path(output: Path) -> Path:
    """Where the contact sheet goes: ``out.png`` -> ``out.contact.png``."""
    return images.side_path(output, ".contact.png")


def rung_path(output: Path, plan: RungPlan) -> Path:
    """``out.rungs/0512.png``: a rung's picture, named by its long edge."""
    return rungs_folder(output) / f"{max(plan.height, plan.width):04d}.png"


def input_files(job: RenderJob) -> list[tuple[str, Path]]:
    """The files the render reads, in the order the digest hashes them, each with what it is."""
    files = [("photograph", job.content)] + [("painting", style) for style in job.styles]
    if job.settings.init not in INIT_CHOICES:
        files.append(("--init image", Path(job.settings.init)))
    return files


def check_outputs(job: RenderJob) -> None:
    """Refuses, before anything is read, an output the render could not or should not write.

    An existing output is this render's own when its state folder holds a checkpoint of this
    output: the render wrote it and then failed to write a side file (a full disk). The same
    command then finishes the render and may replace it.

    Raises:
        HiresError: an output that is one of the inputs, an existing output without
            ``overwrite``, an unwritable folder, or side files of an earlier render.
    """
    _refuse_output_over_input(job)
    images.check_output_path(job.output, overwrite=job.overwrite or unfinished(job.output))
    if job.save_rungs:
        _check_contact_sheet_path(job)
        _check_rungs_folder(job)


def unfinished(output: Path) -> bool:
    """Whether ``output``'s state folder holds a readable checkpoint of a render of it."""
    try:
        found = read_checkpoint(state_folder(output))
    except DamagedCheckpoint:
        return False
    return found is not None and found.output in ("", output.name)


def _refuse_output_over_input(job: RenderJob) -> None:
    """An output (or its contact sheet) that is one of the inputs would replace that picture."""
    written = [job.output] + ([contact_sheet_path(job.output)] if job.save_rungs else [])
    for target in written:
        for name, source in input_files(job):
            if resolve(target) == resolve(source):
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


def rung_pictures(folder: Path) -> list[Path]:
    """The pictures hires writes in a rungs folder (``0256.png``), not whatever else a user keeps there."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.png") if path.stem.isdigit() and len(path.stem) >= 4)


def _check_rungs_folder(job: RenderJob) -> None:
    folder = rungs_folder(job.output)
    if folder.exists() and not folder.is_dir():
        raise HiresError(f"cannot save the rung pictures in {folder}: it is a file. Move it, "
                         "or choose another -o")
    found = rung_pictures(folder)
    resuming = state_folder(job.output).is_dir()  # then the pictures are this unfinished render's own
    if found and not (job.overwrite or job.replace_rungs or resuming):
        raise HiresError(f"cannot save the rung pictures in {folder}: it holds {len(found)} from an earlier "
                         f"render ({found[0].name}, ...). Delete or move the folder, or pass --overwrite "
                         "to replace them.")


def clear_rung_pictures(job: RenderJob) -> None:
    """Removes the rung pictures an earlier render left in ``out.rungs/``, before this one writes its own.

    A render started afresh (``--overwrite``, ``--restart``, a ladder changed since) would otherwise
    leave pictures of rungs it does not have beside its own. Only names hires writes (``0256.png``)
    go; anything else a user put in the folder stays.
    """
    folder = rungs_folder(job.output)
    found = rung_pictures(folder)
    if found:
        job.guard()  # a batch job whose lock went to another process must not touch its folder
    for path in found:
        path.unlink(missing_ok=True)
    remove_empty([folder])


def save_rung_picture(job: RenderJob, plan: RungPlan, picture: np.ndarray) -> Path:
    """Writes a finished rung's picture (already presented) as a preview in ``out.rungs/``."""
    path = rung_path(job.output, plan)
    job.guard()
    images.write_image(path, picture, overwrite=True)
    return path


def output_dpi(settings: RenderSettings, target: PrintTarget | None) -> float | None:
    """The DPI written into the output: --dpi, else the print size's, else none."""
    return settings.dpi if settings.dpi is not None else (target.dpi if target else None)


def check_output_format(job: RenderJob, target: PrintTarget | None, last: RungPlan) -> None:
    """Refuses, before the first rung, an output its format cannot hold (as ``write_output`` will write it)."""
    settings = job.settings
    height, width = (target.height_px, target.width_px) if target is not None else (last.height, last.width)
    images.check_output_options(job.output, height=height, width=width, bit_depth=settings.bit_depth,
                                jpeg_quality=settings.jpeg_quality, dpi=output_dpi(settings, target))


def write_output(job: RenderJob, target: PrintTarget | None, image: np.ndarray, *,
                 own: bool = False) -> tuple[int, int]:
    """Writes the final picture: at the print's exact pixels when --print was given, quantised once.

    ``own``: the output there is this render's own (see ``check_outputs``): replace it.

    Returns:
        ``(height, width)`` of the written picture.
    """
    settings = job.settings
    if target is not None and image.shape[:2] != (target.height_px, target.width_px):
        # The ladder's sides are multiples of the backbone's stride; the print wants exact pixels.
        image = resize(to_tensor(image), target.height_px, target.width_px)[0].numpy()
    images.write_image(job.output, image, overwrite=job.overwrite or own, bit_depth=settings.bit_depth,
                       jpeg_quality=settings.jpeg_quality, dpi=output_dpi(settings, target))
    return image.shape[0], image.shape[1]
