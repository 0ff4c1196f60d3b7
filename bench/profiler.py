"""Optional CPU profiles of the service processes, phase by phase (`python -m bench run --profile`).

py-spy samples each Python process from outside (no code change, `pip install py-spy` into .venv) while a phase
runs; the collapsed stacks are kept under <out>/profiles/ and summarised as the functions that hold the CPU, which
is what docs/performance.md's analysis of unmet goals is built from. Off by default: sampling costs CPU that the
measured system would otherwise have.
"""

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLES_PER_SECOND = 50
TOP = 12
# Chirp frames every sample of a process passes through (its start-up): they say nothing about where time goes.
ENTRY_POINTS = ("<module> ", "main ", "run ", "_run_worker ", "_serve_api ", "serve ")
# Frames where a thread waits rather than works (py-spy's --nonblocking mode cannot always tell them apart).
WAITING = (
    "select (selectors.py",
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "_run_loop (cassandra/io/libevreactor.py",
)


def py_spy() -> str | None:
    """py-spy next to this interpreter (the .venv), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.executable = py_spy() if enabled else None
        if enabled and self.executable is None:
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.out_dir = out_dir / "profiles"
        self._running: list[tuple[str, str, Path, subprocess.Popen]] = []
        self.summary: dict[str, dict] = {}

    def start(self, phase: str, targets: dict[str, int]) -> None:
        if not self.executable:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for label, pid in targets.items():
            path = self.out_dir / f"{phase}-{label}.txt"
            command = [self.executable, "record", "--pid", str(pid), "--rate", str(SAMPLES_PER_SECOND), "--nonblocking"]
            command += ["--format", "raw", "--output", str(path)]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._running.append((phase, label, path, process))

    def stop(self) -> None:
        """End the phase's recordings (py-spy writes its file on SIGINT) and summarise them."""
        for phase, label, path, process in self._running:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            if path.exists():
                self.summary.setdefault(phase, {})[label] = summarise(path.read_text())
        self._running.clear()


def summarise(collapsed: str) -> dict:
    """From py-spy's collapsed stacks ("frame;frame;frame count" per line): the functions where CPU time is spent
    (self) and Chirp's functions under which it is spent (inclusive), as shares of all samples."""
    own: Counter = Counter()
    under: Counter = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(waiting in frames[-1] for waiting in WAITING):
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            under[frame] += samples
    chirp = Counter(
        {frame: n for frame, n in under.items() if "(services/" in frame and not frame.startswith(ENTRY_POINTS)}
    )
    share = lambda counter: [[frame, round(100 * n / total, 1)] for frame, n in counter.most_common(TOP)]  # noqa: E731
    return {
        "samples": total,
        "self_pct": share(own) if total else [],
        # Chirp's own functions by the CPU spent under them: which use case or step the time belongs to.
        "chirp_inclusive_pct": share(chirp) if total else [],
    }
