"""Servers of infra/infra.sh that a test session boots early, in the background, on a data folder and ports of
their own: the outage tests' Kafka and Cassandra, the search tests' OpenSearch. The session launches them as soon as
it knows a test will use them (tests/e2e/conftest.py), so that they boot while the tests before those run; the
fixtures wait for them and clean them away."""

import shutil
from collections.abc import Callable
from pathlib import Path

from services.cli.launcher import infra


class BackgroundServers:
    def __init__(self, components: tuple[str, ...], make_env: Callable[[], dict[str, str]]) -> None:
        """`make_env` gives the environment of infra.sh for them (CHIRP_DATA_DIR, free ports): asked again after a
        `clean`, so servers started again get ports of their own."""
        self._components = components
        self._make_env = make_env
        self._env: dict[str, str] = {}
        self._started = None  # infra.sh start's result, once it ran

    @property
    def env(self) -> dict[str, str]:
        if not self._env:
            self._env = self._make_env()
        return self._env

    def launch(self) -> None:
        """Start them in the background (infra.sh start returns once the JVMs are launched); at most once."""
        if self._started is None:
            infra("clean", *self._components, check=False, env=self.env)  # what a killed session left behind
            self._started = infra("start", *self._components, check=False, env=self.env)

    def wait(self) -> str:
        """Launch them if need be and wait until they answer: '' then, else what went wrong, with the end of their
        logs (which `clean` deletes)."""
        self.launch()
        failed = self._started
        if failed.returncode == 0:
            ready = infra("wait", *self._components, check=False, env=self.env)
            if ready.returncode == 0:
                return ""
            failed = ready
        logs = Path(self.env["CHIRP_DATA_DIR"]) / "logs"
        tails = "".join(f"\n--- the end of {logs / c}.log:\n{_tail(logs / f'{c}.log')}" for c in self._components)
        return f"{failed.stdout}{failed.stderr}{tails}"

    def clean(self) -> None:
        """Stop them and delete their data, if this session started them."""
        if self._started is not None:
            infra("clean", *self._components, check=False, env=self.env)
            shutil.rmtree(self.env["CHIRP_DATA_DIR"], ignore_errors=True)
            self._started = None
            self._env = {}


def _tail(log: Path, lines: int = 40) -> str:
    return "".join(log.read_text(errors="replace").splitlines(keepends=True)[-lines:]) if log.exists() else "(no log)"
