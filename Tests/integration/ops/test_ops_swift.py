"""The swift flavor: a zkserver binary uploaded to a host that cannot see /opt/swift."""
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from conftest import ROOT, addr, run_zkops, ssh, status_json, write_inventory

HOST = 4


def zkserver_bin():
    p = Path(os.environ.get("ZKSERVER_BIN", ROOT / ".build/release/zkserver"))
    if not p.exists():
        pytest.skip(f"no zkserver binary at {p} (build it: swift build -c release --product zkserver, or set ZKSERVER_BIN)")
    return p


def ruok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def serving_zkserver():
    """The binary, if it can serve: run it once on loopback standalone and ask ruok."""
    binary = zkserver_bin()
    libs = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    if "libswiftCore" in libs:
        pytest.fail(f"{binary} loads libswiftCore.so from the toolchain, which testbed hosts cannot see (/opt/swift is "
                    "hidden): build it with --static-swift-stdlib")
    v = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10)
    if v.returncode != 0:
        pytest.skip(f"{binary} --version failed (zkserver not ready yet): {v.stderr.strip()[:200]}")
    with tempfile.TemporaryDirectory() as d:
        port = 22399
        cfg = Path(d) / "zoo.cfg"
        cfg.write_text(f"tickTime=2000\ndataDir={d}/data\nclientPort={port}\n4lw.commands.whitelist=*\n")
        os.makedirs(f"{d}/data")
        Path(f"{d}/data/myid").write_text("1\n")
        p = subprocess.Popen([str(binary), str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ok = False
            for _ in range(50):
                if ruok(port):
                    ok = True
                    break
                time.sleep(0.2)
        finally:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    if not ok:
        pytest.skip(f"{binary} does not answer ruok yet on a standalone zoo.cfg (zkserver not able to serve)")
    return binary


def test_zkserver_deployed_where_opt_swift_is_hidden(testbed_hosts, serving_zkserver, tmp_path):
    if testbed_hosts < HOST:
        pytest.skip("needs a 4-host testbed (scripts/testbed up 4)")
    assert ssh(HOST, "test ! -e /opt/swift && echo hidden").stdout.strip() == "hidden"
    inv = write_inventory(tmp_path / "swift.yaml", [HOST], flavor="swift")
    r = run_zkops("deploy", "-i", inv, "--binary", serving_zkserver, "--timeout", "60")
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    rc, js = status_json(inv)
    assert rc == 0, js
    assert js["hosts"][0]["srvr"]["mode"] == "standalone"
    zk = KazooClient(hosts=f"{addr(HOST)}:2181", timeout=10)
    zk.start(timeout=20)
    try:
        zk.create("/from-kazoo", b"swift", makepath=True) if not zk.exists("/from-kazoo") else zk.set("/from-kazoo", b"swift")
        assert zk.get("/from-kazoo")[0] == b"swift"
    finally:
        zk.stop()
        zk.close()
    # Unchanged second deploy: nothing uploaded, nothing restarted.
    pid = ssh(HOST, "cat /opt/zookeeper/run/server.pid").stdout
    r = run_zkops("deploy", "-i", inv, "--binary", serving_zkserver, "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert "nothing changed; no server restarted" in r.stdout
    assert ssh(HOST, "cat /opt/zookeeper/run/server.pid").stdout == pid
