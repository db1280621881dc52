"""Starting a fresh standalone ZooKeeper server for the integration suite (used by conftest.py).

The target is chosen with ZK_TARGET=apache|swift (default apache):

* apache: Apache ZooKeeper 3.8 from Debian (`ZooKeeperServerMain` run straight from
  /usr/share/java/zookeeper.jar; its manifest Class-Path pulls in the rest, and
  slf4j-simple makes it log to stderr, which we capture).
* swift:  our `zkserver CFG` ($ZKSERVER_BIN, default <repo>/.build/release/zkserver).

Both read the same zoo.cfg, written per server into a temp directory. The suite's
expectations were taken from Apache, so running it with ZK_TARGET=swift checks that our
server behaves like the reference.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("ZK_TARGET", "apache").strip().lower()
if TARGET not in ("apache", "swift"):
    raise pytest.UsageError(f"ZK_TARGET must be apache or swift, not {TARGET!r}")

APACHE_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
CLI_MT = shutil.which("cli_mt") or "/usr/lib/zookeeper/bin/cli_mt"

# Keys that Apache reads as JVM system properties. Apache copies unknown zoo.cfg keys into
# "zookeeper.<key>" properties (enough for the superDigest, see
# test_super_digest_from_zoo_cfg_only) but the znode.container.* ones have no "zookeeper."
# prefix, so for Apache all of these also go on the command line as -D flags. The swift
# target reads them as plain zoo.cfg keys (they are written to zoo.cfg for both).
JVM_PROPERTY_KEYS = {
    "DigestAuthenticationProvider.superDigest": "zookeeper.DigestAuthenticationProvider.superDigest",
    # how often containers and TTL nodes are checked (Apache default 60000 ms)
    "znode.container.checkIntervalMs": "znode.container.checkIntervalMs",
    # containers that never had a child are removed after this long (0 = never)
    "znode.container.maxNeverUsedIntervalMs": "znode.container.maxNeverUsedIntervalMs",
    # serve read-only sessions without a quorum (ensembles)
    "readonlymode.enabled": "readonlymode.enabled",
}

BASE_CONFIG = {
    "tickTime": "2000",
    "maxClientCnxns": "0",
    "4lw.commands.whitelist": "*",
    "extendedTypesEnabled": "true",
    "admin.enableServer": "false",
}

_live_servers: list["ZkServer"] = []


def wait_for(pred, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Polls `pred` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port: int, cmd: str, timeout: float = 5.0) -> str:
    """Send a four-letter word and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            chunks.append(d)
    return b"".join(chunks).decode("utf-8", "replace")


def java_command(main_class: str, cfg_path, config: dict[str, str]) -> list[str]:
    """The command line of an Apache server: zoo.cfg keys Apache reads only as JVM properties
    become -D flags, then $SERVER_JVMFLAGS."""
    props = [f"-D{JVM_PROPERTY_KEYS[k]}={v}" for k, v in config.items() if k in JVM_PROPERTY_KEYS]
    flags = os.environ.get("SERVER_JVMFLAGS", "").split()
    return [
        "java",
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dzookeeper.jmx.log4j.disable=true",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        *props,
        *flags,
        "-cp",
        ":".join(APACHE_JARS),
        main_class,
        str(cfg_path),
    ]


def stop_clients(clients) -> None:
    """Stops and closes kazoo clients, ignoring ones already gone."""
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:
            pass


class ZkServer:
    """One standalone server process with its own port, dataDir and log."""

    def __init__(self, extra: dict[str, str] | None = None, drop: tuple[str, ...] = (), name: str = "zk"):
        self.dir = Path(tempfile.mkdtemp(prefix=f"zkit-{name}-"))
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir()
        self.port = free_port()
        self.config = dict(BASE_CONFIG)
        for k in drop:
            self.config.pop(k, None)
        self.config.update(
            {"dataDir": str(self.data_dir), "clientPort": str(self.port), "clientPortAddress": "127.0.0.1"}
        )
        self.config.update(extra or {})
        self.cfg_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _command(self) -> list[str]:
        if TARGET == "swift":
            binary = os.environ.get("ZKSERVER_BIN") or str(REPO_ROOT / ".build" / "release" / "zkserver")
            if not os.access(binary, os.X_OK):
                pytest.fail(f"ZK_TARGET=swift but {binary} is not an executable (build it or set ZKSERVER_BIN)")
            return [binary, str(self.cfg_path)]
        return java_command("org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg_path, self.config)

    def start(self, timeout: float = 30.0) -> "ZkServer":
        self.cfg_path.write_text("".join(f"{k}={v}\n" for k, v in self.config.items()))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._command(), cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        _live_servers.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{TARGET} server exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                if self.ruok_any() :
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"{TARGET} server not ready within {timeout}s\n{self.log_tail()}")

    def ruok_any(self) -> bool:
        # A server without ruok in its whitelist still answers srvr; either proves readiness.
        # ruok answers before the request pipeline is up; srvr only reports stats once the
        # server is serving ("This ZooKeeper instance is not currently serving requests").
        # For swift, imok alone is enough (srvr is tested on its own in test_fourletter.py).
        answer = four_letter(self.port, "ruok", timeout=1.0)
        if answer == "imok" and TARGET == "swift":
            return True
        if answer != "imok" and "not executed" not in answer:
            return False
        return four_letter(self.port, "srvr", timeout=1.0).startswith("Zookeeper version:")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self in _live_servers:
            _live_servers.remove(self)

    def crash(self) -> None:
        """SIGKILL the server's process group: no shutdown, no final snapshot."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self in _live_servers:
            _live_servers.remove(self)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return f"--- {TARGET} server log tail ({self.log_path}) ---\n" + "\n".join(text[-lines:])

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))
