"""A 3-node ensemble deployed with zkops: healthy, replicating, and a second deploy is a no-op.

Parametrized: `apache` (Debian's 3.8 jars on zkh1..zkh3) and `zkserver` (the swift flavor on
zkh5..zkh7, marked swift_ensemble; see conftest.py for ZK_SWIFT_ENSEMBLE).
"""
import json
import time
import uuid

from conftest import (addr, epochs_of, kazoo, leader_of, modes_of, read_after_sync, run_zkops, status_json,
                      wait_for)


def test_deploy_is_healthy(ensemble):
    if "first_deploy" in ensemble.extra:  # the swift fixture's own deploy (apache's is checked in test_ops_apache)
        r = ensemble.extra["first_deploy"]
        assert "ensemble: healthy" in r.stdout, r.stdout
        print(f"\n[{ensemble.flavor}] first deploy: {ensemble.extra['first_deploy_seconds']:.1f}s")
    rc, js = status_json(ensemble.inventory)
    assert rc == 0, js
    assert js["verdict"]["health"] == "healthy", js["verdict"]
    assert sorted(modes_of(js).values()) == ["follower", "follower", "leader"], modes_of(js)
    assert all(h["ruok"] for h in js["hosts"]), js["hosts"]
    leader = leader_of(js)
    lp = next(h for h in js["hosts"] if h["name"] == leader)
    assert lp["mntr"] is not None, f"leader {leader} answered no mntr"
    assert lp["mntr"].get("zk_server_state") == "leader", lp["mntr"]
    assert lp["mntr"].get("zk_synced_followers") == "2", lp["mntr"]
    for h in js["hosts"]:
        if h["name"] != leader and h["mntr"] is not None:
            assert h["mntr"].get("zk_server_state") == "follower", (h["name"], h["mntr"])
    # Same epoch everywhere once the leader's epoch has a committed transaction (before that a
    # fresh follower still shows zxid 0): write once, then every host's zxid reaches the leader's.
    with kazoo(ensemble.connect_string()) as zk:
        zk.ensure_path("/zkops-epoch")
        zk.set("/zkops-epoch", str(time.time()).encode())

    def same_epoch():
        rc, js = status_json(ensemble.inventory)
        e = epochs_of(js)
        return js if rc == 0 and len(e) == 3 and len(set(e.values())) == 1 and min(e.values()) > 0 else None
    js = wait_for(same_epoch, 20, what="every host in the leader's epoch")
    # Human output too.
    r = run_zkops("status", "-i", ensemble.inventory)
    assert r.returncode == 0, r.stdout
    assert f"ensemble: healthy, leader {leader_of(js)}" in r.stdout, r.stdout


def test_writes_through_one_host_are_read_on_the_others(ensemble):
    base = f"/zkops-ensemble-{uuid.uuid4().hex[:8]}"
    for w in ensemble.hosts:
        token = f"written through zkh{w} {uuid.uuid4().hex}".encode()
        path = f"{base}/via-zkh{w}"
        with kazoo(f"{addr(w)}:2181") as zk:  # this host only: leader or follower forwarding to it
            zk.create(path, token, makepath=True)
            assert zk.get(path)[0] == token
        for o in ensemble.hosts:
            if o != w:
                assert read_after_sync(o, path) == token, f"zkh{o} does not see the write made through zkh{w}"
    with kazoo(ensemble.connect_string()) as zk:
        assert sorted(zk.get_children(base)) == [f"via-zkh{i}" for i in sorted(ensemble.hosts)]
        zk.delete(base, recursive=True)


def test_second_deploy_changes_nothing(ensemble):
    before = ensemble.server_pids()
    rc, js = status_json(ensemble.inventory)
    assert rc == 0, js
    t0 = time.time()
    r = ensemble.deploy(timeout=60)
    took = time.time() - t0
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "nothing changed; no server restarted" in r.stdout, r.stdout
    assert ensemble.server_pids() == before
    # The servers rewrote zoo.cfg (dynamic config split); plan still judges every file the same.
    r = run_zkops("plan", "-i", ensemble.inventory, *ensemble.deploy_args(), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["membership"] == [], report["membership"]
    for p in report["hosts"]:
        assert p["plan"]["action"] == "none", p
        assert all(f["state"] == "same" for f in p["plan"]["files"]), p
    rc, js2 = status_json(ensemble.inventory)
    assert rc == 0 and leader_of(js2) == leader_of(js), (leader_of(js), js2["verdict"])
    print(f"\n[{ensemble.flavor}] second (no-op) deploy: {took:.1f}s")
