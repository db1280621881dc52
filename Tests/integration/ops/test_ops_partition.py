"""A network partition cuts one host of a healthy 3-node ensemble off (scripts/testbed partition I:
its bridge-side veth goes down), then heals it.

While cut off: the other two keep (or elect) a leader and accept kazoo writes; the isolated host
stops serving and refuses writes (tried from inside its own network namespace, which is the
only place it can still be reached); `zkops status` says degraded (exit 1). After the heal the
isolated host rejoins as a follower, has the majority's writes, and status is healthy again.

Parametrized over the ensemble (apache on zkh1..3, zkserver on zkh5..7: marked swift_ensemble)
and over which host is cut off (the leader, or a follower).
"""
import time
import uuid

import pytest

from conftest import (epochs_of, kazoo, leader_of, modes_of, ns_four_letter, ns_try_write, partitioned,
                      read_after_sync, status_json, wait_for, wait_healthy)

WRITES = 20


@pytest.mark.parametrize("victim", ["leader", "follower"])
def test_partition_one_host_then_heal(ensemble, victim):
    times = {}
    t0 = time.time()
    js = wait_healthy(ensemble.inventory, timeout=120)
    old_leader = leader_of(js)
    followers = sorted(n for n, m in modes_of(js).items() if m == "follower")
    v = old_leader if victim == "leader" else followers[0]
    vi = ensemble.index(v)
    others = [i for i in ensemble.hosts if i != vi]
    other_names = {ensemble.name(i) for i in others}
    base = f"/zkops-partition-{uuid.uuid4().hex[:8]}"
    with kazoo(ensemble.connect_string()) as zk:
        zk.create(f"{base}/before", b"before", makepath=True)

    with partitioned(vi):
        tp = time.time()
        # The majority: a leader among the two others (a new one if the leader was cut off), the
        # cut-off host unreachable, status degraded.
        def majority_degraded():
            rc, js = status_json(ensemble.inventory)
            ok = (rc == 1 and js["verdict"]["health"] == "degraded but quorate"
                  and leader_of(js) in other_names and modes_of(js)[v] == "-")
            return js if ok else None
        js = wait_for(majority_degraded, 120, what=f"{sorted(other_names)} quorate without {v} (status exit 1)")
        times["majority degraded+quorate after partition"] = time.time() - tp
        new_leader = leader_of(js)
        if victim == "leader":
            assert new_leader != old_leader
        else:
            assert new_leader == old_leader, "cutting a follower off must not move the leader"
        assert any(r.startswith(f"{v}: not serving") for r in js["verdict"]["reasons"]), js["verdict"]
        assert sorted(modes_of(js)[n] for n in other_names) == ["follower", "leader"], modes_of(js)

        # The majority accepts writes, through either of its hosts.
        tw = time.time()
        with kazoo(ensemble.connect_string(others)) as zk:
            for k in range(WRITES):
                zk.create(f"{base}/w{k:03d}", f"majority {k}".encode())
        for i in others:
            assert read_after_sync(i, f"{base}/w{WRITES - 1:03d}") == f"majority {WRITES - 1}".encode()
        times[f"{WRITES} writes on the majority"] = time.time() - tw

        # The isolated host stops serving and refuses a write (seen from its own namespace).
        ti = time.time()
        wait_for(lambda: "not currently serving" in ns_four_letter(vi, "srvr"), 90,
                 what=f"{v} to stop serving (srvr from inside zkh{vi})")
        times["isolated host stopped serving"] = time.time() - ti
        res = ns_try_write(vi, f"{base}/isolated", "from the minority", timeout=8)
        assert not res["wrote"], f"{v} accepted a write while cut off: {res}"
        times["partition total"] = time.time() - tp

    th = time.time()
    js = wait_healthy(ensemble.inventory, timeout=120)
    times["healthy after heal"] = time.time() - th
    assert modes_of(js)[v] == "follower", modes_of(js)
    assert leader_of(js) == new_leader, "the healed host must rejoin, not take over"
    # It has everything the majority wrote, and the minority's write never happened.
    vr = read_after_sync(vi, f"{base}/w{WRITES - 1:03d}")
    assert vr == f"majority {WRITES - 1}".encode(), f"{v} lacks the majority's writes after the heal"
    with kazoo(f"{ensemble.connect_string([vi])}") as zk:
        zk.sync(base)
        kids = zk.get_children(base)
        assert sorted(kids) == sorted(["before"] + [f"w{k:03d}" for k in range(WRITES)]), kids
    # Same epoch everywhere (the write above may have been the new epoch's first).
    with kazoo(ensemble.connect_string()) as zk:
        zk.delete(base, recursive=True)
    wait_for(lambda: (lambda rc_js: rc_js[0] == 0 and len(set(epochs_of(rc_js[1]).values())) == 1)(
        status_json(ensemble.inventory)), 30, what="one epoch on every host after the heal")
    times["test total"] = time.time() - t0
    print(f"\n[{ensemble.flavor}, cut off {victim} {v}, leader {old_leader} -> {new_leader}] "
          + ", ".join(f"{k}: {s:.1f}s" for k, s in times.items()))
