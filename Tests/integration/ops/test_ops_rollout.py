"""zkops rolling-restart, upgrade and rollback on the testbed, with a live kazoo writer.

rolling-restart: observers, then followers one at a time, the leader last, gated before and after
every host; it must not lose an acknowledged write or a session. A gate that fails before the
first host (a follower already down) stops the roll with exit 1 and touches nothing.
upgrade (zkserver ensemble): every host gets the new binary with the old one kept beside it;
rollback returns each host to it; a new binary that does not start is rolled back on the first
host and the roll stops with exit 2, the ensemble still healthy.
"""
import hashlib
import json
import os
import shutil
import stat
import time
import uuid

from conftest import leader_of, run_zkops, ssh, status_json, wait_healthy
from test_ops_rolling import MAX_OUTAGE, Writer, assert_acked_on_every_host

BIN = "/opt/zookeeper/bin/zkserver"


def roll(*args, timeout=150):
    r = run_zkops(*args, "--json", "--timeout", timeout, timeout=timeout * 4 + 120)
    try:
        js = json.loads(r.stdout)
    except ValueError:
        raise AssertionError(f"zkops {args[0]} printed no JSON (rc {r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r, js


def check_writes(writer, ensemble, base):
    assert not writer.fatal, writer.fatal
    assert writer.acked, "no write was acknowledged"
    assert writer.max_gap <= MAX_OUTAGE, f"a write waited {writer.max_gap:.1f}s; retries {writer.retries}"
    assert_acked_on_every_host(writer, ensemble, base)


def test_rolling_restart_under_writes_leader_last(ensemble):
    js = wait_healthy(ensemble.inventory, timeout=120)
    leader = leader_of(js)
    pids0 = ensemble.server_pids()
    base = f"/zkops-rr-{uuid.uuid4().hex[:8]}"
    writer = Writer(ensemble.connect_string(), base)
    writer.start()
    time.sleep(2)
    t0 = time.time()
    try:
        r, rep = roll("rolling-restart", "-i", ensemble.inventory)
    finally:
        time.sleep(2)
        writer.stop()
    t1 = time.time()
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert rep["exitCode"] == 0 and not rep["failures"], rep
    assert rep["order"][-1] == leader, (leader, rep["order"])
    assert sorted(rep["order"]) == sorted(ensemble.name(i) for i in ensemble.hosts)
    assert all(h["status"] == "done" for h in rep["hosts"]), rep["hosts"]
    pids1 = ensemble.server_pids()
    assert all(pids1[i] != pids0[i] for i in ensemble.hosts), (pids0, pids1)
    check_writes(writer, ensemble, base)
    rc, js = status_json(ensemble.inventory)
    assert rc == 0, js["verdict"]
    print(f"\n[{ensemble.flavor}] rolling-restart {t1 - t0:.1f}s order {rep['order']}; "
          f"{len(writer.acked)} writes acknowledged, {len(writer.retries)} retried, longest wait {writer.max_gap:.2f}s")


def test_rolling_restart_refused_when_a_follower_is_down(ensemble):
    js = wait_healthy(ensemble.inventory, timeout=120)
    leader = leader_of(js)
    follower = next(ensemble.name(i) for i in ensemble.hosts if ensemble.name(i) != leader)
    r = run_zkops("stop", "-i", ensemble.inventory, follower)
    assert r.returncode == 0, r.stderr
    try:
        others = [i for i in ensemble.hosts if ensemble.name(i) != follower]
        pids0 = {i: ssh(i, "cat /opt/zookeeper/run/server.pid").stdout.strip() for i in others}
        r, rep = roll("rolling-restart", "-i", ensemble.inventory, timeout=30)
        assert r.returncode == 1, f"{r.stdout}\n{r.stderr}"
        assert rep["refused"] and rep["done"] == [], rep
        assert follower in json.dumps(rep["failures"]), rep["failures"]
        pids1 = {i: ssh(i, "cat /opt/zookeeper/run/server.pid").stdout.strip() for i in others}
        assert pids0 == pids1, "a gate refusal must not restart anything"
    finally:
        assert run_zkops("start", "-i", ensemble.inventory, follower).returncode == 0
        wait_healthy(ensemble.inventory, timeout=120)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def remote_sha(i, path):
    return ssh(i, f"sha256sum {path}").stdout.split()[0]


def test_upgrade_then_rollback(swift_ensemble, tmp_path):
    e = swift_ensemble
    wait_healthy(e.inventory, timeout=120)
    new = tmp_path / "zkserver-new"
    shutil.copyfile(e.binary, new)
    with open(new, "ab") as f:
        f.write(b"\0")  # another version as far as hashes go; it still runs
    os.chmod(new, 0o755)
    orig_sha, new_sha = sha(e.binary), sha(new)
    base = f"/zkops-up-{uuid.uuid4().hex[:8]}"
    writer = Writer(e.connect_string(), base)
    writer.start()
    time.sleep(2)
    try:
        r, rep = roll("upgrade", "-i", e.inventory, "--binary", new)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        for i in e.hosts:
            assert remote_sha(i, BIN) == new_sha
            assert remote_sha(i, BIN + ".prev") == orig_sha
        r, rep = roll("rollback", "-i", e.inventory)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        for i in e.hosts:
            assert remote_sha(i, BIN) == orig_sha
    finally:
        time.sleep(2)
        writer.stop()
    check_writes(writer, e, base)
    assert status_json(e.inventory)[0] == 0


def test_broken_upgrade_is_rolled_back_and_stops(swift_ensemble, tmp_path):
    e = swift_ensemble
    wait_healthy(e.inventory, timeout=120)
    broken = tmp_path / "zkserver-broken"
    broken.write_text("#!/bin/sh\necho 'this build is broken' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    orig_sha = sha(e.binary)
    r, rep = roll("upgrade", "-i", e.inventory, "--binary", broken, timeout=30)
    assert r.returncode == 2, f"{r.stdout}\n{r.stderr}"
    first = rep["order"][0]
    statuses = {h["host"]: h["status"] for h in rep["hosts"]}
    assert statuses[first] == "rolled back", statuses
    assert all(s == "not started" for h, s in statuses.items() if h != first), statuses
    for i in e.hosts:
        assert remote_sha(i, BIN) == orig_sha, f"zkh{i} is not on the original binary"
    wait_healthy(e.inventory, timeout=60)
