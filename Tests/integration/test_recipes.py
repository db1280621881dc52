"""Users' use cases through kazoo's recipes: locks, elections, config watches, queues..."""

import threading
import time



from zkharness import wait_for


def test_lock_contention_and_release(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    lock_a, lock_b = a.Lock(unique, "a"), b.Lock(unique, "b")
    assert lock_a.acquire(timeout=5)
    assert not lock_b.acquire(blocking=False)
    assert lock_b.contenders() == ["a"]
    got = threading.Event()

    def take():
        if lock_b.acquire(timeout=10):
            got.set()

    t = threading.Thread(target=take)
    t.start()
    time.sleep(0.3)
    assert not got.is_set()
    lock_a.release()
    assert got.wait(10)
    t.join()
    lock_b.release()


def test_lock_passes_when_holder_session_closes(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    assert a.Lock(unique, "a").acquire(timeout=5)
    lock_b = b.Lock(unique, "b")
    got = threading.Event()
    t = threading.Thread(target=lambda: lock_b.acquire(timeout=15) and got.set())
    t.start()
    time.sleep(0.3)
    a.stop()  # closes the session: its ephemeral lock node goes at once
    assert got.wait(10)
    t.join()
    lock_b.release()


def test_read_write_lock_and_semaphore(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    r1, r2 = a.ReadLock(unique + "/rw"), b.ReadLock(unique + "/rw")
    assert r1.acquire(timeout=5) and r2.acquire(timeout=5)
    w = b.WriteLock(unique + "/rw")
    assert not w.acquire(blocking=False)
    r1.release()
    r2.release()
    assert w.acquire(timeout=5)
    w.release()
    s1, s2, s3 = a.Semaphore(unique + "/sem", max_leases=2), b.Semaphore(unique + "/sem", max_leases=2), \
        b.Semaphore(unique + "/sem", max_leases=2)
    assert s1.acquire(timeout=5) and s2.acquire(timeout=5)
    assert not s3.acquire(blocking=False)
    s1.release()
    assert s3.acquire(timeout=5)
    s2.release()
    s3.release()


def test_election_leader_dies_next_elected(kazoo_factory, unique):
    clients = [kazoo_factory() for _ in range(3)]
    leaders = []
    lock = threading.Lock()
    stop = {i: threading.Event() for i in range(3)}

    def run(i):
        def lead():
            with lock:
                leaders.append(i)
            stop[i].wait(30)
        try:
            clients[i].Election(unique, f"node{i}").run(lead)
        except Exception:
            pass

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    assert wait_for(lambda: len(leaders) == 1)
    first = leaders[0]
    assert first == 0
    assert sorted(clients[1].Election(unique).contenders()) == ["node0", "node1", "node2"]
    clients[first].stop()  # the master dies
    assert wait_for(lambda: len(leaders) == 2)
    assert leaders[1] == 1
    assert clients[2].Election(unique).contenders() == ["node1", "node2"]
    for e in stop.values():
        e.set()


def test_data_watch_config(kazoo_factory, unique):
    reader, writer = kazoo_factory(), kazoo_factory()
    writer.create(unique, b"v1")
    seen = []
    reader.DataWatch(unique)(lambda data, stat: seen.append(data))
    assert wait_for(lambda: seen == [b"v1"])
    writer.set(unique, b"v2")
    writer.set(unique, b"v3")
    assert wait_for(lambda: seen[-1] == b"v3")
    writer.delete(unique)
    assert wait_for(lambda: seen[-1] is None)


def test_children_watch_pubsub(kazoo_factory, unique):
    sub, pub = kazoo_factory(), kazoo_factory()
    pub.create(unique)
    seen = []
    sub.ChildrenWatch(unique)(lambda children: seen.append(sorted(children)))
    assert wait_for(lambda: seen == [[]])
    pub.create(unique + "/msg-", b"hello", sequence=True)
    pub.create(unique + "/msg-", b"world", sequence=True)
    assert wait_for(lambda: seen[-1] == ["msg-0000000000", "msg-0000000001"])


def test_queue_and_locking_queue(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    q = a.Queue(unique + "/q")
    for item in (b"one", b"two", b"three"):
        q.put(item)
    q.put(b"urgent", priority=10)
    assert len(q) == 4
    qb = b.Queue(unique + "/q")
    assert [qb.get() for _ in range(4)] == [b"urgent", b"one", b"two", b"three"]
    assert qb.get() is None

    lq = a.LockingQueue(unique + "/lq")
    lq.put_all([b"x", b"y"])
    lqb = b.LockingQueue(unique + "/lq")
    assert lqb.get(timeout=5) == b"x"
    assert lq.get(timeout=0.5) == b"y"  # x is locked by b, so a gets y
    assert lqb.consume()
    assert lq.holds_lock()
    assert lq.consume()
    assert len(lqb) == 0


def test_barrier_and_double_barrier(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    barrier = a.Barrier(unique + "/b")
    barrier.create()
    passed = threading.Event()
    t = threading.Thread(target=lambda: b.Barrier(unique + "/b").wait(10) and passed.set())
    t.start()
    time.sleep(0.3)
    assert not passed.is_set()
    barrier.remove()
    assert passed.wait(10)
    t.join()

    entered = []
    def member(client, name):
        db = client.DoubleBarrier(unique + "/db", 2, identifier=name)
        db.enter()
        entered.append(name)
        db.leave()
    t1 = threading.Thread(target=member, args=(a, "a"))
    t1.start()
    time.sleep(0.5)
    assert entered == []  # waits for the second member
    t2 = threading.Thread(target=member, args=(b, "b"))
    t2.start()
    t1.join(10)
    t2.join(10)
    assert sorted(entered) == ["a", "b"]


def test_counter(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    ca, cb = a.Counter(unique), b.Counter(unique)
    threads = [threading.Thread(target=lambda c=c: [c.__add__(1) for _ in range(10)]) for c in (ca, cb)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.Counter(unique).value == 20
    cf = a.Counter(unique + "-f", default=0.0)
    cf += 2.5
    cf -= 1.0
    assert cf.value == 1.5


def test_party_and_shallow_party(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    pa, pb = a.Party(unique + "/p", "alpha"), b.Party(unique + "/p", "beta")
    pa.join()
    pb.join()
    assert sorted(pa) == ["alpha", "beta"] and len(pa) == 2
    b.stop()  # members are ephemeral
    assert wait_for(lambda: list(pa) == ["alpha"])
    sa = a.ShallowParty(unique + "/s", "one")
    sa.join()
    sb = kazoo_factory().ShallowParty(unique + "/s", "two")
    sb.join()
    assert sorted(sa) == ["one", "two"]
    sa.leave()
    assert list(sb) == ["two"]


def test_set_partitioner(kazoo_factory, unique):
    a, b = kazoo_factory(), kazoo_factory()
    items = [f"item{i}" for i in range(6)]
    pa = a.SetPartitioner(unique, set=items, time_boundary=0.5, identifier="a")
    pb = b.SetPartitioner(unique, set=items, time_boundary=0.5, identifier="b")

    def settle():
        for p in (pa, pb):
            if p.release:
                p.release_set()
        return pa.acquired and pb.acquired

    assert wait_for(settle, timeout=20, step=0.2)
    mine_a, mine_b = set(pa), set(pb)
    assert mine_a | mine_b == set(items) and not (mine_a & mine_b)
    assert len(mine_a) == 3 and len(mine_b) == 3
    pb.finish()
    assert wait_for(lambda: (pa.release and pa.release_set()) or (pa.acquired and set(pa) == set(items)),
                    timeout=20, step=0.2)
    pa.finish()


def test_sequential_naming_is_unique_under_contention(kazoo_factory, unique):
    clients = [kazoo_factory() for _ in range(3)]
    clients[0].create(unique)
    names = []
    lock = threading.Lock()

    def work(c):
        for _ in range(20):
            p = c.create(unique + "/job-", sequence=True)
            with lock:
                names.append(p)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 60
    assert sorted(names) == [f"{unique}/job-{i:010d}" for i in range(60)]


def test_lease(kazoo_factory, unique):
    import datetime
    a, b = kazoo_factory(), kazoo_factory()
    la = a.NonBlockingLease(unique, datetime.timedelta(seconds=30), identifier="a")
    assert bool(la)
    lb = b.NonBlockingLease(unique, datetime.timedelta(seconds=30), identifier="b")
    assert not bool(lb)
