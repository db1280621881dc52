"""Starting a ZooKeeper ensemble (several servers on 127.0.0.1) for test_ensemble.py and
scripts/failover-time.

The target is chosen like the rest of the suite (zkharness.TARGET, ZK_TARGET=apache|swift):

* apache: `java ... org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`
  (Debian's ZooKeeper 3.8; `SERVER_JVMFLAGS` is appended).
* swift:  `$ZKSERVER_BIN zoo.cfg` (default <repo>/.build/release/zkserver).

Each member gets its own directory (zoo.cfg, data/myid, server.log) and three free loopback
ports (client, quorum, election). Every zoo.cfg lists all members as

    server.N=127.0.0.1:<quorumPort>:<electionPort>:participant|observer;127.0.0.1:<clientPort>

and sets tickTime=200, initLimit=10, syncLimit=5 (elections and failure detection within
about a second), reconfigEnabled=false and standaloneEnabled=false (both parameterizable),
4lw.commands.whitelist=*. minSessionTimeout/maxSessionTimeout keep their defaults, i.e.
2 and 20 ticks = 400 ms and 4 s: a kazoo session asking for 10 s gets 4 s.

Members are addressed by their server id (myid, 1-based) everywhere in this API:

    ens = ZkEnsemble(3, observers=1).start()   # waits: one leader, the rest follow/observe
    ens.leader(), ens.followers(), ens.observers(), ens.modes()   # from `srvr` Mode:
    ens.hosts(2), ens.hosts(1, 3)               # kazoo connect strings
    ens.kill(1)      # SIGKILL          ens.stop(1)   # SIGTERM
    ens.start(1)     # restart one      ens.wait_settled(sids=[2, 3])
    ens.pause(1)     # SIGSTOP          ens.resume(1) # SIGCONT
    ens[2].mntr(), ens[2].srvr(), ens[2].zxid(), ens[2].four_letter("cons"), ens[2].log_tail()
    ens.cleanup()    # SIGKILL everything, remove the directory (also a context manager)

Each server's stdout and stderr go to <dir>/s<id>/server.log (appended across restarts, with
`=== harness ... ===` marker lines for every start/kill/stop/pause/resume). conftest.py's
`ensemble_factory` fixture makes ensembles for a test and attaches every member's log tail
to the report of a failing test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from zkharness import REPO_ROOT, TARGET, four_letter, free_port, java_command

ENSEMBLE_BASE_CONFIG = {
    "tickTime": "200",
    "initLimit": "10",
    "syncLimit": "5",
    "maxClientCnxns": "0",
    "4lw.commands.whitelist": "*",
    "admin.enableServer": "false",
}

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"

# Every ensemble not yet cleaned up; conftest.py attaches their members' log tails to
# failing tests.
_live_ensembles: list["ZkEnsemble"] = []


class EnsembleError(Exception):
    """The ensemble did not reach the wanted state (carries the members' states and logs)."""


def _binary() -> str:
    binary = os.environ.get("ZKSERVER_BIN") or str(REPO_ROOT / ".build" / "release" / "zkserver")
    if not os.access(binary, os.X_OK):
        raise EnsembleError(f"ZK_TARGET=swift but {binary} is not an executable (build it or set ZKSERVER_BIN)")
    return binary


def parse_mntr(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k.strip()] = v.strip()
    return out


def parse_srvr(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k.strip()] = v.strip()
    return out


class EnsembleMember:
    """One server of an ensemble: its id, ports, directory and (at most one) process."""

    def __init__(self, ensemble: "ZkEnsemble", sid: int, role: str, root: Path, ports: tuple[int, int, int]):
        self.ensemble = ensemble
        self.sid = sid
        self.role = role  # "participant" | "observer"
        self.client_port, self.quorum_port, self.election_port = ports
        self.dir = root / f"s{sid}"
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(parents=True)
        (self.data_dir / "myid").write_text(f"{sid}\n")
        self.cfg_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.paused = False

    # -- addresses
    @property
    def port(self) -> int:
        return self.client_port

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def server_line(self) -> str:
        return (f"server.{self.sid}=127.0.0.1:{self.quorum_port}:{self.election_port}:{self.role}"
                f";127.0.0.1:{self.client_port}")

    def __repr__(self) -> str:
        state = "paused" if self.paused else ("running" if self.running else "down")
        return f"<server {self.sid} {self.role} :{self.client_port} {state}>"

    # -- process
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def write_config(self) -> None:
        cfg = dict(ENSEMBLE_BASE_CONFIG)
        cfg.update(self.ensemble.config)
        cfg.update({
            "dataDir": str(self.data_dir),
            "clientPort": str(self.client_port),
            "clientPortAddress": "127.0.0.1",
        })
        if self.role == "observer":
            cfg["peerType"] = "observer"
        lines = [f"{k}={v}" for k, v in cfg.items()]
        lines += [m.server_line for m in self.ensemble.members]
        self.cfg_path.write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        if TARGET == "swift":
            return [_binary(), str(self.cfg_path)]
        return java_command("org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg_path, self.ensemble.config)

    def note(self, what: str) -> None:
        """A marker line in the server's log, so the tail shows what the harness did when."""
        with open(self.log_path, "a") as f:
            f.write(f"=== harness {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}: {what} ===\n")

    def spawn(self) -> None:
        if self.running:
            raise EnsembleError(f"server {self.sid} is already running")
        self.write_config()
        self.note("start")
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self._command(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        self.paused = False

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        if self.running:
            self.note("SIGKILL")
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 10 s)."""
        if not self.running:
            return
        self.note("SIGTERM")
        if self.paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a partition, seen
        from the others)."""
        self.note("SIGSTOP")
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False
        self.note("SIGCONT")

    # -- four-letter words (None / {} when the server does not answer)
    def four_letter(self, word: str, timeout: float = 2.0) -> str | None:
        try:
            return four_letter(self.client_port, word, timeout=timeout)
        except OSError:
            return None

    def srvr(self) -> dict[str, str]:
        return parse_srvr(self.four_letter("srvr") or "")

    def mntr(self) -> dict[str, str]:
        return parse_mntr(self.four_letter("mntr") or "")

    def mode(self) -> str | None:
        """leader / follower / observer / standalone, or None (down, paused, not serving)."""
        if not self.running or self.paused:
            return None
        return self.srvr().get("Mode")

    def zxid(self) -> int | None:
        z = self.srvr().get("Zxid")
        return int(z, 16) if z else None

    def serving(self) -> bool:
        return self.mode() is not None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return f"--- {TARGET} server {self.sid} log tail ({self.log_path}) ---\n" + "\n".join(text[-lines:])


class ZkEnsemble:
    """`participants` voting servers (ids 1..participants) and `observers` observers (the
    ids after them) on 127.0.0.1. `extra` adds or overrides zoo.cfg keys for every member."""

    def __init__(self, participants: int = 3, observers: int = 0, *, extra: dict[str, str] | None = None,
                 reconfig_enabled: bool = False, standalone_enabled: bool = False, name: str = "ens"):
        self.root = Path(tempfile.mkdtemp(prefix=f"zkit-{name}-"))
        self.config = {
            "reconfigEnabled": "true" if reconfig_enabled else "false",
            "standaloneEnabled": "true" if standalone_enabled else "false",
        }
        self.config.update(extra or {})
        used: set[int] = set()

        def port() -> int:
            while True:
                p = free_port()
                if p not in used:
                    used.add(p)
                    return p

        self.members: list[EnsembleMember] = []
        for i in range(participants + observers):
            role = "participant" if i < participants else "observer"
            self.members.append(EnsembleMember(self, i + 1, role, self.root, (port(), port(), port())))
        _live_ensembles.append(self)

    # -- lookup
    def __getitem__(self, sid: int) -> EnsembleMember:
        return self.members[sid - 1]

    @property
    def ids(self) -> list[int]:
        return [m.sid for m in self.members]

    @property
    def participant_ids(self) -> list[int]:
        return [m.sid for m in self.members if m.role == "participant"]

    @property
    def observer_ids(self) -> list[int]:
        return [m.sid for m in self.members if m.role == "observer"]

    def hosts(self, *sids: int) -> str:
        """Connect string for the given servers (all members when none are given)."""
        return ",".join(self[s].hosts for s in (sids or self.ids))

    def modes(self) -> dict[int, str | None]:
        return {m.sid: m.mode() for m in self.members}

    def leader(self) -> int:
        """The id of the (single) server that reports Mode: leader; raises if there is none
        or more than one."""
        leaders = [s for s, mode in self.modes().items() if mode == "leader"]
        if len(leaders) != 1:
            raise EnsembleError(f"expected one leader, modes are {self.modes()}")
        return leaders[0]

    def followers(self) -> list[int]:
        return [s for s, mode in self.modes().items() if mode == "follower"]

    def observers(self) -> list[int]:
        return [s for s, mode in self.modes().items() if mode == "observer"]

    def _settled(self, sids: list[int]) -> int | None:
        modes = {s: self[s].mode() for s in sids}
        leaders = [s for s, mode in modes.items() if mode == "leader"]
        if len(leaders) != 1:
            return None
        for s, mode in modes.items():
            want = ("leader",) if s == leaders[0] else (("observer",) if self[s].role == "observer" else ("follower",))
            if mode not in want:
                return None
        return leaders[0]

    def wait_settled(self, timeout: float = 60.0, sids: list[int] | None = None) -> int:
        """Waits until exactly one of the running (not paused) members — or of `sids` — says
        Mode: leader and every other one says follower (participants) or observer
        (observers). Returns the leader's id."""
        deadline = time.monotonic() + timeout
        while True:
            live = sids if sids is not None else [m.sid for m in self.members if m.running and not m.paused]
            for s in live:
                if not self[s].running:
                    raise EnsembleError(f"server {s} exited with {self[s].proc.returncode}\n{self[s].log_tail()}")
            leader = self._settled(live)
            if leader is not None:
                return leader
            if time.monotonic() > deadline:
                raise EnsembleError(f"no settled ensemble within {timeout}s: modes {self.modes()}\n" + self.log_tails())
            time.sleep(0.1)

    def add_member(self, role: str = "participant") -> EnsembleMember:
        """A new member (next id, fresh ports), not started. Its zoo.cfg lists the current
        members plus itself, Apache's documented way to start a server a reconfig will add."""
        used = {p for m in self.members for p in (m.client_port, m.quorum_port, m.election_port)}
        ports = []
        while len(ports) < 3:
            p = free_port()
            if p not in used and p not in ports:
                ports.append(p)
        m = EnsembleMember(self, len(self.members) + 1, role, self.root, tuple(ports))
        self.members.append(m)
        return m

    # -- lifecycle
    def start(self, sid: int | None = None, *, wait: bool = True, timeout: float = 60.0) -> "ZkEnsemble":
        """start(): starts every member and waits for one leader and all others following or
        observing. start(sid): (re)starts that member; with `wait`, until it serves."""
        if sid is not None:
            self.start_server(sid, wait=wait, timeout=timeout)
            return self
        for m in self.members:
            m.spawn()
        if wait:
            self.wait_settled(timeout, sids=self.ids)
        return self

    def start_server(self, sid: int, wait: bool = True, timeout: float = 60.0) -> None:
        """(Re)starts one member; with `wait`, until it serves (its mode is not None)."""
        self[sid].spawn()
        if wait and not wait_until(lambda: self[sid].serving(), timeout):
            raise EnsembleError(f"server {sid} not serving within {timeout}s: modes {self.modes()}\n"
                                + self[sid].log_tail())

    def kill(self, sid: int) -> None:
        self[sid].kill()

    def stop(self, sid: int) -> None:
        self[sid].stop()

    def pause(self, sid: int) -> None:
        self[sid].pause()

    def resume(self, sid: int) -> None:
        self[sid].resume()

    def cleanup(self) -> None:
        """SIGKILLs every member and removes the directory."""
        for m in self.members:
            m.kill()
        if self in _live_ensembles:
            _live_ensembles.remove(self)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tails(self, lines: int = 60) -> str:
        return "\n".join(m.log_tail(lines) for m in self.members)

    def __enter__(self) -> "ZkEnsemble":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def wait_until(pred, timeout: float = 30.0, step: float = 0.1):
    """Polls `pred` until it returns something truthy (returned) or `timeout` passes
    (then its last value is returned)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


