"""Files written whole or not at all: the one way every file hires writes reaches the disk.

A file is written to a temporary name in its own folder (so the rename never crosses file
systems), flushed to disk, given the permissions a new file would have, and renamed onto its
name; the folder is then flushed too, so the rename survives a crash. A kill at any moment
leaves either the previous file or the new one, never a part; the temporary file is removed on
any failure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

from hires.errors import HiresError


def resolve(path: Path) -> Path:
    """``path`` made absolute with its links followed.

    Raises:
        HiresError: for a link that loops (``a -> b -> a``), which ``Path.resolve`` reports as a
            RuntimeError, or a path the system refuses to follow.
    """
    try:
        return path.resolve()
    except RuntimeError:  # Python's words for a loop of links
        raise HiresError(f"{path} is a symbolic link that leads back to itself; point it at a file, "
                         "or give another path") from None
    except OSError as exc:
        raise HiresError(f"{path} cannot be followed ({exc.strerror or exc}); give another path") from None


class Exists(FileExistsError):
    """The target appeared while it was being written, and may not be replaced."""


def temporary_prefix(target: Path) -> str:
    """The name a file is written under before it is renamed: short enough beside a long output name."""
    return f".{target.name[:80]}."


def write_atomically(target: Path, write: Callable[[IO[bytes]], None], *, overwrite: bool = True) -> None:
    """Writes ``target`` through ``write(stream)``, whole or not at all.

    Args:
        target: the file; its folder must exist.
        write: fills the open binary stream (whose ``.name`` is the temporary file's path).
        overwrite: replace an existing ``target``; if False and it appears meanwhile, ``Exists``.

    Raises:
        Exists: see ``overwrite``.
        OSError: from the file system (no space, no permission); nothing is left behind.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target), suffix=".tmp")
    os.close(fd)  # reopened by name: tifffile wants a file object whose .name is a path
    temporary = Path(name)
    try:
        with open(temporary, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would make the result private
        _publish(temporary, target, overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_folder(target.parent)


def make_folders(folder: Path) -> list[Path]:
    """Creates ``folder`` and any missing parents; returns those it created, deepest first.

    Raises:
        OSError: as ``Path.mkdir``.
    """
    missing = [folder, *folder.parents]
    missing = [path for path in missing[: next(i for i, p in enumerate(missing) if p.is_dir())]]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Removes those of ``folders`` (deepest first) that are empty: a failed write leaves no empty folder."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another file was written there meanwhile), or gone
            return


def write_text_atomically(path: Path, text: str) -> None:
    """``write_atomically`` for UTF-8 text, replacing ``path`` if it exists."""
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def _umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(temporary: Path, target: Path, overwrite: bool) -> None:
    """Moves the finished file into place without clobbering a file that must be kept.

    A hard link fails if the target appeared meanwhile, so, unlike an exists-check followed by
    a rename, it cannot overwrite a file created since the write began.
    """
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError as exc:
        raise Exists(str(target)) from exc
    except OSError:  # the file system has no hard links (FAT, some network shares)
        if target.exists():
            raise Exists(str(target)) from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _fsync_folder(folder: Path) -> None:
    """Makes the rename itself durable; best effort, as not every system allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
