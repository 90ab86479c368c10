"""Background processes of the sandbox: started detached, recorded by PID, stopped by PID only.

Each PID file also records a marker that must appear in the process's command line, so a PID reused by some
other program after a crash is never signalled.
"""
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

STOP_GRACE_SECONDS = 10


@dataclass
class ManagedProcess:
    name: str
    argv: list
    marker: str              # a string of argv that identifies the process in /proc/<pid>/cmdline
    env: Optional[dict] = None
    cwd: Optional[Path] = None


def _pid_file(pid_dir: Path, name: str) -> Path:
    return pid_dir / f"{name}.pid"


def running_pid(pid_dir: Path, name: str) -> Optional[int]:
    """The PID of the recorded process when it is still that process, else None."""
    path = _pid_file(pid_dir, name)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        cmdline = Path(f"/proc/{record['pid']}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, KeyError):
        return None
    return record["pid"] if record["marker"] in cmdline else None


def start(process: ManagedProcess, pid_dir: Path, log_dir: Path) -> int:
    pid = running_pid(pid_dir, process.name)
    if pid:
        return pid
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{process.name}.log", "ab") as log:
        # Not waited for: the process outlives this command by design (it is stopped later by PID).
        child = subprocess.Popen(  # pylint: disable=consider-using-with
            process.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(process.env or {})}, cwd=process.cwd, start_new_session=True)
    _pid_file(pid_dir, process.name).write_text(json.dumps({"pid": child.pid, "marker": process.marker}))
    return child.pid


def stop(pid_dir: Path, name: str) -> bool:
    """SIGTERM, then SIGKILL after a grace period; True when a process was stopped."""
    pid = running_pid(pid_dir, name)
    _pid_file(pid_dir, name).unlink(missing_ok=True)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace").split(")")[-1].split()[0]
    except OSError:
        return False
    return status != "Z"


def wait_for_port(port: int, timeout: float, process_name: str, pid: int, log_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        # Liveness by PID, not by command line: right after fork the child's cmdline is still the parent's.
        if not _alive(pid):
            raise RuntimeError(f"{process_name} exited while starting; see {log_dir / (process_name + '.log')}")
        time.sleep(0.1)
    raise RuntimeError(f"{process_name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s; "
                       f"see {log_dir / (process_name + '.log')}")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0
