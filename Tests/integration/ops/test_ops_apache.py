"""A 3-host Apache ZooKeeper ensemble (Debian's 3.8 jars) deployed on the testbed."""
import json

from kazoo.client import KazooClient

from conftest import addr, run_zkops, ssh, status_json, wait_status


def server_pids():
    return {i: ssh(i, "cat /opt/zookeeper/run/server.pid").stdout.strip() for i in (1, 2, 3)}


def test_deployed_ensemble_is_healthy(apache_inventory):
    rc, js = status_json(apache_inventory)
    assert rc == 0, js
    assert js["verdict"]["health"] == "healthy"
    modes = sorted(h["srvr"]["mode"] for h in js["hosts"])
    assert modes == ["follower", "follower", "leader"]
    assert all(h["ruok"] for h in js["hosts"])
    # Human output too.
    r = run_zkops("status", "-i", apache_inventory)
    assert r.returncode == 0
    assert "ensemble: healthy" in r.stdout
    assert "leader" in r.stdout and "zkh1" in r.stdout


def test_ensemble_serves_clients(apache_inventory):
    zk = KazooClient(hosts=",".join(f"{addr(i)}:2181" for i in (1, 2, 3)), timeout=10)
    zk.start(timeout=20)
    try:
        zk.ensure_path("/zkops-test")
        zk.set("/zkops-test", b"hello")
        assert zk.get("/zkops-test")[0] == b"hello"
    finally:
        zk.stop()
        zk.close()
    # Each server has the write (it went through the quorum).
    for i in (1, 2, 3):
        c = KazooClient(hosts=f"{addr(i)}:2181", timeout=10)
        c.start(timeout=20)
        try:
            c.sync("/zkops-test")
            assert c.get("/zkops-test")[0] == b"hello"
        finally:
            c.stop()
            c.close()


def test_server_rewrote_its_config_and_plan_still_says_same(apache_inventory):
    # Apache moved the server lines into zoo.cfg.dynamic.<version> and rewrote zoo.cfg.
    cfg = ssh(1, "cat /opt/zookeeper/conf/zoo.cfg").stdout
    assert "dynamicConfigFile=/opt/zookeeper/conf/zoo.cfg.dynamic.1" in cfg
    r = run_zkops("plan", "-i", apache_inventory, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["membership"] == [], report["membership"]
    plans = report["hosts"]
    for p in plans:
        assert p["plan"]["action"] == "none", p
        assert all(f["state"] == "same" for f in p["plan"]["files"]), p


def test_second_deploy_restarts_nothing(apache_inventory):
    before = server_pids()
    r = run_zkops("deploy", "-i", apache_inventory, "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert "nothing changed; no server restarted" in r.stdout
    assert server_pids() == before


def test_stop_one_is_degraded_then_start_heals(apache_inventory):
    r = run_zkops("stop", "-i", apache_inventory, "zkh3")
    assert r.returncode == 0, r.stderr
    try:
        rc, js = wait_status(apache_inventory, 1, timeout=30)
        assert rc == 1, js
        assert js["verdict"]["health"] == "degraded but quorate"
    finally:
        r = run_zkops("start", "-i", apache_inventory, "zkh3")
        assert r.returncode == 0, r.stderr
    rc, js = wait_status(apache_inventory, 0, timeout=90)
    assert rc == 0, js


def test_config_change_restarts_one_at_a_time_leader_last(apache_inventory, tmp_path):
    from conftest import write_inventory
    rc, js = status_json(apache_inventory)
    assert rc == 0, js
    leader = js["verdict"]["leader"]
    changed = write_inventory(tmp_path / "tick.yaml", [1, 2, 3], extra_ensemble="tickTime: 3000")
    try:
        r = run_zkops("deploy", "-i", changed, "--timeout", "120")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        order = [l.split(":")[0] for l in r.stderr.splitlines() if l.endswith(": restarting") or l.endswith("(leader, last)")]
        assert len(order) == 3 and order[-1] == leader, r.stderr
        for i in (1, 2, 3):
            assert "tickTime=3000" in ssh(i, "cat /opt/zookeeper/conf/zoo.cfg").stdout
            assert ssh(i, "test -e /opt/zookeeper/run/restart-pending", check=False).returncode != 0
    finally:
        # Back to the session's configuration (another rolling restart).
        r = run_zkops("deploy", "-i", apache_inventory, "--timeout", "120")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    rc, js = status_json(apache_inventory)
    assert rc == 0, js
