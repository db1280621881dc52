"""Membership by dynamic reconfig: `zkops add-server` / `remove-server` on a running ensemble.

A 3-server ensemble (zkh8..zkh10, its own hosts so the session's other ensembles are untouched)
grows to 4 and 5 servers and shrinks back to 4 while a kazoo writer creates a znode every ~50 ms
and another session holds an ephemeral node. Asserted: the unchanged servers keep their pids (no
restart), the new servers are synced voting members of /zookeeper/config, the removed one is
stopped, the inventory file keeps its comments, no write fails after retries, every acked write is
on every member, the ephemeral's session survives; and a change that would leave no majority is
refused (exit 1) with the inventory left as it was.

Both flavors: Apache 3.8 and zkserver (whose own `reconfig` does the change).
"""
import time
import uuid

import pytest

from conftest import addr, kazoo, run_zkops, ssh, status_json, wait_healthy, write_inventory, zkserver_path
from test_ops_rolling import Writer

BASE = (8, 9, 10)
NEW = (11, 12)


def members(connect):
    with kazoo(connect) as zk:
        zk.sync("/zookeeper/config")
        text = zk.get("/zookeeper/config")[0].decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("server."):
            k, v = line.split("=", 1)
            out[int(k.removeprefix("server."))] = v
    return out


def pid(i):
    return ssh(i, "cat /opt/zookeeper/run/server.pid 2>/dev/null; true").stdout.strip()


def running(i):
    return ssh(i, "sh /opt/zookeeper/bin/zkops-server status", check=False).returncode == 0


@pytest.fixture(params=[pytest.param("apache", id="apache"), pytest.param("swift", id="zkserver")])
def flavor(request, testbed_hosts):
    if testbed_hosts < max(NEW):
        pytest.skip(f"needs a {max(NEW)}-host testbed (scripts/test-ops brings one up)")
    return request.param


def test_add_and_remove_servers_with_a_live_workload(flavor, tmp_path):
    binary = []
    if flavor == "swift":
        binary = ["--binary", str(zkserver_path())]
    inv = write_inventory(tmp_path / "members.yaml", list(BASE), flavor=flavor)
    text = open(inv).read().replace("hosts:\n", "hosts:\n  # the first three servers\n", 1)
    open(inv, "w").write("# membership test inventory, edited by zkops\n" + text)
    try:
        r = run_zkops("deploy", "-i", inv, *binary, "--timeout", "150", timeout=400)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        wait_healthy(inv, timeout=60)
        connect = ",".join(f"{addr(i)}:2181" for i in BASE)
        pids0 = {i: pid(i) for i in BASE}

        writer = Writer(connect, f"/zkops-members-{uuid.uuid4().hex[:8]}")
        writer.start()
        with kazoo(connect, timeout=20) as holder:
            holder.create("/members-ephemeral", b"x", ephemeral=True)
            sid = holder.client_id[0]
            time.sleep(1)
            try:
                for i in NEW:
                    r = run_zkops("add-server", "-i", inv, "--name", f"zkh{i}", "--address", addr(i), "--id", i,
                                  *binary, "--timeout", "120", timeout=400)
                    assert r.returncode == 0, f"add zkh{i}: {r.stdout}\n{r.stderr}"
                    assert f"+ server.{i}=" in r.stdout + r.stderr
                m = members(connect)
                assert sorted(m) == [*BASE, *NEW], m
                assert all(v.split(";")[0].endswith(":participant") for v in m.values()), m
                _, js = status_json(inv)
                modes = {h["name"]: (h.get("srvr") or {}).get("mode") for h in js["hosts"]}
                assert sorted(modes.values()) == ["follower"] * 4 + ["leader"], modes
                assert {i: pid(i) for i in BASE} == pids0, "an unchanged server was restarted by add-server"

                r = run_zkops("remove-server", "-i", inv, "zkh12", *binary, "--timeout", "120", timeout=400)
                assert r.returncode == 0, f"remove zkh12: {r.stdout}\n{r.stderr}"
                assert "- server.12" in r.stdout + r.stderr
                assert sorted(members(connect)) == [*BASE, 11]
                assert not running(12), "the removed server still runs"
                assert {i: pid(i) for i in BASE} == pids0, "an unchanged server was restarted by remove-server"
                wait_healthy(inv, timeout=60)
            finally:
                time.sleep(1)
                writer.stop()
            # The holder's session and its ephemeral lived through it all.
            assert holder.client_id[0] == sid
            assert holder.exists("/members-ephemeral") is not None

        edited = open(inv).read()
        assert "# membership test inventory, edited by zkops" in edited and "# the first three servers" in edited
        assert "zkh11" in edited and "zkh12" not in edited

        assert not writer.fatal, writer.fatal
        assert len(writer.acked) >= 20, f"only {len(writer.acked)} writes acknowledged"
        for i in (*BASE, 11):
            with kazoo(f"{addr(i)}:2181") as zk:
                zk.sync(writer.base)
                kids = set(zk.get_children(writer.base))
                missing = [n for n, _ in writer.acked if f"n{n:06d}" not in kids]
                assert not missing, f"zkh{i} lacks acknowledged writes {missing[:10]}"

        # With two of the four voters down, no change may be made: refused, nothing touched.
        for i in (10, 11):
            ssh(i, "sh /opt/zookeeper/bin/zkops-server stop")
        before = open(inv).read()
        r = run_zkops("remove-server", "-i", inv, "zkh9", *binary, "--timeout", "30", timeout=200)
        assert r.returncode == 1, f"expected a refusal (exit 1): {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert "refused" in r.stderr and "quorum" in r.stderr, r.stderr
        assert open(inv).read() == before, "a refused change edited the inventory"
        assert running(9), "a refused change stopped a server"
    finally:
        for i in (*BASE, *NEW):
            ssh(i, "sh /opt/zookeeper/bin/zkops-server stop 2>/dev/null; rm -rf /opt/zookeeper /var/lib/zookeeper",
                check=False)
