"""Tests for hires.locks: lock files with a heartbeat, taken over only when stale.

Stale locks are written here by hand: one of a process that has ended (the pid of a finished
``sleep 0``), one whose heartbeat and file are old, corrupt ones. The races start several
threads or processes at a barrier on one stale lock and check that exactly one wins.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hires.errors import HiresError
from hires.locks import (LockedElsewhere, LockInfo, LockLost, _break_stale, acquire_lock, hold_lock, read_lock,
                         staleness, this_host)

OTHER_HOST = "another-machine.invalid"


def _write_lock(path: Path, *, host: str, pid: int, heartbeat_age: float = 0.0, file_age: float = 0.0,
                token: str = "theirs") -> LockInfo:
    now = time.time()
    info = LockInfo(host, pid, now - heartbeat_age - 5, now - heartbeat_age, token)
    path.write_text(info.to_json())
    _age_file(path, file_age)
    return info


def _age_file(path: Path, age: float) -> None:
    if age:
        then = time.time() - age
        os.utime(path, (then, then))


def _ended_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["sleep", "0"])
    process.wait()
    return process.pid


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------------------
# Holding and releasing
# ---------------------------------------------------------------------------------------------

def test_a_lock_is_a_json_file_while_held_and_gone_after(tmp_path):
    path = tmp_path / "out.png.lock"
    with hold_lock(path) as lock:
        data = json.loads(path.read_text())
        assert data["host"] == this_host() and data["pid"] == os.getpid()
        assert data["started"] <= data["heartbeat"] <= time.time()
        assert data["token"] == lock.info.token
    assert _leftovers(tmp_path) == []


def test_a_second_acquire_while_held_raises_locked_elsewhere(tmp_path):
    path = tmp_path / "out.png.lock"
    with hold_lock(path):
        with pytest.raises(LockedElsewhere) as caught:
            acquire_lock(path)
        assert isinstance(caught.value, HiresError)
        assert f"pid {os.getpid()}" in str(caught.value) and str(path) in str(caught.value)
        assert caught.value.holder.pid == os.getpid()
        assert path.exists()  # the failed attempt did not disturb the holder
    with hold_lock(path):  # free again once released
        pass


def test_a_released_lock_is_not_deleted_when_it_is_no_longer_ours(tmp_path):
    path = tmp_path / "out.png.lock"
    lock = acquire_lock(path)
    theirs = _write_lock(path, host=OTHER_HOST, pid=1)  # someone took it over
    lock.refresh()
    assert lock.lost
    lock.release()
    assert read_lock(path)[0] == theirs


def test_heartbeat_seconds_must_be_below_stale_seconds(tmp_path):
    with pytest.raises(ValueError):
        acquire_lock(tmp_path / "x.lock", heartbeat_seconds=10, stale_seconds=5)


# ---------------------------------------------------------------------------------------------
# Stale locks
# ---------------------------------------------------------------------------------------------

def test_a_lock_of_an_ended_process_on_this_host_is_taken_over(tmp_path):
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=this_host(), pid=_ended_pid())
    with hold_lock(path) as lock:
        assert read_lock(path)[0] == lock.info and lock.info.pid == os.getpid()
    assert _leftovers(tmp_path) == []  # no tombstone left behind


def test_a_lock_of_a_live_process_is_not_taken_over(tmp_path):
    path = tmp_path / "out.png.lock"
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        try:
            _write_lock(path, host=this_host(), pid=sleeper.pid)
            with pytest.raises(LockedElsewhere):
                acquire_lock(path)
        finally:
            sleeper.kill()


def test_a_lock_with_an_old_heartbeat_is_taken_over(tmp_path):
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=1000, file_age=1000)
    with hold_lock(path, stale_seconds=120) as lock:
        assert read_lock(path)[0].token == lock.info.token
    assert _leftovers(tmp_path) == []


def test_a_fresh_lock_of_another_host_is_respected_whatever_its_pid(tmp_path):
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=OTHER_HOST, pid=_ended_pid())  # that pid means nothing here
    with pytest.raises(LockedElsewhere, match=OTHER_HOST):
        acquire_lock(path)


def test_an_old_heartbeat_in_a_freshly_written_file_is_not_stale(tmp_path):
    """Clocks of two machines may disagree: a file rewritten just now counts as a heartbeat too."""
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=1000)
    with pytest.raises(LockedElsewhere):
        acquire_lock(path, stale_seconds=120)


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"host": "x"}', b"\xff\xfe", b'["a list"]'])
def test_a_corrupt_lock_file_is_stale_only_when_old(tmp_path, content):
    path = tmp_path / "out.png.lock"
    path.write_bytes(content)  # e.g. a lock being written this very moment
    with pytest.raises(LockedElsewhere, match="cannot be read"):
        acquire_lock(path, stale_seconds=120)
    _age_file(path, 1000)
    with hold_lock(path, stale_seconds=120) as lock:
        assert read_lock(path)[0].token == lock.info.token


def test_the_heartbeat_thread_rewrites_the_lock(tmp_path):
    path = tmp_path / "out.png.lock"
    with hold_lock(path, heartbeat_seconds=0.05, stale_seconds=5) as lock:
        first = json.loads(path.read_text())
        deadline = time.time() + 5
        while json.loads(path.read_text())["heartbeat"] == first["heartbeat"] and time.time() < deadline:
            time.sleep(0.02)
        later = json.loads(path.read_text())
        assert later["heartbeat"] > first["heartbeat"]
        assert {k: later[k] for k in ("host", "pid", "started", "token")} == \
               {k: first[k] for k in ("host", "pid", "started", "token")}
        assert not lock.lost
        assert _leftovers(tmp_path) == ["out.png.lock"]  # no temporary files left
    assert _leftovers(tmp_path) == []


def test_breaking_a_lock_that_turned_live_leaves_it(tmp_path):
    """Between judging a lock stale and breaking it, another process may have replaced it."""
    path = tmp_path / "out.png.lock"
    live = _write_lock(path, host=OTHER_HOST, pid=1)
    assert _break_stale(path, stale_seconds=120) is False
    assert read_lock(path)[0] == live
    assert _leftovers(tmp_path) == ["out.png.lock"]


def test_a_stale_lock_being_broken_by_another_process_is_left_to_it(tmp_path):
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=1000, file_age=1000)
    (tmp_path / "out.png.lock.break").touch()  # another process is breaking it right now
    with pytest.raises(LockedElsewhere, match="taking over"):
        acquire_lock(path, stale_seconds=120)
    assert sorted(_leftovers(tmp_path)) == ["out.png.lock", "out.png.lock.break"]


def test_a_guard_left_by_a_dead_breaker_is_cleared(tmp_path):
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=1000, file_age=1000)
    guard = tmp_path / "out.png.lock.break"
    guard.touch()
    _age_file(guard, 1000)
    with hold_lock(path, stale_seconds=120) as lock:
        assert read_lock(path)[0].token == lock.info.token
    assert _leftovers(tmp_path) == []


def test_staleness_reasons(tmp_path):
    path = tmp_path / "x.lock"
    info = _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=500, file_age=500)
    st = path.stat()
    assert "heartbeat" in staleness(info, st, stale_seconds=120)
    assert staleness(info, st, stale_seconds=1000) is None
    mine = LockInfo(this_host(), _ended_pid(), time.time(), time.time())
    assert "has ended" in staleness(mine, os.stat(tmp_path), stale_seconds=120)


# ---------------------------------------------------------------------------------------------
# Races on one stale lock
# ---------------------------------------------------------------------------------------------

def _contend(path: Path, start, done) -> str:
    """Waits at ``start``, tries the lock, and holds it (if won) until everyone has tried."""
    start.wait()
    try:
        lock = acquire_lock(path, heartbeat_seconds=1, stale_seconds=60)
    except LockedElsewhere:
        done.wait()
        return "lost"
    done.wait()
    lock.release()
    return "won"


def test_threads_racing_for_a_stale_lock_exactly_one_wins(tmp_path):
    path = tmp_path / "out.png.lock"
    for round_ in range(15):
        _write_lock(path, host=OTHER_HOST, pid=1, heartbeat_age=1000, file_age=1000, token=f"old{round_}")
        start, done = threading.Barrier(6), threading.Barrier(6)
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(_contend(path, start, done)))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(results) == ["lost"] * 5 + ["won"], f"round {round_}"
        assert _leftovers(tmp_path) == []


def _contend_in_process(path: str, start, done, results) -> None:
    for _ in range(3):
        results.put(_contend(Path(path), start, done))
        done.wait()  # the next round's stale lock is written by the parent meanwhile


def test_processes_racing_for_a_stale_lock_exactly_one_wins(tmp_path):
    path = tmp_path / "out.png.lock"
    context = multiprocessing.get_context("spawn")
    start, done, results = context.Barrier(5), context.Barrier(5), context.Queue()
    workers = [context.Process(target=_contend_in_process, args=(str(path), start, done, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for round_ in range(3):
            _write_lock(path, host=this_host(), pid=_ended_pid(), token=f"old{round_}")
            start.wait(timeout=60)  # all four try at once
            done.wait(timeout=60)  # all have tried; the winner releases
            outcomes = sorted(results.get(timeout=60) for _ in workers)
            assert outcomes == ["lost"] * 3 + ["won"], f"round {round_}"
            done.wait(timeout=60)
            assert _leftovers(tmp_path) == []
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert all(worker.exitcode == 0 for worker in workers)


def test_a_lock_left_by_an_earlier_process_with_this_pid_is_taken_over(tmp_path):
    """A restarted container may give the new process the dead one's id, on the same host name."""
    path = tmp_path / "out.png.lock"
    _write_lock(path, host=this_host(), pid=os.getpid(), token="an-earlier-life")
    with hold_lock(path) as lock:
        assert read_lock(path)[0].token == lock.info.token


def test_check_raises_lock_lost_once_another_process_took_the_lock(tmp_path):
    path = tmp_path / "out.png.lock"
    with hold_lock(path) as lock:
        lock.check()  # still ours: nothing happens
        theirs = _write_lock(path, host=OTHER_HOST, pid=1)
        with pytest.raises(LockLost, match="taken over by another process"):
            lock.check()
        assert lock.lost
    assert read_lock(path)[0] == theirs  # releasing a lost lock leaves the new holder's alone
