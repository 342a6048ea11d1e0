"""Nodes run as real ``detente`` processes on loopback, for crash and outage tests.

Each node is made with the CLI (``detente init``, ``peer add --yes``,
``operator add --format json``), or with the same functions in process,
and served by ``detente serve`` in a subprocess of its own, which the test
can kill with SIGKILL, restart and stop cleanly. Every incarnation's stdout
and stderr go to a file under the test's ``tmp_path``, so a failure can be
diagnosed from the nodes' own logs (``detente.*`` loggers). :func:`cluster`
kills whatever is still running when it exits, so a failing test leaves no
process behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine, text

from detente.node import Peer, init_node
from detente.node.operators import Role, add_operator
from tests.fakes.servers import free_port

# No emergency line here: its link tests would put entries of their own in the
# logs, and these tests count exactly what they send.
AGREEMENT = "new-start"
CLI = (sys.executable, "-m", "detente.cli.app")

T = TypeVar("T")


class ProcessError(RuntimeError):
    """A node process did something the test did not expect; the message has its log."""


def run_all(commands: Sequence[Sequence[object]], timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run ``detente`` commands side by side; each must exit 0 and print JSON."""
    started = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*CLI, *(str(a) for a in command)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        for command in commands
    ]
    results = []
    try:
        for command, process in zip(commands, started, strict=True):
            out, err = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raise ProcessError(f"detente {command} exited {process.returncode}:\n{out}\n{err}")
            results.append(json.loads(out))
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate()
    return results


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DETENTE_HOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class PostgresSchemas:
    """Fresh PostgreSQL schemas, one per node, dropped on :meth:`drop_all`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine = create_engine(url)
        self._made: list[str] = []

    def new(self) -> str:
        """Create a schema and return a database URL whose search path is it."""
        schema = f"r_{secrets.token_hex(6)}"
        with self._engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        self._made.append(schema)
        separator = "&" if "?" in self._url else "?"
        return f"{self._url}{separator}options=-csearch_path%3D{schema}"

    def drop_all(self) -> None:
        """Drop every schema made here (the nodes using them must be stopped)."""
        with self._engine.begin() as conn:
            for schema in self._made:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        self._made.clear()
        self._engine.dispose()


class NodeProcess:
    """One party's node directory and its ``detente serve`` process, if running."""

    def __init__(
        self,
        party: str,
        directory: Path,
        logs: Path,
        *,
        port: int,
        retry_interval: float = 0.2,
    ) -> None:
        self.party = party
        self.directory = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.retry_interval = retry_interval
        self.log_path = logs / f"{party}.log"
        self.verifier_key = ""
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the serve process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> NodeProcess:
        """Start ``detente serve``; with ``wait``, return once ``/v1/health`` answers."""
        if self.running:
            raise ProcessError(f"{self.party} is already running")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {self.party}: start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    *CLI,
                    "serve",
                    "--dir",
                    str(self.directory),
                    "--port",
                    str(self.port),
                    "--retry-interval",
                    str(self.retry_interval),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_child_env(),
            )
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll ``/v1/health`` until it names this node's party.

        Raises:
            ProcessError: the process exited, or did not answer in time.
        """
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise ProcessError(f"{self.party} exited while starting:\n{self.log_tail()}")
                try:
                    response = client.get(f"{self.url}/v1/health")
                    if response.status_code == 200 and response.json()["party"] == self.party:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise ProcessError(f"{self.party} did not answer on {self.url}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the process, as a crash or power cut would end it, and reap it."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.process = None

    def restart(self, *, timeout: float = 30.0) -> None:
        """Kill (if running) and start again on the same port and directory."""
        self.kill()
        self.start(timeout=timeout)

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 20.0) -> int:
        """Stop with ``sig`` (SIGTERM or SIGINT) and return the exit status.

        Raises:
            ProcessError: it did not exit within ``timeout`` (it is then killed).
        """
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ProcessError(
                f"{self.party} ignored {sig.name} for {timeout} s:\n{self.log_tail()}"
            ) from None
        self.process = None
        return status

    def log_tail(self, lines: int = 60) -> str:
        """The end of this node's log file (every incarnation)."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- API ---------------------------------------------------------------

    def operator_client(self, *, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client for the operator API with the bearer token; close it."""
        return httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )


class Cluster:
    """Nodes of one agreement that know each other, each served by its own process."""

    def __init__(self, root: Path, parties: Sequence[str], *, retry_interval: float = 0.2) -> None:
        self.root = root
        logs = root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.nodes = {
            party: NodeProcess(
                party, root / party, logs, port=free_port(), retry_interval=retry_interval
            )
            for party in parties
        }

    def __getitem__(self, party: str) -> NodeProcess:
        return self.nodes[party]

    def init(self, database_urls: dict[str, str] | None = None, *, via: str = "cli") -> None:
        """Make each node, add every other as a peer and an operator to each.

        ``via="cli"`` runs ``detente init``, ``peer add --yes`` and ``operator
        add --format json`` (each step side by side for all nodes); ``via="api"``
        calls the same functions in this process, some seconds faster.
        """
        urls = database_urls or {}
        if via == "cli":
            self._init_cli(urls)
        elif via == "api":
            self._init_api(urls)
        else:
            raise ValueError(f"via must be 'cli' or 'api', not {via!r}")

    def _init_cli(self, urls: dict[str, str]) -> None:
        inits = []
        for party, node in self.nodes.items():
            command: list[object] = ["init", node.directory, "--party", party]
            command += ["--agreement", AGREEMENT, "--format", "json"]
            if urls.get(party):
                command += ["--database-url", urls[party]]
            inits.append(command)
        for node, data in zip(self.nodes.values(), run_all(inits), strict=True):
            node.verifier_key = data["verifier_key"]
        for other in self.nodes.values():
            adds = [
                ["peer", "add", "--dir", node.directory, "--party", other.party]
                + ["--url", other.url, "--key", other.verifier_key, "--yes", "--format", "json"]
                for node in self.nodes.values()
                if node is not other
            ]
            run_all(adds)
        tokens = run_all(
            [
                ["operator", "add", "officer", "--role", "operator"]
                + ["--dir", node.directory, "--format", "json"]
                for node in self.nodes.values()
            ]
        )
        for node, data in zip(self.nodes.values(), tokens, strict=True):
            node.token = data["token"]

    def _init_api(self, urls: dict[str, str]) -> None:
        opened = {
            party: init_node(
                node.directory,
                party=party,
                agreement_ref=AGREEMENT,
                database_url=urls.get(party, ""),
            )
            for party, node in self.nodes.items()
        }
        try:
            for party, made in opened.items():
                peers = tuple(
                    Peer(party=other, url=self.nodes[other].url, key=opened[other].verifier)
                    for other in self.nodes
                    if other != party
                )
                made.save_config(replace(made.config, peers=peers))
                self.nodes[party].verifier_key = made.verifier.to_text()
                self.nodes[party].token = add_operator(made, "officer", Role.operator)[1]
        finally:
            for made in opened.values():
                made.close()

    def close(self) -> None:
        """Kill every node still running (the finalizer of a failed test)."""
        for node in self.nodes.values():
            node.kill()

    def logs(self) -> str:
        """Every node's log tail, for an assertion message."""
        return "\n".join(f"--- {p} ---\n{n.log_tail()}" for p, n in self.nodes.items())


@contextmanager
def cluster(
    root: Path,
    parties: Sequence[str],
    *,
    postgres_url: str = "",
    retry_interval: float = 0.2,
    via: str = "cli",
) -> Iterator[Cluster]:
    """A :class:`Cluster` initialised on SQLite, or on PostgreSQL with a schema per node.

    On exit every process is killed before the schemas are dropped.
    """
    made = Cluster(root, parties, retry_interval=retry_interval)
    schemas = PostgresSchemas(postgres_url) if postgres_url else None
    try:
        urls = {p: schemas.new() for p in parties} if schemas else {}
        made.init(urls, via=via)
        yield made
    finally:
        made.close()
        if schemas is not None:
            schemas.drop_all()


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str
) -> T:
    """Call ``condition`` until it returns something truthy; return that.

    Raises:
        TimeoutError: it stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout} s")
        time.sleep(interval)
