"""Peak memory and CPU of every process of the run (services, Kafka, Cassandra, the load generator), per phase.

Per-phase CPU is what tells which process is saturated when a goal is missed: on this 2-core machine 100% is one
whole core, and a Python service cannot use more than about one.
"""

import re
import threading
import urllib.request

import psutil

INTERVAL_SECONDS = 0.5
MACHINE = "machine (all processes)"
# The counters the edge phase reads: calls a gRPC server answered, as its gate counts them (RPC_LATENCY in
# services/runtime/grpc_server.py), and the edge's token checks by how they were answered (services/edge/auth.py).
_COUNTED = re.compile(
    r'^(?:chirp_grpc_server_handling_seconds_count\{method="/[\w.]+/(\w+)"|chirp_edge_token_checks_total\{answer="(\w+)"'
    r")\} ([0-9.e+]+)$",
    re.M,
)


def counted(metrics_port: int) -> dict[str, float]:
    """What a process has counted so far, from its Prometheus endpoint (CHIRP_METRICS_PORT): calls answered by
    method name, and (the edge) token checks as "token <answer>". Nothing from a process that serves none (an edge
    of a version without metrics, in a comparison of versions)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    return {method or f"token {check}": float(count) for method, check, count in _COUNTED.findall(text)}


class ResourceMonitor:
    def __init__(self) -> None:
        self._processes: dict[str, psutil.Process] = {}
        self._stats: dict[str, dict] = {}
        self._phase = "setup"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def watch(self, label: str, pid: int) -> None:
        """Follow `pid` under `label` (again after a restart: the label keeps its figures)."""
        try:
            process = psutil.Process(pid)
            process.cpu_percent(None)  # the first reading is meaningless; start the interval now
        except psutil.NoSuchProcess:
            return
        with self._lock:
            self._processes[label] = process
            self._stats.setdefault(label, {"peak_rss_mb": 0.0, "phases": {}})

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each watched process has used so far: differences of two readings give the
        CPU a stretch of work cost, which on a busy machine says more than its wall-clock time."""
        with self._lock:
            watched = list(self._processes.items())
        found = {}
        for label, process in watched:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            found[label] = times.user + times.system
        return found

    def phase(self, name: str) -> None:
        self._phase = name

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict:
        """Per process: peak RSS, and mean and peak CPU (% of one core) in each phase."""
        self._stop.set()
        self._thread.join()
        report = {}
        for label, stats in self._stats.items():
            phases = {
                phase: {"cpu_mean_pct": round(s["sum"] / s["n"], 1), "cpu_peak_pct": round(s["peak"], 1)}
                for phase, s in stats["phases"].items()
                if s["n"]
            }
            report[label] = {"peak_rss_mb": round(stats["peak_rss_mb"], 1), "phases": phases}
        return report

    def _sample(self) -> None:
        psutil.cpu_percent(None)
        while not self._stop.wait(INTERVAL_SECONDS):
            with self._lock:
                watched = list(self._processes.items())
            # The whole machine too (as % of one core): other work on the box shows as the gap to the processes.
            readings = [(MACHINE, psutil.cpu_percent(None) * psutil.cpu_count(), psutil.virtual_memory().used / 2**20)]
            for label, process in watched:
                try:
                    readings.append((label, process.cpu_percent(None), process.memory_info().rss / 2**20))
                except psutil.Error:
                    continue
            for label, cpu, rss in readings:
                stats = self._stats.setdefault(label, {"peak_rss_mb": 0.0, "phases": {}})
                stats["peak_rss_mb"] = max(stats["peak_rss_mb"], rss)
                phase = stats["phases"].setdefault(self._phase, {"sum": 0.0, "n": 0, "peak": 0.0})
                phase["sum"] += cpu
                phase["n"] += 1
                phase["peak"] = max(phase["peak"], cpu)
