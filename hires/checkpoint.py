"""Checkpoints: a killed render resumes from its last one and loses minutes, not the night.

Each render keeps a state folder beside its output (``out.png`` -> ``out.state/``) holding one
file, ``checkpoint.npz``: a hash of everything that decides the picture, the rung reached, the
image that rung started from, the optimiser's exact state within it, and each finished rung's
loss history. The file is written whole to a temporary name, flushed to disk and renamed over
the last one, so a kill at any moment (even during a write) leaves the previous checkpoint
intact. The folder is removed when the render has written its output.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hires.config import (EARLIER_DEFAULT_COARSE_STEP, EARLIER_DEFAULT_START_DETAIL, EARLIER_DEFAULT_STOP_GAIN,
                          EARLIER_DEFAULT_STYLE_ENLARGE)
from hires.errors import HiresError
from hires.files import make_folders, remove_empty, write_atomically
from hires.images import side_path

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.npz"


class DamagedCheckpoint(Exception):
    """A state folder whose checkpoint cannot be read; the render starts afresh."""


@dataclass
class Checkpoint:
    """Where a render stands.

    Attributes:
        digest: the hash of inputs and settings that made this checkpoint.
        rung: the rung in progress (0-based), or the next one to start.
        start_image: ``(1, H, W, 3)`` float32: the image rung ``rung`` started from (None for the first).
        optimizer: the optimiser's state within rung ``rung`` as arrays (None: the rung has not begun).
        histories: for each finished rung, {"iterations": [...], "losses": [...], "seconds": s, "stopped": "..."}.
        partial: the loss history of rung ``rung`` so far, when ``optimizer`` is set.
        output: the file name of the output it renders ("" in checkpoints written before
            2026-11-26): ``out.png`` and ``out.jpg`` share ``out.state/``.
    """

    digest: str
    rung: int = 0
    start_image: np.ndarray | None = None
    optimizer: dict[str, np.ndarray] | None = None
    histories: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[str, Any] | None = None
    output: str = ""


def state_folder(output: Path) -> Path:
    """``out.png`` -> ``out.state/``."""
    return side_path(output, ".state")


def hash_inputs(files: list[Path]) -> Any:
    """The input files' names and bytes, hashed: read once a plan, each digest starts from a copy."""
    inputs = hashlib.sha256()
    for path in files:
        inputs.update(path.name.encode())
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                inputs.update(block)
    return inputs


def digests_of(inputs: Any, settings: Any, backbone_source: str) -> tuple[str, str]:
    """What decides the picture, hashed: the input files' bytes (``inputs``, from
    ``hash_inputs``), the settings, the backbone.

    Returns:
        This version's digest, which leaves out the settings that only decide how the output is
        written or the run reported (``_OUTPUT_ONLY``: a render resumed with another JPEG quality
        is the same render); then the digest of every setting, which hires wrote until
        2026-11-26, so that a render begun before then still resumes.
    """
    digests = []
    for values in (_picture_settings(asdict(settings)), asdict(settings)):
        hasher = inputs.copy()
        hasher.update(json.dumps(_plain(_without_new_defaults(values)), sort_keys=True).encode())
        hasher.update(backbone_source.encode())
        hasher.update(str(FORMAT_VERSION).encode())
        digests.append(hasher.hexdigest())
    return digests[0], digests[1]


# How the output file is written, how many inputs pixels are allowed, how often progress is
# reported: none of them changes a pixel of the picture being optimised.
_OUTPUT_ONLY = ("bit_depth", "jpeg_quality", "max_input_megapixels", "chunk_iterations")


def _picture_settings(values: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in values.items() if key not in _OUTPUT_ONLY}
    if kept.get("print_size") is None:
        kept.pop("dpi", None)  # without a print size, dpi is only written into the file
    if kept.get("init") not in ("content", "noise"):
        kept["init"] = "file"  # the file's bytes are hashed with the inputs, wherever it lies
    return kept


# Settings added after checkpoints were first written, with the value that means "as before":
# left out of the digest at that value, so that a render begun by an older hires resumes.
_LATER_SETTINGS = {"precision": "float32", "stop_gain": EARLIER_DEFAULT_STOP_GAIN, "start_noise": 0.0,
                   "style_enlarge": EARLIER_DEFAULT_STYLE_ENLARGE, "coarse_step": EARLIER_DEFAULT_COARSE_STEP,
                   "start_detail": EARLIER_DEFAULT_START_DETAIL}


def _without_new_defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items()
            if key not in _LATER_SETTINGS or value != _LATER_SETTINGS[key]}


def _plain(value: Any) -> Any:
    """Settings as JSON-able data (tuples become lists)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def write_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    """Writes ``checkpoint`` atomically into ``folder`` (created if needed).

    Raises:
        HiresError: when the file system refuses (no space, no permission); the previous
            checkpoint, if any, is left as it was, and a folder this call created is removed.
    """
    had_one = (folder / CHECKPOINT_NAME).is_file()
    try:
        created = make_folders(folder)
    except OSError as exc:
        raise _refused(folder, exc, had_one) from exc
    try:
        _write(folder, checkpoint)
    except OSError as exc:
        remove_empty(created)
        raise _refused(folder, exc, had_one) from exc


def _refused(folder: Path, exc: OSError, had_one: bool) -> HiresError:
    then = ("it resumes from the last checkpoint written" if had_one
            else "no checkpoint had been written yet, so it starts afresh")
    return HiresError(f"cannot write the checkpoint in {folder} ({exc.strerror or exc}), so the render stopped. "
                      f"Free some space or fix the folder's permissions, then run the same command: {then}.")


def _write(folder: Path, checkpoint: Checkpoint) -> None:
    arrays: dict[str, np.ndarray] = {
        "meta": np.asarray(json.dumps({"version": FORMAT_VERSION, "digest": checkpoint.digest,
                                       "rung": checkpoint.rung, "histories": checkpoint.histories,
                                       "partial": checkpoint.partial, "output": checkpoint.output})),
    }
    if checkpoint.start_image is not None:
        arrays["start_image"] = checkpoint.start_image
    for name, value in (checkpoint.optimizer or {}).items():
        arrays[f"optimizer/{name}"] = value
    write_atomically(folder / CHECKPOINT_NAME, lambda stream: np.savez(stream, **arrays))


def read_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint in ``folder``, or None when there is none.

    Raises:
        DamagedCheckpoint: when the file exists but cannot be read whole.
    """
    path = folder / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('version')}, expected {FORMAT_VERSION}")
            optimizer = {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith("optimizer/")}
            start = data["start_image"] if "start_image" in data.files else None
            return Checkpoint(meta["digest"], int(meta["rung"]), start, optimizer or None,
                              list(meta["histories"]), meta.get("partial"), meta.get("output", ""))
    except Exception as exc:  # a truncated zip, bad JSON, missing keys: all mean "damaged"
        raise DamagedCheckpoint(f"{path}: {exc}") from exc


def read_digest(folder: Path) -> str | None:
    """The digest of the checkpoint in ``folder`` (its metadata only), or None when there is none
    or it cannot be read (``read_checkpoint`` then says why)."""
    try:
        with np.load(folder / CHECKPOINT_NAME, allow_pickle=False) as data:
            return str(json.loads(str(data["meta"]))["digest"])
    except Exception:  # missing or damaged: the resume decision reports it
        return None


def remove_state(folder: Path) -> None:
    """Deletes a state folder once its render is finished (or is to start afresh)."""
    shutil.rmtree(folder, ignore_errors=True)


class ForeignState(HiresError):
    """A state folder holds an unfinished render of other inputs or settings."""

    def __init__(self, folder: Path, message: str) -> None:
        super().__init__(message)
        self.folder = folder


def refuse_foreign(folder: Path, checkpoint: Checkpoint, digest: str) -> None:
    """Raises ForeignState when a state folder belongs to another render (inputs or settings changed)."""
    if checkpoint.digest != digest:
        raise ForeignState(folder,
            f"{folder} holds a render of other inputs or settings; pass --restart (or --overwrite) to "
            "start this render afresh (its unfinished work is then discarded), or choose another -o")
