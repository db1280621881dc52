"""A 5-host ensemble, both flavors, rolled while a client workload runs: `zkops rolling-restart`,
then `zkops upgrade` (zkserver: `--binary`, Apache: `--distribution`) and `zkops rollback`.

Asserted across the three rolls: every roll exits 0 with the leader last, every host restarted,
the previous version kept on each host and put back by rollback, no write failed after kazoo's
retries and every acknowledged write is on all five hosts, and one session held open the whole
time keeps its id and its ephemeral node. Hosts zkh8..zkh12 (free after test_ops_membership).
"""
import hashlib
import shutil
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from conftest import (STATE, Ensemble, kazoo, leader_of, run_zkops, ssh, status_json, wait_healthy, write_inventory,
                      zkserver_path)
from test_ops_rollout import check_writes, roll
from test_ops_rolling import Writer

FIVE = (8, 9, 10, 11, 12)


def remote_sha(i, path):
    return ssh(i, f"sha256sum {path}").stdout.split()[0]


def remote_tree_sha(i, path):
    """One hash over a directory's files (names and contents)."""
    return ssh(i, f"cd {path} && find . -type f | sort | xargs sha256sum | sha256sum").stdout.split()[0]


@pytest.fixture(params=[pytest.param("apache", id="apache"), pytest.param("swift", id="zkserver")])
def five(request, testbed_hosts, tmp_path):
    if testbed_hosts < max(FIVE):
        pytest.skip(f"needs a {max(FIVE)}-host testbed (scripts/test-ops brings one up)")
    flavor = request.param
    binary = None
    if flavor == "swift":
        binary = str(zkserver_path())
        if not Path(binary).exists():
            pytest.fail(f"no zkserver binary at {binary}")
    inv = write_inventory(tmp_path / "five.yaml", list(FIVE), flavor=flavor)
    e = Ensemble(flavor=flavor, inventory=inv, hosts=FIVE, binary=binary)
    try:
        r = e.deploy(timeout=150)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        wait_healthy(inv, timeout=90)
        yield e
    finally:
        for i in FIVE:
            ssh(i, "sh /opt/zookeeper/bin/zkops-server stop 2>/dev/null; rm -rf /opt/zookeeper /var/lib/zookeeper",
                check=False)


def test_five_hosts_restart_upgrade_rollback_under_workload(five, tmp_path):
    e = five
    if e.flavor == "swift":
        new = tmp_path / "zkserver-new"
        shutil.copyfile(e.binary, new)
        with open(new, "ab") as f:
            f.write(b"\0")  # another version as far as hashes go; it still runs
        new.chmod(0o755)
        upgrade_args = ["--binary", str(new)]
        current, fingerprint = "/opt/zookeeper/bin/zkserver", remote_sha
    else:
        new = tmp_path / "apache-dist-new"
        shutil.copytree(STATE / "apache-dist", new)
        (new / "VERSION").write_text("3.8.0-rolled\n")
        # A distribution is its jars: one more (harmless on the classpath) makes it another version.
        with zipfile.ZipFile(new / "lib" / "zkops-marker.jar", "w") as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: zkops upgrade test\n")
        upgrade_args = ["--distribution", str(new)]
        current, fingerprint = "/opt/zookeeper/lib", remote_tree_sha
    before = {i: fingerprint(i, current) for i in e.hosts}

    base = f"/zkops-five-{uuid.uuid4().hex[:8]}"
    writer = Writer(e.connect_string(), base)
    writer.start()
    timings = {}
    with kazoo(e.connect_string(), timeout=20) as holder:
        holder.create(f"{base}-ephemeral", b"x", ephemeral=True)
        sid = holder.client_id[0]
        time.sleep(2)
        try:
            for action, args in (("rolling-restart", []), ("upgrade", upgrade_args), ("rollback", [])):
                leader = leader_of(wait_healthy(e.inventory, timeout=90))
                pids0 = e.server_pids()
                t0 = time.time()
                r, rep = roll(action, "-i", e.inventory, *args)
                timings[action] = (time.time() - t0, max(h.get("outSeconds") or 0 for h in rep["hosts"]))
                assert r.returncode == 0, f"{action}: {r.stdout}\n{r.stderr}"
                assert rep["exitCode"] == 0 and not rep["failures"], rep
                assert rep["order"][-1] == leader, (action, leader, rep["order"])
                assert all(h["status"] == "done" for h in rep["hosts"]), rep["hosts"]
                pids1 = e.server_pids()
                assert all(pids1[i] != pids0[i] for i in e.hosts), (action, pids0, pids1)
                if action == "upgrade":
                    for i in e.hosts:
                        assert fingerprint(i, current) != before[i], f"zkh{i} still runs the old version"
                        assert fingerprint(i, current + ".prev") == before[i], f"zkh{i} did not keep the old one"
                if action == "rollback":
                    for i in e.hosts:
                        assert fingerprint(i, current) == before[i], f"zkh{i} not back on the old version"
        finally:
            time.sleep(2)
            writer.stop()
        assert holder.client_id[0] == sid, "the held session changed"
        assert holder.exists(f"{base}-ephemeral") is not None, "the held session's ephemeral node is gone"
    check_writes(writer, e, base)
    assert status_json(e.inventory)[0] == 0
    print(f"\n[{e.flavor}] 5 hosts: " + ", ".join(f"{a} {t:.1f}s (longest out {o:.1f}s)" for a, (t, o) in timings.items())
          + f"; {len(writer.acked)} writes acknowledged, {len(writer.retries)} retried, longest wait {writer.max_gap:.2f}s")
