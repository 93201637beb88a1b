"""Process-tree helpers for tests that kill a command and check that none of its worker processes is left (Linux:
reads /proc)."""
from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Live descendants of `pid` (zombies excluded), from /proc."""
    kids: dict[int, list[int]] = {}
    state: dict[int, str] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            rest = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state[int(d.name)] = rest[0]
        kids.setdefault(int(rest[1]), []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return {p for p in out if state.get(p) != "Z"}


def alive(pids: set[int]) -> set[int]:
    out = set()
    for p in pids:
        try:
            if (Path("/proc") / str(p) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.add(p)
        except OSError:
            pass
    return out


def interrupt(args: list[str], sig: int, *, min_procs: int, settle: float = 2.0, **popen) -> tuple[int, set[int]]:
    """Start `args`, wait until it has `min_procs` descendant processes (and `settle` seconds more, so they are at
    work), send it `sig`; return its exit status and those descendants still alive 30 s after it exited."""
    import subprocess
    import time

    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    try:
        end = time.monotonic() + 120
        while len(descendants(p.pid)) < min_procs and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(settle)
        procs = descendants(p.pid)
        assert len(procs) >= min_procs, f"only {len(procs)} worker processes started"
        p.send_signal(sig)
        rc = p.wait(timeout=60)
        end = time.monotonic() + 30
        while alive(procs) and time.monotonic() < end:
            time.sleep(0.2)
        return rc, alive(procs)
    finally:
        if p.poll() is None:
            p.kill()
