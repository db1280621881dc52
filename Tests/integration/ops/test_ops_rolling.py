"""A config change rolls through a 3-node ensemble with quorum kept throughout.

zkops has no restart command: a deploy restarts the servers whose files changed, followers one at
a time, the leader last, waiting for a healthy ensemble after each. Here tickTime changes (every
zoo.cfg changes) and then changes back, while a kazoo writer creates a znode every ~50 ms through
all three hosts. The writer may see brief connection losses (its server restarting) and retries
them; it must never lose its session, never wait longer than MAX_OUTAGE seconds for a write, and
every acknowledged write must be on every host at the end.

Parametrized: apache (zkh1..3) and zkserver (zkh5..7, marked swift_ensemble).
"""
import os
import threading
import time
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NodeExistsError, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from conftest import addr, kazoo, leader_of, modes_of, ssh, status_json, wait_healthy

MAX_OUTAGE = float(os.environ.get("ZK_ROLL_MAX_OUTAGE", "15"))


class Writer(threading.Thread):
    """Creates base/n000000, n000001, … until stopped; retries connection losses."""

    def __init__(self, connect, base):
        super().__init__(daemon=True)
        self.connect, self.base = connect, base
        self.stopping = threading.Event()
        self.acked = []          # (n, time acknowledged)
        self.retries = []        # (time, exception name): connection loss and the like
        self.fatal = []          # anything a kept quorum must not produce
        self.max_gap = 0.0
        self.max_gap_at = None

    def run(self):
        zk = KazooClient(hosts=self.connect, timeout=15,
                         connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1, "backoff": 1.5})
        zk.start(timeout=30)
        zk.ensure_path(self.base)
        n, attempt, last_ok = 0, 0, time.time()
        try:
            while not self.stopping.is_set():
                path = f"{self.base}/n{n:06d}"
                attempt += 1
                try:
                    zk.create_async(path, str(n).encode()).get(timeout=MAX_OUTAGE * 2)
                except NodeExistsError:
                    if attempt == 1:  # not our own retried write: someone else wrote it
                        self.fatal.append((time.time(), f"{path} existed before the first attempt"))
                        break
                except (ConnectionLoss, OperationTimeoutError, KazooTimeoutError) as e:
                    self.retries.append((time.time(), type(e).__name__))
                    time.sleep(0.1)
                    continue
                except SessionExpiredError as e:
                    self.fatal.append((time.time(), f"{type(e).__name__} at {path}"))
                    break
                except Exception as e:  # noqa: BLE001 - recorded and reported
                    self.fatal.append((time.time(), f"{type(e).__name__}: {e} at {path}"))
                    time.sleep(0.2)
                    continue
                now = time.time()
                if now - last_ok > self.max_gap:
                    self.max_gap, self.max_gap_at = now - last_ok, now
                last_ok = now
                self.acked.append((n, now))
                n, attempt = n + 1, 0
                time.sleep(0.05)
        finally:
            zk.stop()
            zk.close()

    def stop(self):
        self.stopping.set()
        self.join(60)


def assert_acked_on_every_host(writer, ensemble, base):
    """Every write the writer saw acknowledged is on every host; then removes `base`."""
    for i in ensemble.hosts:
        with kazoo(f"{addr(i)}:2181") as zk:
            zk.sync(base)
            kids = set(zk.get_children(base))
            missing = [n for n, _ in writer.acked if f"n{n:06d}" not in kids]
            assert not missing, f"zkh{i} lacks acknowledged writes {missing[:10]}"
    with kazoo(ensemble.connect_string()) as zk:
        zk.delete(base, recursive=True)


def restart_order(stderr):
    """Hosts in the order the deploy restarted them, from its progress lines."""
    return [l.split(":")[0] for l in stderr.splitlines()
            if l.endswith(": restarting") or l.endswith(": restarting (leader, last)")]


def test_config_change_rolls_one_at_a_time_with_quorum_kept(ensemble, tmp_path):
    js = wait_healthy(ensemble.inventory, timeout=120)
    leader = leader_of(js)
    pids0 = ensemble.server_pids()
    changed = ensemble.write_inventory(tmp_path / "tick3000.yaml", extra_ensemble="tickTime: 3000")
    base = f"/zkops-roll-{uuid.uuid4().hex[:8]}"
    writer = Writer(ensemble.connect_string(), base)
    writer.start()
    time.sleep(2)
    assert writer.acked, f"the writer could not write before the roll: {writer.fatal or writer.retries}"
    t0 = time.time()
    r1 = r2 = None
    try:
        r1 = ensemble.deploy(changed, timeout=120)
        t1 = time.time()
        assert r1.returncode == 0, f"{r1.stdout}\n{r1.stderr}"
        order1 = restart_order(r1.stderr)
        assert sorted(order1) == sorted(ensemble.name(i) for i in ensemble.hosts), r1.stderr
        assert order1[-1] == leader, f"leader {leader} not restarted last: {order1}"
        for i in ensemble.hosts:
            assert "tickTime=3000" in ssh(i, "cat /opt/zookeeper/conf/zoo.cfg").stdout
            assert ssh(i, "test -e /opt/zookeeper/run/restart-pending", check=False).returncode != 0
        pids1 = ensemble.server_pids()
        assert all(pids1[i] != pids0[i] for i in ensemble.hosts), (pids0, pids1)
        js = wait_healthy(ensemble.inventory, timeout=30)
        leader1 = leader_of(js)
    finally:
        # Back to the session's configuration: a second roll, the writer still going.
        t2 = time.time()
        r2 = ensemble.deploy(timeout=120)
        t3 = time.time()
        time.sleep(2)
        writer.stop()
    assert r2.returncode == 0, f"{r2.stdout}\n{r2.stderr}"
    order2 = restart_order(r2.stderr)
    assert len(order2) == 3 and order2[-1] == leader1, (leader1, order2)
    assert not writer.is_alive(), "the writer did not stop"

    # The writer: no session loss, no other error, only brief waits.
    assert not writer.fatal, writer.fatal
    during = [t for _, t in writer.acked if t0 <= t <= t3]
    assert len(during) >= 20, f"only {len(during)} writes acknowledged during the two rolls ({t3 - t0:.0f}s)"
    assert writer.max_gap <= MAX_OUTAGE, (f"a write waited {writer.max_gap:.1f}s (> {MAX_OUTAGE}s) at "
                                          f"{writer.max_gap_at - t0:.1f}s into the roll; retries: {writer.retries}")
    last = writer.acked[-1][0]
    assert_acked_on_every_host(writer, ensemble, base)
    rc, js = status_json(ensemble.inventory)
    assert rc == 0, js["verdict"]
    print(f"\n[{ensemble.flavor}] roll 1 (tickTime 3000) {t1 - t0:.1f}s order {order1}; roll 2 (back) {t3 - t2:.1f}s "
          f"order {order2}; {last + 1} writes acknowledged ({len(during)} during the rolls), "
          f"{len(writer.retries)} retried ({sorted(set(e for _, e in writer.retries))}), "
          f"longest wait for a write {writer.max_gap:.2f}s")
