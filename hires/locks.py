"""Lock files, so that processes (and machines) sharing one folder never render the same job twice.

A lock is a small JSON file created atomically (``O_CREAT | O_EXCL``)::

    {"host": "node17", "pid": 4242, "started": 1732600000.0, "heartbeat": 1732600090.0, "token": "..."}

While it is held, a background thread rewrites it (temporary file + ``os.replace``) every
``heartbeat_seconds`` with a fresh ``heartbeat``. A lock is *stale*, and may be taken over, when

- its heartbeat (and the file's modification time) is older than ``stale_seconds``, or
- it was taken on this host by a process that no longer exists, or by an earlier process with
  this process's id (a restarted container reuses ids), or
- it cannot be read or parsed and the file is older than ``stale_seconds`` (a lock being
  written right now is briefly empty: that is not stale).

A stale lock is taken over in turns: a process creates the guard ``<lock>.break`` with
``O_EXCL`` (only one can), looks at the lock again (another process may have replaced it by a
live one meanwhile), renames it to a unique tombstone name, deletes the tombstone and the
guard, and creates the lock anew with ``O_EXCL`` (again only one process can win). A guard
older than ``stale_seconds`` was left by a process that died while breaking, and is removed.

Limits: "this host" is ``socket.gethostname()``, so machines (or containers) sharing a folder
must have distinct host names; the heartbeat test compares clocks of different machines, so
their clocks must agree to well within ``stale_seconds``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hires.errors import HiresError
from hires.files import write_text_atomically

DEFAULT_HEARTBEAT_SECONDS = 30.0
DEFAULT_STALE_SECONDS = 120.0
_ATTEMPTS = 5
# Tokens of the locks this process holds: a lock with this host and this process's id but
# another token was left by an earlier process that had the same id (a restarted container).
_HELD: set[str] = set()


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder."""

    host: str
    pid: int
    started: float
    heartbeat: float
    token: str = ""

    def to_json(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "started": self.started,
                           "heartbeat": self.heartbeat, "token": self.token}, indent=1) + "\n"


class LockLost(HiresError):
    """Another process took over a lock this process held (after it missed heartbeats for ``stale_seconds``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} was taken over by another process while this one was paused or "
                         "cut off from the folder; this process stopped without writing, leaving the job to it")
        self.path = path


class LockedElsewhere(HiresError):
    """The lock is held by another live process (here or on another machine)."""

    def __init__(self, path: Path, holder: LockInfo | None, detail: str) -> None:
        super().__init__(f"{path} is held by another process ({detail})")
        self.path = path
        self.holder = holder


def parse_lock(raw: bytes) -> LockInfo | None:
    """The holder described by a lock file's bytes; None when they are not a complete lock."""
    try:
        data = json.loads(raw.decode("utf-8"))
        info = LockInfo(host=data["host"], pid=data["pid"], started=float(data["started"]),
                        heartbeat=float(data["heartbeat"]), token=str(data.get("token", "")))
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(info.host, str) or not isinstance(info.pid, int) or isinstance(info.pid, bool):
        return None
    return info


def read_lock(path: Path) -> tuple[LockInfo | None, os.stat_result]:
    """The holder of the lock at ``path`` (None when unreadable or corrupt) and the file's stat.

    Raises:
        FileNotFoundError: there is no lock file.
    """
    with open(path, "rb") as fp:
        st = os.fstat(fp.fileno())
        try:
            raw = fp.read(65536)
        except OSError:
            raw = b""
    return parse_lock(raw), st


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (True when it cannot be told)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def staleness(info: LockInfo | None, st: os.stat_result, *, stale_seconds: float,
              now: float | None = None) -> str | None:
    """Why the lock is stale, or None when its holder must be presumed alive."""
    now = time.time() if now is None else now
    if info is None:
        age = now - st.st_mtime
        return f"unreadable lock file, {age:.0f} s old" if age > stale_seconds else None
    age = now - max(info.heartbeat, st.st_mtime)
    if age > stale_seconds:
        return f"its last heartbeat was {age:.0f} s ago"
    if info.host == this_host() and not pid_alive(info.pid):
        return f"process {info.pid} on {info.host} has ended"
    if info.host == this_host() and info.pid == os.getpid() and info.token not in _HELD:
        return f"left by an earlier process {info.pid} on {info.host} (this process has its id)"
    return None


def _describe(info: LockInfo | None, st: os.stat_result) -> str:
    now = time.time()
    if info is None:
        return f"the lock file cannot be read yet; modified {now - st.st_mtime:.0f} s ago"
    return (f"pid {info.pid} on {info.host}, started {now - info.started:.0f} s ago, "
            f"last heartbeat {now - info.heartbeat:.0f} s ago")


class Lock:
    """A held lock; keeps its heartbeat going until ``release``.

    Attributes:
        path: the lock file.
        info: what this process wrote into it.
        lost: set when the heartbeat found the file replaced by another process's lock (which
            only happens after this process failed to refresh it for ``stale_seconds``).
    """

    def __init__(self, path: Path, info: LockInfo, heartbeat_seconds: float) -> None:
        self.path = path
        self.info = info
        self.heartbeat_seconds = heartbeat_seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {path.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.refresh()
            except OSError:
                continue  # a passing file-system hiccup; the next beat tries again
            if self.lost:
                return

    def refresh(self) -> None:
        """Rewrites the heartbeat now (atomically); sets ``lost`` if the lock is no longer ours."""
        if not self._still_ours():
            return
        self.info = LockInfo(self.info.host, self.info.pid, self.info.started, time.time(), self.info.token)
        write_text_atomically(self.path, self.info.to_json())

    def _still_ours(self) -> bool:
        """Reads the lock file; sets ``lost`` when it holds another process's lock (or none)."""
        try:
            current, _ = read_lock(self.path)
        except FileNotFoundError:
            current = None
        if current is None or current.token != self.info.token:
            self.lost = True
        return not self.lost

    def check(self) -> None:
        """Raises LockLost when another process has taken the lock over; called before each write.

        The heartbeat thread notices a takeover only at its next beat; a process that was paused
        past ``stale_seconds`` must not write a checkpoint or a picture over the new holder's.
        A file-system error that hides the answer is not taken for a loss.
        """
        try:
            ours = not self.lost and self._still_ours()
        except OSError:
            ours = not self.lost
        if not ours:
            raise LockLost(self.path)

    def release(self) -> None:
        """Stops the heartbeat and deletes the lock file if it is still this process's."""
        _HELD.discard(self.info.token)
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with contextlib.suppress(FileNotFoundError):
            current, _ = read_lock(self.path)
            if current is not None and current.token == self.info.token:
                os.unlink(self.path)


def acquire_lock(path: str | Path, *, heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
                 stale_seconds: float = DEFAULT_STALE_SECONDS) -> Lock:
    """Takes the lock at ``path``, taking over a stale one; the folder must exist.

    Raises:
        LockedElsewhere: another live process holds it.
        OSError: the lock file cannot be created (permissions, no space).
    """
    if not 0 < heartbeat_seconds < stale_seconds:
        raise ValueError(f"need 0 < heartbeat_seconds < stale_seconds, got {heartbeat_seconds}, {stale_seconds}")
    path = Path(path)
    for attempt in range(_ATTEMPTS):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                info, st = read_lock(path)
            except FileNotFoundError:
                continue  # released just now: try again
            if staleness(info, st, stale_seconds=stale_seconds) is None:
                raise LockedElsewhere(path, info, _describe(info, st)) from None
            if not _break_stale(path, stale_seconds):
                time.sleep(0.05 * (attempt + 1))  # another process is breaking it: see who won
            continue  # whoever broke it, the next O_EXCL decides who holds it
        now = time.time()
        info = LockInfo(this_host(), os.getpid(), now, now, uuid.uuid4().hex)
        _HELD.add(info.token)  # before the file says so, so that this process never takes it for stale
        try:
            _write_all(fd, info.to_json().encode("utf-8"))
        except BaseException:
            _HELD.discard(info.token)
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        os.close(fd)
        return Lock(path, info, heartbeat_seconds)
    try:
        info, st = read_lock(path)
        detail = f"another process is taking over this stale lock; {_describe(info, st)}"
    except FileNotFoundError:
        info, detail = None, "other processes kept taking and releasing it"
    raise LockedElsewhere(path, info, detail)


@contextlib.contextmanager
def hold_lock(path: str | Path, *, heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
              stale_seconds: float = DEFAULT_STALE_SECONDS) -> Iterator[Lock]:
    """``with hold_lock(p) as lock:`` holds the lock for the block; raises LockedElsewhere if held."""
    lock = acquire_lock(path, heartbeat_seconds=heartbeat_seconds, stale_seconds=stale_seconds)
    try:
        yield lock
    finally:
        lock.release()


def _break_stale(path: Path, stale_seconds: float) -> bool:
    """Removes the stale lock at ``path``; False when another process is doing it or it is live now.

    Breakers take turns through a guard file ``<lock>.break`` (``O_EXCL``), so a lock that
    another process has just replaced by a live one is never removed: the guard's holder looks
    at the lock again, and only then renames it to a tombstone of its own and deletes that.
    """
    guard = path.with_name(path.name + ".break")
    try:
        os.close(os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        _clear_abandoned_guard(guard, stale_seconds)
        return False
    try:
        try:
            info, st = read_lock(path)
        except FileNotFoundError:
            return True
        if staleness(info, st, stale_seconds=stale_seconds) is None:
            return False  # replaced by a live lock since the caller looked
        tomb = _tombstone(path)
        try:
            os.rename(path, tomb)
        except FileNotFoundError:
            return True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tomb)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(guard)


def _clear_abandoned_guard(guard: Path, stale_seconds: float) -> None:
    """Removes a guard left by a process that died while breaking a lock (it takes milliseconds)."""
    try:
        if time.time() - guard.stat().st_mtime <= stale_seconds:
            return
        tomb = _tombstone(guard)
        os.rename(guard, tomb)
        os.unlink(tomb)
    except FileNotFoundError:
        pass


def _tombstone(path: Path) -> Path:
    return path.with_name(f"{path.name}.{this_host()}.{os.getpid()}.{uuid.uuid4().hex[:12]}.stale")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
