"""Fixtures for the zkops integration tests on the SSH testbed (scripts/testbed).

Run through scripts/test-ops, which brings the testbed up (4 hosts), runs pytest and
brings it down. Needs root (network namespaces). Environment:
  ZKOPS_BIN       the zkops binary (default: .build/debug/zkops, then .build/release/zkops)
  ZKSERVER_BIN    the zkserver binary for the swift flavor (default .build/release/zkserver)
  ZK_TESTBED_DIR  the testbed's state dir (default /tmp/zk-testbed)
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STATE = Path(os.environ.get("ZK_TESTBED_DIR", "/tmp/zk-testbed"))
NET = "10.77.0"


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
        pytest.skip("testbed not up: run scripts/test-ops (or scripts/testbed up 4)")
    return n


@pytest.fixture(scope="session")
def apache_inventory(testbed_hosts, tmp_path_factory):
    """A 3-host Apache ensemble on zkh1..zkh3, deployed once for the session."""
    inv = write_inventory(tmp_path_factory.mktemp("inv") / "apache.yaml", [1, 2, 3])
    r = run_zkops("deploy", "-i", inv, "--timeout", "150")
    assert r.returncode == 0, f"deploy failed:\n{r.stdout}\n{r.stderr}"
    return inv
