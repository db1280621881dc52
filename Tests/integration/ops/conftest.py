"""Fixtures for the zkops integration tests on the SSH testbed (scripts/testbed).

Run through scripts/test-ops, which brings the testbed up (7 hosts), runs pytest and
brings it down. Needs root (network namespaces). Hosts: zkh1-3 the Apache ensemble, zkh4 a
standalone zkserver, zkh5-7 the zkserver ensemble. Environment:
  ZKOPS_BIN          the zkops binary (default: .build/debug/zkops, then .build/release/zkops)
  ZKSERVER_BIN       the zkserver binary for the swift flavor (default .build/release/zkserver)
  ZK_TESTBED_DIR     the testbed's state dir (default /tmp/zk-testbed)
  ZK_SWIFT_ENSEMBLE  1 (default) | auto | 0: the zkserver-ensemble tests (marker swift_ensemble),
                     see below
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STATE = Path(os.environ.get("ZK_TESTBED_DIR", "/tmp/zk-testbed"))
NET = os.environ.get("ZK_TESTBED_NET", "10.77.0")
# Network-namespace prefix of the testbed (scripts/testbed: ZK_TESTBED_NS); host i is "<NS>h<i>".
NS = os.environ.get("ZK_TESTBED_NS", "zk")


def addr(i):
    return f"{NET}.{10 + i}"


def zkops_bin():
    if os.environ.get("ZKOPS_BIN"):
        return os.environ["ZKOPS_BIN"]
    for p in (ROOT / ".build/debug/zkops", ROOT / ".build/release/zkops"):
        if p.exists():
            return str(p)
    pytest.skip("zkops is not built (swift build --product zkops)")


def run_zkops(*args, timeout=300):
    """Runs zkops; returns CompletedProcess (text)."""
    cmd = [zkops_bin(), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def ssh(i, command, check=True, timeout=30):
    """Runs a command on testbed host i with the OpenSSH client (for inspection only)."""
    r = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={STATE}/known_hosts",
         "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
         "-i", str(STATE / "id_ed25519"), f"root@{addr(i)}", command],
        capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"ssh zkh{i} {command!r}: {r.returncode}\n{r.stderr}")
    return r


def write_inventory(path, hosts, flavor="apache", extra_ensemble="", ssh_overrides=None):
    """An inventory for testbed hosts `hosts` (list of indices)."""
    s = {"user": "root", "port": 22, "identityFile": str(STATE / "id_ed25519"),
         "knownHosts": str(STATE / "known_hosts")}
    s.update(ssh_overrides or {})
    lines = ["ensemble:", f"  flavor: {flavor}"]
    if flavor == "apache":
        lines.append(f"  distribution: {STATE / 'apache-dist'}")
    lines += ["  dataDir: /var/lib/zookeeper", "  installDir: /opt/zookeeper"]
    lines += ["  " + l for l in extra_ensemble.splitlines() if l.strip()]
    lines.append("ssh:")
    lines += [f"  {k}: {v}" for k, v in s.items()]
    lines.append("hosts:")
    for i in hosts:
        lines.append(f"  - {{name: zkh{i}, address: {addr(i)}, id: {i}}}")
    Path(path).write_text("\n".join(lines) + "\n")
    return str(path)


def run_testbed(*args):
    subprocess.run([str(ROOT / "scripts/testbed"), *args], check=True, capture_output=True, text=True)


def status_json(inv):
    r = run_zkops("status", "-i", inv, "--json")
    return r.returncode, json.loads(r.stdout)


def wait_status(inv, want_rc, timeout=60):
    deadline = time.time() + timeout
    rc, js = status_json(inv)
    while rc != want_rc and time.time() < deadline:
        time.sleep(1)
        rc, js = status_json(inv)
    return rc, js


@pytest.fixture(scope="session")
def testbed_hosts():
    """The number of testbed hosts; skips when the testbed is not up."""
    if os.geteuid() != 0:
        pytest.skip("the testbed needs root")
    try:
        n = int((STATE / "count").read_text())
    except (OSError, ValueError):
        n = 0
    if n < 3:
        pytest.skip("testbed not up: run scripts/test-ops (or scripts/testbed up 7)")
    return n


@pytest.fixture(scope="session")
def apache_inventory(testbed_hosts, tmp_path_factory):
    """A 3-host Apache ensemble on zkh1..zkh3, deployed once for the session."""
    inv = write_inventory(tmp_path_factory.mktemp("inv") / "apache.yaml", [1, 2, 3])
    r = run_zkops("deploy", "-i", inv, "--timeout", "150")
    assert r.returncode == 0, f"deploy failed:\n{r.stdout}\n{r.stderr}"
    return inv


# ---------------------------------------------------------------------------------------------
# Ensembles for the ensemble tests (test_ops_swift_ensemble, test_ops_partition, test_ops_rolling).
#
# The apache variant uses the session's Apache ensemble on zkh1..zkh3 (apache_inventory). The
# swift variant deploys a zkserver ensemble on zkh5..zkh7 (a 7-host testbed: scripts/test-ops
# brings one up) and is marked `swift_ensemble`. Environment switch ZK_SWIFT_ENSEMBLE:
#   unset/auto  probe the zkserver binary (3 servers on loopback); skip with the reason if it
#               refuses ensemble configs or does not elect a leader with two followers
#   1/require   the same probe, but a failing probe fails the tests instead of skipping them
#   0/off       skip the zkserver-ensemble tests
# Select only them with `-m swift_ensemble`, leave them out with `-m "not swift_ensemble"`.
# ---------------------------------------------------------------------------------------------
import contextlib
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field

SWIFT_HOSTS = (5, 6, 7)
APACHE_HOSTS = (1, 2, 3)
CLIENT_PORT = 2181


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "swift_ensemble: needs zkserver's ensemble mode (env ZK_SWIFT_ENSEMBLE=1|auto|0, default 1)")


def zkserver_path():
    return Path(os.environ.get("ZKSERVER_BIN", ROOT / ".build/release/zkserver"))


def _swift_ensemble_switch():
    v = os.environ.get("ZK_SWIFT_ENSEMBLE", "1").strip().lower()
    if v in ("0", "off", "no", "false", "skip"):
        return "off"
    if v in ("1", "on", "yes", "true", "require"):
        return "require"
    return "auto"


def _free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def four_letter(host, port, word, timeout=2.0):
    """Sends a four-letter word; returns the answer text ('' if the connection failed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


def mode_of(srvr_text):
    for line in srvr_text.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def probe_zkserver_ensemble(binary, timeout=None):
    """Runs 3 zkservers as an ensemble on loopback (free ports, a temp dir). Returns None when
    they elect one leader and two followers within `timeout` seconds, else the reason why not."""
    timeout = timeout or float(os.environ.get("ZK_SWIFT_ENSEMBLE_PROBE_TIMEOUT", "30"))
    ports = _free_ports(9)
    client, quorum, election = ports[0:3], ports[3:6], ports[6:9]
    procs = []
    with tempfile.TemporaryDirectory(prefix="zk-ens-probe-") as d:
        servers = "".join(f"server.{i + 1}=127.0.0.1:{quorum[i]}:{election[i]};{client[i]}\n" for i in range(3))
        for i in range(3):
            data = Path(d) / f"zk{i + 1}"
            data.mkdir()
            (data / "myid").write_text(f"{i + 1}\n")
            cfg = Path(d) / f"zoo{i + 1}.cfg"
            cfg.write_text(f"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nclientPort={client[i]}\n"
                           f"standaloneEnabled=false\nreconfigEnabled=true\n4lw.commands.whitelist=*\n{servers}")
            log = open(Path(d) / f"zk{i + 1}.log", "wb")
            procs.append((subprocess.Popen([str(binary), str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL), log))
        try:
            deadline = time.time() + timeout
            modes = []
            while time.time() < deadline:
                for i, (p, _) in enumerate(procs):
                    if p.poll() is not None:
                        text = (Path(d) / f"zk{i + 1}.log").read_text(errors="replace").strip().splitlines()
                        return (f"{binary} refuses an ensemble zoo.cfg (server.N lines): exit {p.returncode}: "
                                + " | ".join(text[-3:])[:400])
                modes = [mode_of(four_letter("127.0.0.1", client[i], "srvr", 1.0)) for i in range(3)]
                if sorted(m or "-" for m in modes) == ["follower", "follower", "leader"]:
                    return None
                time.sleep(0.5)
            return (f"{binary}: 3 servers on loopback did not become one leader and two followers within "
                    f"{timeout:.0f}s (srvr modes {modes})")
        finally:
            for p, log in procs:
                if p.poll() is None:
                    p.terminate()
            for p, log in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
                log.close()


_probe_result = {}


@pytest.fixture(scope="session")
def swift_ensemble_binary():
    """A zkserver binary that runs as an ensemble (see ZK_SWIFT_ENSEMBLE above)."""
    switch = _swift_ensemble_switch()
    if switch == "off":
        pytest.skip("zkserver ensemble tests disabled (ZK_SWIFT_ENSEMBLE=0)")
    not_ready = pytest.fail if switch == "require" else pytest.skip
    binary = zkserver_path()
    if not binary.exists():
        not_ready(f"no zkserver binary at {binary} (swift build -c release --static-swift-stdlib --product zkserver, "
                  "or set ZKSERVER_BIN)")
    libs = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    if "libswiftCore" in libs:
        pytest.fail(f"{binary} loads libswiftCore.so from the toolchain, which testbed hosts cannot see: "
                    "build it with --static-swift-stdlib")
    if "reason" not in _probe_result:
        t0 = time.time()
        _probe_result["reason"] = probe_zkserver_ensemble(binary)
        _probe_result["seconds"] = time.time() - t0
    if _probe_result["reason"]:
        not_ready("zkserver ensemble mode not ready: " + _probe_result["reason"])
    return str(binary)


@dataclass
class Ensemble:
    """A deployed 3-host ensemble on the testbed."""
    flavor: str                 # "apache" | "swift"
    inventory: str
    hosts: tuple                # testbed host indices
    binary: str = None          # zkserver (swift flavor)
    extra: dict = field(default_factory=dict)

    def name(self, i):
        return f"zkh{i}"

    def index(self, name):
        return int(name.removeprefix("zkh"))

    def deploy_args(self):
        return ["--binary", self.binary] if self.binary else []

    def deploy(self, inventory=None, timeout=150):
        return run_zkops("deploy", "-i", inventory or self.inventory, *self.deploy_args(), "--timeout", timeout,
                         timeout=timeout + 200)

    def write_inventory(self, path, extra_ensemble=""):
        return write_inventory(path, list(self.hosts), flavor=self.flavor, extra_ensemble=extra_ensemble)

    def connect_string(self, hosts=None):
        return ",".join(f"{addr(i)}:{CLIENT_PORT}" for i in (hosts or self.hosts))

    def server_pids(self):
        return {i: ssh(i, "cat /opt/zookeeper/run/server.pid").stdout.strip() for i in self.hosts}


@pytest.fixture(scope="session")
def apache_ensemble(apache_inventory):
    return Ensemble("apache", apache_inventory, APACHE_HOSTS)


@pytest.fixture(scope="session")
def swift_ensemble(testbed_hosts, swift_ensemble_binary, tmp_path_factory):
    """A 3-host zkserver ensemble on zkh5..zkh7, deployed once for the session."""
    if testbed_hosts < max(SWIFT_HOSTS):
        pytest.skip(f"the zkserver ensemble needs a {max(SWIFT_HOSTS)}-host testbed (scripts/testbed up {max(SWIFT_HOSTS)})")
    inv = write_inventory(tmp_path_factory.mktemp("inv") / "swift-ensemble.yaml", list(SWIFT_HOSTS), flavor="swift")
    e = Ensemble("swift", inv, SWIFT_HOSTS, swift_ensemble_binary)
    t0 = time.time()
    r = e.deploy()
    e.extra["first_deploy"] = r
    e.extra["first_deploy_seconds"] = time.time() - t0
    assert r.returncode == 0, f"zkserver ensemble deploy failed:\n{r.stdout}\n{r.stderr}"
    return e


ENSEMBLE_FLAVORS = [pytest.param("apache", id="apache"),
                    pytest.param("swift", id="zkserver", marks=pytest.mark.swift_ensemble)]


@pytest.fixture(params=ENSEMBLE_FLAVORS)
def ensemble(request):
    """Each ensemble test runs against Apache (zkh1..3) and zkserver (zkh5..7)."""
    return request.getfixturevalue(f"{request.param}_ensemble")


# --- waiting -----------------------------------------------------------------------------------

def wait_for(pred, timeout, interval=1.0, what="condition"):
    """Calls pred() until it returns a truthy value; returns it. On timeout, fails with the last value."""
    deadline = time.time() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.time() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def leader_of(js):
    return js["verdict"].get("leader")


def modes_of(js):
    return {h["name"]: (h.get("srvr") or {}).get("mode", "-") for h in js["hosts"]}


def epochs_of(js):
    return {h["name"]: (h["srvr"]["zxid"] >> 32) for h in js["hosts"] if h.get("srvr")}


def wait_healthy(inv, timeout=120):
    rc, js = wait_status(inv, 0, timeout=timeout)
    assert rc == 0, f"not healthy after {timeout}s: {json.dumps(js['verdict'])}"
    return js


# --- kazoo -------------------------------------------------------------------------------------

@contextlib.contextmanager
def kazoo(connect, timeout=10, start_timeout=20, **kw):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=connect, timeout=timeout, **kw)
    zk.start(timeout=start_timeout)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def read_after_sync(i, path, timeout=20):
    """The data of `path` as host i alone sees it after a sync (None if absent)."""
    with kazoo(f"{addr(i)}:{CLIENT_PORT}", start_timeout=timeout) as zk:
        zk.sync(path)
        got = zk.exists(path)
        return zk.get(path)[0] if got else None


# --- partitions (scripts/testbed partition/heal) -----------------------------------------------

def ns_run(i, argv, timeout=60):
    """Runs argv inside testbed host i's network namespace (reachable while partitioned)."""
    return subprocess.run(["ip", "netns", "exec", f"{NS}h{i}", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout)


_NS_PROBE = r'''
import json, socket, sys
word, port = sys.argv[1], int(sys.argv[2])
out = b""
try:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(word.encode())
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
except OSError as e:
    out = ("ERROR " + str(e)).encode()
sys.stdout.write(out.decode(errors="replace"))
'''

_NS_WRITE = r'''
import json, sys, logging
logging.basicConfig(level=logging.CRITICAL)
from kazoo.client import KazooClient
port, path, value, t = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), float(sys.argv[4])
res = {"connected": False, "wrote": False, "error": None}
zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=t)
try:
    zk.start(timeout=t)
    res["connected"] = True
    zk.create(path, value, makepath=True)
    res["wrote"] = True
except Exception as e:
    res["error"] = f"{type(e).__name__}: {e}"
finally:
    try:
        zk.stop(); zk.close()
    except Exception:
        pass
print(json.dumps(res))
'''


def ns_four_letter(i, word, port=CLIENT_PORT):
    return ns_run(i, [sys.executable, "-c", _NS_PROBE, word, port], timeout=15).stdout


def ns_try_write(i, path, value, timeout=8, port=CLIENT_PORT):
    """Tries one kazoo create on host i through its own loopback; returns {connected, wrote, error}."""
    r = ns_run(i, [sys.executable, "-c", _NS_WRITE, port, path, value, timeout], timeout=timeout * 3 + 30)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise AssertionError(f"kazoo probe inside zkh{i} failed: {r.returncode}\n{r.stdout}\n{r.stderr}")


def partition(i):
    run_testbed("partition", str(i))


def heal(i):
    run_testbed("heal", str(i))


@contextlib.contextmanager
def partitioned(i):
    partition(i)
    try:
        yield
    finally:
        heal(i)
