"""Overnight batches: many renders from one TOML job file, safe to run in several processes at once.

A job file lists ``[[job]]`` tables; options at its top level (before the first ``[[job]]``) are
shared defaults that each job may override::

    backbone = "vgg16-hed"           # shared by every job below
    config = "configs/print-2k.toml" # optional: a ladder config

    [[job]]
    content = "photo.jpg"
    style = "painting.jpg"           # or a list of paths
    output = "out/photo-painting.png"
    size = 2048                      # any render option

A job's settings are the config's table, overridden by the top-level defaults, overridden by
the job's table, merged by the same rule as the command line's (``hires.config.merge_layers``):
an option given above the config replaces that option on every rung of the config's ladder, and
``size`` replaces a ``print_size`` from below (and the other way round). Paths are relative to
the job file's folder.

Everything is checked before anything runs. Jobs then run one after another; each holds a
lock (``hires.locks``) beside its output while it renders, so processes and machines sharing
the folder never render the same job twice. This module returns data; the command line
(``hires batch``) shows it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import traceback
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hires.checkpoint import ForeignState, state_folder
from hires.config import (RenderSettings, load_config, merge_layers, read_toml, settings_fields, settings_from_dict,
                          unknown_field)
from hires.devices import MachineOptions
from hires.errors import HiresError
from hires.images import side_path
from hires.ladder import Ladder
from hires.files import resolve, write_text_atomically
from hires.locks import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_STALE_SECONDS, LockedElsewhere, LockLost, hold_lock

JOB_FIELDS = ("content", "style", "output", "config")
SETTINGS_FIELDS = frozenset((set(settings_fields()) - {"ladder"})
                            | ({f.name for f in fields(Ladder)} - {"rungs"}) | {"rung"})
_EXAMPLE = 'e.g. [[job]] with content = "photo.jpg", style = "painting.jpg", output = "out/photo.png"'

DONE, SKIPPED, FAILED, LOCKED = "done", "skipped", "failed", "locked-elsewhere"
PENDING, INTERRUPTED, NOT_RUN = "pending", "interrupted", "not-run"


@dataclass(frozen=True)
class BatchJob:
    """One job of a job file, checked and with absolute paths.

    Attributes:
        number: its place in the job file, from 1.
        output_text: the output as the job file writes it (for summaries).
    """

    number: int
    content: Path
    styles: tuple[Path, ...]
    output: Path
    settings: RenderSettings
    output_text: str


@dataclass(frozen=True)
class Shard:
    """Shard ``index + 1`` of ``count``: the jobs ``k`` (from 0, in file order) with ``k % count == index``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


@dataclass
class JobOutcome:
    """What became of one job in this run."""

    job: int
    output: str
    status: str = PENDING
    seconds: float = 0.0
    message: str = ""
    holder: Any = field(default=None, repr=False)  # the LockInfo of the lock's holder, when locked elsewhere


@dataclass
class BatchSummary:
    """A run of a job file (or of one shard of it) by one process."""

    job_file: Path
    shard: Shard | None
    outcomes: list[JobOutcome]
    started: float = field(default_factory=time.time)
    finished: float | None = None
    interruption: BaseException | None = None  # the KeyboardInterrupt or RenderInterrupted that stopped the run

    @property
    def interrupted(self) -> bool:
        return self.interruption is not None

    @property
    def failed(self) -> bool:
        return any(o.status == FAILED for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in (DONE, SKIPPED, FAILED, LOCKED)}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_file": str(self.job_file.absolute()),
            "shard": None if self.shard is None else str(self.shard),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": _iso(self.started),
            "finished": None if self.finished is None else _iso(self.finished),
            "interrupted": self.interrupted,
            "counts": self.counts(),
            "jobs": [{"job": o.job, "output": o.output, "status": o.status, "seconds": o.seconds,
                      "message": o.message} for o in self.outcomes],
        }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# Shards
# ---------------------------------------------------------------------------------------------

def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> the second of four shards.

    Raises:
        HiresError: unless the text is ``I/N`` with ``1 <= I <= N``.
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise HiresError(f"--shard must be I/N with 1 <= I <= N (e.g. 2/4 for the second of four), not {text!r}")
    return Shard(int(match[1]) - 1, int(match[2]))


def shard_from_env(env: Mapping[str, str]) -> Shard | None:
    """The shard of a Slurm array task: SLURM_ARRAY_TASK_ID among SLURM_ARRAY_TASK_COUNT tasks.

    Task ids are counted from SLURM_ARRAY_TASK_MIN (and in steps of SLURM_ARRAY_TASK_STEP) when
    those are set; an array whose ids are not evenly spaced up to SLURM_ARRAY_TASK_MAX (a list
    such as ``--array=0,2,5``) is refused. None outside a job array.

    Raises:
        HiresError: for values that do not give a shard from 0 to count - 1.
    """
    if "SLURM_ARRAY_TASK_ID" not in env:
        return None
    names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
             "SLURM_ARRAY_TASK_STEP")
    shown = ", ".join(f"{name}={env[name]}" for name in names if name in env)
    fix = "pass --shard I/N to choose the shard yourself"
    if "SLURM_ARRAY_TASK_COUNT" not in env:
        raise HiresError(f"SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not ({shown}); {fix}")
    try:
        task, count = int(env["SLURM_ARRAY_TASK_ID"]), int(env["SLURM_ARRAY_TASK_COUNT"])
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        step = int(env.get("SLURM_ARRAY_TASK_STEP", "1") or "1")
        last = int(env["SLURM_ARRAY_TASK_MAX"]) if env.get("SLURM_ARRAY_TASK_MAX") else None
    except ValueError:
        raise HiresError(f"the Slurm array variables must be whole numbers ({shown}); {fix}") from None
    if last is not None and last != first + step * (count - 1):
        # A list such as --array=0,2,5: task ids are not MIN + STEP * k, so the shard cannot be told.
        raise HiresError(f"the Slurm array's task ids are not evenly spaced from its first to its last "
                         f"({shown}); use --array=0-N (or A-B:S) or {fix}")
    offset = task - first
    if step < 1 or offset % step:
        raise HiresError(f"cannot tell this task's place in the Slurm array ({shown}); {fix}")
    index = offset // step
    if count < 1 or not 0 <= index < count:
        raise HiresError(f"the Slurm array task is not one of {count} tasks counted from "
                         f"{first} ({shown}); use --array=0-N or {fix}")
    return Shard(index, count)


def choose_shard(option: str | None, env: Mapping[str, str]) -> Shard | None:
    """``--shard`` if given, else the Slurm array task's shard, else None (every job)."""
    return parse_shard(option) if option is not None else shard_from_env(env)


def select_shard(jobs: Sequence[BatchJob], shard: Shard | None) -> list[BatchJob]:
    """The jobs of one shard, in file order: the k-th job (from 0) is in shard ``k % count``."""
    if shard is None:
        return list(jobs)
    return [job for k, job in enumerate(jobs) if k % shard.count == shard.index]


# ---------------------------------------------------------------------------------------------
# The job file
# ---------------------------------------------------------------------------------------------

def load_jobs(path: str | Path) -> list[BatchJob]:
    """Reads and checks every job of a job file.

    Raises:
        HiresError: for a missing or broken file, an unknown field, a missing content, style or
            output, an impossible value, or two jobs writing the same files; the message names
            the file, the job (from 1) and the field.
    """
    path = Path(path)
    data = read_toml(path, f"job file {path}")
    folder = path.absolute().parent
    tables = data.pop("job", None)
    if tables is None or tables == []:
        raise HiresError(f"{path}: no [[job]] table; give each picture one, {_EXAMPLE}")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise HiresError(f"{path}: job must be a list of tables, written [[job]]")
    defaults = data
    top = f"{path}: top level"
    if "output" in defaults:
        raise HiresError(f"{top}: output belongs in each [[job]] (or it comes after the first [[job]] "
                         "line); every job needs its own output")
    _check_fields(defaults, SETTINGS_FIELDS | {"config", "content", "style"}, top)
    configs: dict[Path, dict[str, Any]] = {}
    _settings(defaults, {}, folder, configs, top)  # errors in the defaults are not job 1's
    jobs = [_job(number, table, defaults, folder, configs, f"{path}: job {number}")
            for number, table in enumerate(tables, start=1)]
    _check_distinct(path, jobs)
    _check_files(path, jobs)
    return jobs


def _check_fields(table: Mapping[str, Any], known: set[str] | frozenset[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise unknown_field(where, key, known)


def _job(number: int, table: dict[str, Any], defaults: dict[str, Any], folder: Path,
         configs: dict[Path, dict[str, Any]], where: str) -> BatchJob:
    _check_fields(table, SETTINGS_FIELDS | set(JOB_FIELDS), where)
    given = {**{k: v for k, v in defaults.items() if k in ("content", "style")}, **table}
    for name in ("content", "style", "output"):
        if name not in given:
            raise HiresError(f"{where}: {name} is missing; every [[job]] needs content, style and output, {_EXAMPLE}")
    content = _path(given["content"], folder, f"{where}: content")
    style = given["style"]
    if isinstance(style, list) and style:
        styles = tuple(_path(item, folder, f"{where}: style") for item in style)
    elif isinstance(style, list):
        raise HiresError(f"{where}: style is an empty list; give one or more paintings")
    else:
        styles = (_path(style, folder, f"{where}: style"),)
    output = _path(given["output"], folder, f"{where}: output")
    from hires.images import SUPPORTED_OUTPUT_SUFFIXES

    if output.suffix.lower() not in SUPPORTED_OUTPUT_SUFFIXES:
        raise HiresError(f"{where}: output {given['output']!r} must end in one of {', '.join(SUPPORTED_OUTPUT_SUFFIXES)}")
    settings = _settings(defaults, table, folder, configs, where)
    if settings.style_blend is not None and len(settings.style_blend) != len(styles):
        raise HiresError(f"{where}: style_blend has {len(settings.style_blend)} weights for "
                         f"{len(styles)} styles; give one per style")
    return BatchJob(number, content, styles, output, settings, given["output"])


def _path(value: Any, folder: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise HiresError(f"{where} must be a path in quotes, not {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def _settings(defaults: dict[str, Any], table: dict[str, Any], folder: Path,
              configs: dict[Path, dict[str, Any]], where: str) -> RenderSettings:
    """The config's table <- the defaults <- the job's table (``hires.config.merge_layers``), read as one config."""
    config = table.get("config", defaults.get("config"))
    base = {} if config is None else _config_table(config, folder, configs, where)
    merged = merge_layers([{k: v for k, v in layer.items() if k not in JOB_FIELDS} for layer in (base, defaults, table)])
    for name in ("init", "weights"):
        value = merged.get(name)
        if isinstance(value, str) and value.strip() and not (name == "init" and value in ("content", "noise")):
            merged[name] = str(_path(value, folder, f"{where}: {name}"))
    return settings_from_dict(merged, source=where)


def _config_table(value: Any, folder: Path, configs: dict[Path, dict[str, Any]], where: str) -> dict[str, Any]:
    path = _path(value, folder, f"{where}: config")
    if path not in configs:
        try:
            load_config(path)  # checks it, with messages that name the config's own fields
        except HiresError as exc:
            raise HiresError(f"{where}: {exc}") from None
        configs[path] = read_toml(path, f"config {path}")
    return configs[path]


def side_stem(output: Path) -> Path:
    """``out/a.png`` -> ``out/a``: the prefix of the render's side files (``a.rungs/``, ``a.contact.png``, ``a.state/``)."""
    return side_path(output, "")


def lock_path(output: Path) -> Path:
    """``out/a.png`` -> ``out/a.png.lock``."""
    return output.with_name(output.name + ".lock")


def _check_distinct(path: Path, jobs: Sequence[BatchJob]) -> None:
    """Two jobs may not write one output, nor share side files (``a.png`` and ``a.jpg``)."""
    outputs: dict[Path, BatchJob] = {}
    stems: dict[Path, BatchJob] = {}
    for job in jobs:
        resolved = resolve(job.output)
        if resolved in outputs:
            raise HiresError(f"{path}: jobs {outputs[resolved].number} and {job.number} both write "
                             f"{job.output_text!r}; give each job its own output")
        stem = side_stem(resolved)
        if stem in stems:
            other = stems[stem]
            raise HiresError(
                f"{path}: jobs {other.number} and {job.number} write {other.output_text!r} and "
                f"{job.output_text!r}, which would share {stem.name}.rungs/, {stem.name}.contact.png "
                f"and {stem.name}.state/; give them different names")
        outputs[resolved] = stems[stem] = job
    for job in jobs:
        sheet = side_path(resolve(job.output), ".contact.png")
        if sheet in outputs:
            raise HiresError(f"{path}: job {job.number}'s contact sheet {sheet.name} is job "
                             f"{outputs[sheet].number}'s output; rename one of them")


def _inputs_of(job: BatchJob) -> list[tuple[str, Path]]:
    """The job's image files, each with the field that names it."""
    named = [("content", job.content)] + [("style", style) for style in job.styles]
    if job.settings.init not in ("content", "noise"):
        named.append(("init", Path(job.settings.init)))
    return named


def _check_files(path: Path, jobs: Sequence[BatchJob]) -> None:
    """Checks every job's files before the first render, so that a mistake in job 40 does not wait
    hours for its turn: inputs readable as images (from their headers), weights present, outputs
    writable in their format, and no output that would replace another job's input."""
    from hires.images import check_input_file, check_output_options, check_output_path

    _check_outputs_are_not_inputs(path, jobs)
    for job in jobs:
        where = f"{path}: job {job.number}"
        for name, file in _inputs_of(job):
            try:
                check_input_file(file, max_megapixels=job.settings.max_input_megapixels)
            except HiresError as exc:
                raise HiresError(f"{where}: {name}: {exc}") from None
        weights = job.settings.weights
        if weights and not Path(weights).is_file():
            raise HiresError(f"{where}: weights {weights} is not a file; give the path of the VGG19 "
                             "weights file (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), or leave weights out")
        try:
            check_output_path(job.output, overwrite=True)  # existing outputs: skipped or resumed later
            # The pixels are not known before the photograph is read: this checks the format
            # against the options (16 bits for a JPEG); the render checks the size limits.
            check_output_options(job.output, height=64, width=64, bit_depth=job.settings.bit_depth,
                                 jpeg_quality=job.settings.jpeg_quality)
        except HiresError as exc:
            raise HiresError(f"{where}: output: {exc}") from None


def _check_outputs_are_not_inputs(path: Path, jobs: Sequence[BatchJob]) -> None:
    """Checked before the inputs' existence, so that a job meant to read another's output (which
    does not exist yet) hears why that cannot work, not that its input is missing."""
    readers: dict[Path, tuple[int, str]] = {}
    for job in jobs:
        for name, file in _inputs_of(job):
            readers.setdefault(resolve(file), (job.number, name))
    for job in jobs:
        for written in (job.output, side_path(job.output, ".contact.png")):
            if resolve(written) not in readers:
                continue
            number, name = readers[resolve(written)]
            if written.exists():
                raise HiresError(f"{path}: job {job.number} would write {written}, which is job {number}'s "
                                 f"{name}; the picture would be replaced. Give job {job.number} another output")
            if number == job.number:
                raise HiresError(f"{path}: job {job.number}'s {name} is its own output ({written}); the render "
                                 f"would replace the picture it reads. Give job {job.number} another output")
            what = "output" if written == job.output else "contact sheet"
            raise HiresError(
                f"{path}: job {number}'s {name} is job {job.number}'s {what} ({written}); jobs of one batch "
                f"cannot feed each other (every input is checked before the first render, and a rerun would "
                f"replace the picture job {number} read). Render job {job.number} first, copy its output, and "
                f"give job {number} the copy")


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

def summary_path(job_file: str | Path, shard: Shard | None = None) -> Path:
    """``jobs.toml`` -> ``jobs.summary.json``; for shard 2 of 4, ``jobs.shard-2-of-4.summary.json``."""
    job_file = Path(job_file)
    stem = job_file.name.rsplit(".", 1)[0] if "." in job_file.name else job_file.name
    middle = "" if shard is None else f".shard-{shard.index + 1}-of-{shard.count}"
    return job_file.with_name(f"{stem}{middle}.summary.json")


def write_summary(summary: BatchSummary, path: Path) -> None:
    """Writes the summary as JSON, atomically (a temporary file renamed onto ``path``).

    Raises:
        HiresError: when it cannot be written.
    """
    try:
        write_text_atomically(path, json.dumps(summary.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise HiresError(f"cannot write the batch summary {path}: {exc}") from exc


def run_batch(
    jobs: Sequence[BatchJob],
    *,
    job_file: Path,
    shard: Shard | None = None,
    summary_file: Path | None = None,
    overwrite: bool = False,
    restart: bool = False,
    reporter_for: Callable[[], Any] | None = None,
    log: Callable[[str], None] | None = None,
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
    stale_seconds: float = DEFAULT_STALE_SECONDS,
    checkpoint_seconds: float = 300.0,
    machine: MachineOptions = MachineOptions(),
) -> BatchSummary:
    """Runs ``jobs`` one after another; a job that fails is recorded and the next one runs.

    A job is skipped when its output exists without a state folder beside it (finished by an
    earlier run) unless ``overwrite``; it is "locked-elsewhere" when another live process holds
    its lock. With ``overwrite``, an output written by another process since this run started is
    also skipped, so that concurrent ``--overwrite`` runs still render each job once.

    Args:
        summary_file: written (atomically) before the first job, after each job and at the end.
        restart: passed to ``render``: start unfinished jobs afresh instead of resuming them.
        reporter_for: makes each job's progress Reporter (default: silent).
        log: receives one line as each job starts and ends.

    Returns:
        The summary. When Ctrl-C or SIGTERM (``KeyboardInterrupt``, ``RenderInterrupted``)
        stopped the run, the job it stopped is "interrupted" (its checkpoint is kept), the jobs
        after it are "not-run", and ``interruption`` holds the exception for the caller to
        re-raise once it has shown the summary.

    Raises:
        HiresError: when the summary cannot be written before the first job.
    """
    from hires.stopping import RenderInterrupted
    from hires.stopping import raise_if_stopped

    log = log or (lambda text: None)
    summary = BatchSummary(job_file, shard, [JobOutcome(job.number, job.output_text) for job in jobs])
    if summary_file is not None:
        write_summary(summary, summary_file)  # fails before any render when the folder is read-only

    def save() -> None:
        if summary_file is not None:
            try:
                write_summary(summary, summary_file)
            except HiresError as exc:
                log(f"warning: {exc}")

    lock_options = {"heartbeat_seconds": heartbeat_seconds, "stale_seconds": stale_seconds}

    def run(job: BatchJob, outcome: JobOutcome) -> None:
        raise_if_stopped()  # a signal whose exception was lost stops the batch before the next job
        try:
            _run_job(job, outcome, overwrite=overwrite, restart=restart, run_started=summary.started,
                     reporter_for=reporter_for, log=log, checkpoint_seconds=checkpoint_seconds,
                     lock_options=lock_options, machine=machine)
        finally:
            save()

    try:
        for job, outcome in zip(jobs, summary.outcomes):
            run(job, outcome)
        for job, outcome in _wait_for_silent_holders(summary, jobs, lock_options, log):
            run(job, outcome)
    except (KeyboardInterrupt, RenderInterrupted) as exc:
        _record_interruption(summary, exc)
    summary.finished = time.time()
    save()
    return summary


def _record_interruption(summary: BatchSummary, exc: BaseException) -> None:
    """The running job is "interrupted" (its checkpoint kept), the ones after it "not-run"."""
    for outcome in summary.outcomes:
        if outcome.status == "running":
            outcome.status = INTERRUPTED
            outcome.message = "stopped by " + ("Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "a signal")
        elif outcome.status == PENDING:
            outcome.status = NOT_RUN
    summary.interruption = exc


def _wait_for_silent_holders(summary: BatchSummary, jobs: Sequence[BatchJob], lock_options: dict[str, float],
                             log: Callable[[str], None]) -> list[tuple[BatchJob, JobOutcome]]:
    """After the last job: the jobs locked by holders that have missed heartbeats, to try once more.

    A process killed with its node (before a Slurm requeue, say) leaves a lock that is not stale
    for ``stale_seconds``; a rerun started within that time would otherwise skip those jobs, and
    in a job array no other task renders them. So this waits until those locks are stale and
    returns their jobs, set to pending. A holder whose heartbeat is fresh is alive and renders
    its job itself: its job is not retried.
    """
    silent_after = 2 * lock_options["heartbeat_seconds"]
    now = time.time()
    waiting = [(job, outcome) for job, outcome in zip(jobs, summary.outcomes)
               if outcome.status == LOCKED and outcome.holder is not None
               and now - outcome.holder.heartbeat > silent_after]
    if not waiting:
        return []
    wake = max(outcome.holder.heartbeat for _, outcome in waiting) + lock_options["stale_seconds"] + 1
    wait = max(0.0, wake - now)
    numbers = ", ".join(str(job.number) for job, _ in waiting)
    log(f"job{'s' if len(waiting) > 1 else ''} {numbers}: the lock's holder has missed its heartbeats; "
        f"waiting {wait:.0f} s until it is stale, then trying again")
    time.sleep(wait)
    for _, outcome in waiting:
        outcome.status, outcome.holder, outcome.message = PENDING, None, ""
    return waiting


def check_plans(jobs: Sequence[BatchJob], *, job_file: Path, overwrite: bool, machine: MachineOptions,
                log: Callable[[str], None] = lambda text: None) -> None:
    """Plans every job that would render, as its render will, before the first one starts.

    The job file's check reads only headers; this reads each picture and plans its ladder on this
    machine, so that what a render refuses at its start (a rung that cannot fit the memory even
    in tiles, a layer the backbone lacks, a print too large for its format, rung pictures of an
    earlier render) stops the batch now, not hours into the night.

    Raises:
        HiresError: naming the job file, the job and the problem.
    """
    from core.errors import CoreError
    from hires.plan import make_plan

    now = time.time()

    def left_to_others(job: BatchJob) -> bool:
        """Another process renders the job, or has finished it since: not this one's to judge."""
        return lock_path(job.output).exists() or _skip_reason(job.output, overwrite, now) is not None

    waiting = [job for job in jobs if _skip_reason(job.output, overwrite, now) is None]
    if waiting:
        log(f"planning {len(waiting)} job{'s' if len(waiting) != 1 else ''} on this machine before the first render")
    for job in waiting:
        if left_to_others(job):
            continue
        try:
            make_plan(_render_job(job, overwrite=overwrite, machine=machine), look_for_state=False)
        except (HiresError, CoreError) as exc:
            if left_to_others(job):  # taken or finished while this process planned it
                continue
            raise HiresError(f"{job_file}: job {job.number}: {exc}") from None


def _render_job(job: BatchJob, *, overwrite: bool, machine: MachineOptions, guard=lambda: None):
    """The RenderJob of a batch job: the same for its planning and its render."""
    from hires.job import RenderJob

    unfinished = state_folder(job.output).is_dir() and job.output.exists()
    return RenderJob(job.content, job.styles, job.output, job.settings, overwrite=overwrite or unfinished,
                     machine=machine, guard=guard, replace_rungs=True)


def _run_job(job: BatchJob, outcome: JobOutcome, **options: Any) -> None:
    clock = time.perf_counter()
    try:
        _attempt_job(job, outcome, clock, **options)
    finally:  # also when an interrupt stops it
        outcome.seconds = round(time.perf_counter() - clock, 2)


def _attempt_job(job: BatchJob, outcome: JobOutcome, clock: float, *, overwrite: bool, restart: bool,
                 run_started: float, reporter_for: Callable[[], Any] | None, log: Callable[[str], None],
                 lock_options: dict[str, float], checkpoint_seconds: float, machine: MachineOptions) -> None:
    from core.errors import CoreError
    from hires.job import SilentReporter
    from hires.render import render

    outcome.status = "running"

    def finish(status: str, message: str) -> None:
        outcome.status, outcome.message = status, message
        outcome.seconds = round(time.perf_counter() - clock, 2)
        log(f"job {job.number}: {status} ({outcome.seconds:.0f} s): {message}")

    styles = ", ".join(str(s) for s in job.styles)
    log(f"job {job.number}: {job.content} in the style of {styles} -> {job.output}")
    reason = _skip_reason(job.output, overwrite, run_started)
    if reason:
        return finish(SKIPPED, reason)
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        with hold_lock(lock_path(job.output), **lock_options) as lock:
            reason = _skip_reason(job.output, overwrite, run_started)  # again: it may have finished meanwhile
            if reason:
                return finish(SKIPPED, reason)
            render_job = _render_job(job, overwrite=overwrite, machine=machine, guard=lock.check)
            reporter = reporter_for() if reporter_for is not None else SilentReporter()
            try:
                result = render(render_job, reporter, restart=restart, checkpoint_seconds=checkpoint_seconds)
            finally:
                if hasattr(reporter, "close"):
                    reporter.close()
            finish(DONE, f"{result.width_px}x{result.height_px}, {result.backbone}")
    except LockedElsewhere as exc:
        outcome.holder = exc.holder
        finish(LOCKED, f"{exc}; that process renders it. If it is gone, its lock is taken over once its "
                       f"heartbeat is {lock_options['stale_seconds']:.0f} s old: run this batch again then")
    except LockLost as exc:
        finish(LOCKED, str(exc))
    except ForeignState as exc:
        finish(FAILED, f"{exc.folder} holds an unfinished render of other inputs or settings (the job "
                       f"was changed after it was interrupted); delete {exc.folder} to start this job "
                       "afresh, or pass --restart, which starts every unfinished job of the batch afresh")
    except (HiresError, CoreError) as exc:
        finish(FAILED, str(exc))
    except OSError as exc:  # the output's folder or the lock cannot be made
        finish(FAILED, str(exc))
    except Exception as exc:  # one broken job must not stop the night's batch
        log(traceback.format_exc().rstrip())
        finish(FAILED, f"{type(exc).__name__}: {exc}")


def _skip_reason(output: Path, overwrite: bool, run_started: float) -> str | None:
    """Why the job needs no render, or None."""
    if not output.exists() or state_folder(output).is_dir():
        return None  # never finished (a state folder means it was interrupted)
    if not overwrite:
        return "rendered before: the output exists; pass --overwrite to render it again"
    try:
        if output.stat().st_mtime >= run_started:
            return "rendered by another process during this run"
    except FileNotFoundError:
        return None
    return None
