"""Ensembles: replication, leader failover, catch-up, quorum loss, observers, sessions that
move between servers, global session expiry and the lastZxidSeen check.

Every test starts its own ensemble (ensemble_harness.ZkEnsemble, via the `ensemble_factory`
fixture) with tickTime=200, initLimit=10, syncLimit=5 on 127.0.0.1, so elections and failure
detection take about a second. Sessions keep the default bounds (2..20 ticks): a kazoo
client asking for 10 s gets 4 s. Clients name the server(s) they may use explicitly, so each
check knows which server answered it; reads that must see the latest writes call sync first.

All expectations were taken from Apache ZooKeeper 3.8 (QuorumPeerMain) and must hold for
zkserver unchanged.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

import zkraw
from ensemble_harness import NOT_SERVING, ZkEnsemble, wait_until
from zkharness import stop_clients
from zkraw import RawSession

# collected by the normal run (nothing deselects it); `-m ensemble` / `-m "not ensemble"` select
pytestmark = pytest.mark.ensemble

# kazoo's default reconnect backoff grows to a minute; elections here take about a second
FAST_RETRY = dict(max_tries=-1, delay=0.05, backoff=1.5, max_jitter=0.1, max_delay=0.5)
ELECTION_TIMEOUT = 30.0
SYNC_CONNECTED = 3  # the keeper state in notifications


@pytest.fixture
def kz(ensemble_factory):
    """kz(hosts, **kwargs): a started kazoo client on exactly these servers (in this order);
    all are stopped after the test, before the ensembles are killed."""
    clients: list[KazooClient] = []

    def make(hosts: str, timeout: float = 10.0, start_timeout: float = 15.0, **kwargs) -> KazooClient:
        kwargs.setdefault("connection_retry", dict(FAST_RETRY))
        kwargs.setdefault("randomize_hosts", False)
        client = KazooClient(hosts=hosts, timeout=timeout, **kwargs)
        clients.append(client)
        client.start(timeout=start_timeout)
        return client

    yield make
    stop_clients(clients)


def peer_port(client: KazooClient) -> int | None:
    """The client port of the server a kazoo client is connected to (kazoo has no public
    API for it)."""
    sock = getattr(client._connection, "_socket", None)
    try:
        return sock.getpeername()[1] if sock is not None else None
    except OSError:
        return None


def try_write(client: KazooClient, path: str, data: bytes = b"", timeout: float = 3.0, **kwargs) -> bool:
    """One create through `client`; True if it was acknowledged within `timeout`.
    (kazoo queues requests while it reconnects, so a timed-out one may still happen later.)"""
    try:
        client.create_async(path, data, **kwargs).get(timeout=timeout)
        return True
    except Exception:
        return False


def write_eventually(client: KazooClient, path: str, data: bytes = b"", timeout: float = ELECTION_TIMEOUT,
                     **kwargs) -> str:
    """Creates `path` through `client`, retrying until the ensemble accepts writes again.
    Returns the created path (sequential names differ)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return client.create_async(path, data, **kwargs).get(timeout=3.0)
        except Exception as e:  # ConnectionLoss, timeout, NodeExists after an unseen success, ...
            last = e
            if type(e).__name__ == "NodeExistsError" and not kwargs.get("sequence"):
                return path
            time.sleep(0.1)
    raise AssertionError(f"write of {path} not accepted within {timeout}s: {last!r}")


def synced_children(client: KazooClient, path: str) -> list[str]:
    client.sync(path)
    return sorted(client.get_children(path))


def zxids_equal(ens: ZkEnsemble, sids: list[int]) -> bool:
    zxids = {s: ens[s].zxid() for s in sids}
    return None not in zxids.values() and len(set(zxids.values())) == 1


def wait_mntr(ens: ZkEnsemble, sid: int, want: dict[str, str], timeout: float = 10.0) -> dict[str, str]:
    """mntr of one server once it shows the `want` values (the leader counts a learner as
    synced a little after the learner says it follows); asserts they show up."""
    m: dict[str, str] = {}

    def ok() -> bool:
        nonlocal m
        m = ens[sid].mntr()
        return all(m.get(k) == v for k, v in want.items())

    assert wait_until(ok, timeout), {k: m.get(k) for k in want}
    return m


def not_serving(ens: ZkEnsemble, sid: int) -> bool:
    return ens[sid].four_letter("srvr") == NOT_SERVING + "\n"


# -- 1 ---------------------------------------------------------------------------------------

def test_three_servers_one_leader_and_leader_mntr(ensemble_factory):
    ens = ensemble_factory(3)
    modes = ens.modes()
    assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
    leader = ens.leader()
    assert sorted(ens.followers()) == sorted(s for s in ens.ids if s != leader)

    # Apache 3.8 prints zk_learners (followers + observers; there is no zk_followers),
    # zk_synced_followers (voting), zk_synced_non_voting_followers, zk_synced_observers,
    # zk_pending_syncs, and zk_quorum_size = the number of voting members (not a majority)
    m = wait_mntr(ens, leader, {"zk_learners": "2", "zk_synced_followers": "2"})
    assert m["zk_server_state"] == "leader"
    assert m["zk_peer_state"] == "leading - broadcast"
    assert "zk_followers" not in m
    assert m["zk_synced_non_voting_followers"] == "0"
    assert m["zk_synced_observers"] == "0"
    assert m["zk_pending_syncs"] == "0"
    assert m["zk_quorum_size"] == "3"
    for key in ("zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size"):
        assert re.fullmatch(r"-?\d+", m[key]), (key, m[key])
    # srvr: a leader adds a last line with the proposal sizes, followers do not
    lines = ens[leader].four_letter("srvr").splitlines()
    assert "Mode: leader" in lines
    assert re.fullmatch(r"Proposal sizes last/min/max: -?\d+/-?\d+/-?\d+", lines[-1]), lines[-1]

    for sid in ens.followers():
        f = ens[sid].mntr()
        assert f["zk_server_state"] == "follower"
        assert f["zk_peer_state"] == "following - broadcast"
        assert f["zk_quorum_size"] == "3"
        # the leader-only keys are absent on followers
        for key in ("zk_learners", "zk_synced_followers", "zk_synced_observers", "zk_pending_syncs"):
            assert key not in f, key
        lines = ens[sid].four_letter("srvr").splitlines()
        assert "Mode: follower" in lines and not any(x.startswith("Proposal sizes") for x in lines)


# -- 2 ---------------------------------------------------------------------------------------

def test_writes_through_every_server_are_read_from_every_server(ensemble_factory, kz):
    ens = ensemble_factory(3)
    clients = {s: kz(ens.hosts(s)) for s in ens.ids}
    for s, c in clients.items():
        assert peer_port(c) == ens[s].client_port
    clients[1].create("/t", b"root")

    seq_names = []
    for s, c in clients.items():
        c.create(f"/t/n{s}", f"v1-{s}".encode())
        c.set(f"/t/n{s}", f"v2-{s}".encode())
        c.create(f"/t/gone{s}", b"x")
        c.delete(f"/t/gone{s}")
        c.create(f"/t/eph{s}", f"e{s}".encode(), ephemeral=True)
        seq_names.append(c.create("/t/seq-", f"s{s}".encode(), sequence=True))
    # one sequence counter for the parent, whichever server the create went through: the
    # parent's stored cversion, which counts child creations (3 before each sequential create)
    assert seq_names == ["/t/seq-0000000003", "/t/seq-0000000007", "/t/seq-0000000011"], seq_names

    expected = sorted([f"n{s}" for s in ens.ids] + [f"eph{s}" for s in ens.ids] + [p[3:] for p in seq_names])
    reference = None
    for r, reader in clients.items():
        assert synced_children(reader, "/t") == expected, f"server {r}"
        view = {}
        for s in ens.ids:
            data, st = reader.get(f"/t/n{s}")
            assert data == f"v2-{s}".encode() and st.version == 1, (r, s)
            edata, est = reader.get(f"/t/eph{s}")
            assert edata == f"e{s}".encode()
            assert est.ephemeralOwner == clients[s].client_id[0], (r, s)
            assert reader.exists(f"/t/gone{s}") is None
            view[s] = (st.czxid, st.mzxid, st.ctime, st.mtime, est.czxid)
        for i, name in enumerate(seq_names):
            assert reader.get(name)[0] == f"s{i + 1}".encode()
        _, pst = reader.get("/t")
        view["parent"] = (pst.cversion, pst.numChildren, pst.pzxid)
        # every server holds the same stats (the same transactions, in the same order)
        reference = reference or view
        assert view == reference, f"server {r}"

    # a closed session's ephemerals vanish on every server
    clients[2].stop()
    for r in (1, 3):
        assert wait_until(lambda: "eph2" not in synced_children(clients[r], "/t"), 10), f"server {r}"
    assert zxids_equal(ens, ens.ids) or wait_until(lambda: zxids_equal(ens, ens.ids), 10)


# -- 3 ---------------------------------------------------------------------------------------

class Writer(threading.Thread):
    """Creates /w/<prefix>-<n> one at a time through `client`, recording every acknowledged
    path; failures (connection loss, timeouts while there is no leader) are skipped."""

    def __init__(self, client: KazooClient, prefix: str):
        super().__init__(daemon=True)
        self.client, self.prefix = client, prefix
        self.acked: list[str] = []
        self.failures = 0
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            path = f"/w/{self.prefix}-{n:06d}"
            n += 1
            if try_write(self.client, path, b"w", timeout=2.0):
                self.acked.append(path)
            else:
                self.failures += 1
                time.sleep(0.05)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def test_leader_sigkill_elects_new_leader_and_keeps_acknowledged_writes(ensemble_factory, kz):
    ens = ensemble_factory(3)
    old = ens.leader()
    f1, f2 = sorted(ens.followers())
    through = {s: kz(ens.hosts(s)) for s in ens.ids}
    through[old].create("/w")
    acked = []
    for s, c in through.items():
        for i in range(20):
            acked.append(c.create(f"/w/pre-{s}-{i}", b"p"))
    # a writer through the followers that keeps going while the leader dies
    writer = Writer(kz(ens.hosts(f1, f2)), "during")
    writer.start()
    assert wait_until(lambda: len(writer.acked) >= 20, 10)

    ens.kill(old)
    new = ens.wait_settled(ELECTION_TIMEOUT, sids=[f1, f2])
    assert new in (f1, f2)
    other = f2 if new == f1 else f1
    # the writer gets through again after the election
    count = len(writer.acked)
    assert wait_until(lambda: len(writer.acked) >= count + 20, ELECTION_TIMEOUT), writer.failures
    writer.stop()
    acked += writer.acked

    readers = {s: kz(ens.hosts(s)) for s in (new, other)}
    for s, r in readers.items():
        have = set(synced_children(r, "/w"))
        missing = [p for p in acked if p[3:] not in have]
        assert not missing, f"server {s} lost acknowledged writes: {missing[:10]}"
    # new writes through both survivors
    after = [write_eventually(readers[s], f"/w/after-{s}") for s in (new, other)]

    # the killed server comes back as a follower with everything, including what it missed
    ens.start(old)
    assert wait_until(lambda: ens[old].mode() == "follower", ELECTION_TIMEOUT), ens.modes()
    assert ens.wait_settled(ELECTION_TIMEOUT) == new
    back = kz(ens.hosts(old))
    have = set(synced_children(back, "/w"))
    missing = [p for p in acked + after if p[3:] not in have]
    assert not missing, f"restarted server {old} lacks {missing[:10]}"
    assert write_eventually(back, "/w/through-restarted") == "/w/through-restarted"
    assert "through-restarted" in synced_children(readers[other], "/w")


# -- 4 ---------------------------------------------------------------------------------------

def test_stopped_follower_catches_up(ensemble_factory, kz):
    ens = ensemble_factory(3)
    leader = ens.leader()
    lagging = ens.followers()[0]
    c = kz(ens.hosts(leader))
    c.create("/bulk", b"")
    ens.stop(lagging)

    results = [c.create_async(f"/bulk/n{i:04d}", f"{i}".encode()) for i in range(1000)]
    for r in results:
        r.get(timeout=30)
    c.set("/bulk", b"done")

    ens.start(lagging)
    assert wait_until(lambda: ens[lagging].mode() == "follower", ELECTION_TIMEOUT), ens.modes()
    r = kz(ens.hosts(lagging))
    names = synced_children(r, "/bulk")
    assert len(names) == 1000 and names[0] == "n0000" and names[-1] == "n0999"
    assert r.get("/bulk")[0] == b"done"
    for i in (0, 1, 499, 998, 999):
        assert r.get(f"/bulk/n{i:04d}")[0] == f"{i}".encode()
    # srvr Zxid: the same last transaction as the leader
    assert wait_until(lambda: zxids_equal(ens, [leader, lagging]), 10), (ens[leader].zxid(), ens[lagging].zxid())
    assert ens[lagging].zxid() & 0xFFFFFFFF >= 1002  # the counter part: 1,000 creates and more


# -- 5 ---------------------------------------------------------------------------------------

def test_minority_cannot_write(ensemble_factory, kz):
    ens = ensemble_factory(3)
    leader = ens.leader()
    follower, survivor = sorted(ens.followers())
    before = kz(ens.hosts(survivor))
    before.create("/m", b"")

    ens.kill(leader)
    ens.kill(follower)
    # the survivor gives up its role and stops serving: srvr and mntr say so, ruok still says imok
    assert wait_until(lambda: not_serving(ens, survivor), ELECTION_TIMEOUT), ens[survivor].four_letter("srvr")
    assert ens[survivor].four_letter("mntr") == NOT_SERVING + "\n"
    assert ens[survivor].four_letter("ruok") == "imok"
    # it accepts TCP connections but closes them without answering the ConnectRequest
    with pytest.raises(zkraw.ConnectionClosed):
        RawSession(ens[survivor].client_port)
    # kazoo cannot connect to it ...
    with pytest.raises(Exception):
        kz(ens.hosts(survivor), start_timeout=3)
    # ... and the client that was connected cannot write
    assert wait_until(lambda: before.state != KazooState.CONNECTED, 10)
    assert not try_write(before, "/m/lost", timeout=3)
    assert not_serving(ens, survivor)

    # one more server: a quorum again, writes succeed
    ens.start(follower, wait=False)
    ens.wait_settled(ELECTION_TIMEOUT, sids=[follower, survivor])
    after = kz(ens.hosts(survivor))
    assert write_eventually(after, "/m/back") == "/m/back"
    other = kz(ens.hosts(follower))
    assert "back" in synced_children(other, "/m")


# -- 6 ---------------------------------------------------------------------------------------

def test_paused_leader_is_replaced_and_rejoins_as_follower(ensemble_factory, kz):
    ens = ensemble_factory(3)
    old = ens.leader()
    f1, f2 = sorted(ens.followers())
    c = kz(ens.hosts(old))
    c.create("/p", b"")
    c.create("/p/before", b"b")

    ens.pause(old)
    new = ens.wait_settled(ELECTION_TIMEOUT, sids=[f1, f2])
    assert new in (f1, f2)
    other = f2 if new == f1 else f1
    w = kz(ens.hosts(other))
    assert "before" in synced_children(w, "/p")
    for i in range(10):
        write_eventually(w, f"/p/during-{i}")
    kz(ens.hosts(new)).set("/p", b"new leader")

    ens.resume(old)
    assert wait_until(lambda: ens[old].mode() == "follower", ELECTION_TIMEOUT), ens.modes()
    assert ens.wait_settled(ELECTION_TIMEOUT) == new
    back = kz(ens.hosts(old))
    assert synced_children(back, "/p") == ["before"] + [f"during-{i}" for i in range(10)]
    assert back.get("/p")[0] == b"new leader"
    assert write_eventually(back, "/p/via-old") == "/p/via-old"


# -- 7 ---------------------------------------------------------------------------------------

def test_five_servers_survive_two_failures_not_three(ensemble_factory, kz):
    ens = ensemble_factory(5)
    leader = ens.leader()
    followers = sorted(ens.followers())
    assert len(followers) == 4
    wait_mntr(ens, leader, {"zk_synced_followers": "4", "zk_quorum_size": "5"})
    kz(ens.hosts(followers[0])).create("/five", b"")

    ens.kill(leader)
    ens.kill(followers[0])
    alive = followers[1:]
    ens.wait_settled(ELECTION_TIMEOUT, sids=alive)
    for s in alive:
        c = kz(ens.hosts(s))
        assert write_eventually(c, f"/five/via-{s}") == f"/five/via-{s}"
    check = kz(ens.hosts(alive[0]))
    assert synced_children(check, "/five") == [f"via-{s}" for s in alive]

    ens.kill(alive[-1])
    rest = alive[:-1]
    for s in rest:
        assert wait_until(lambda: not_serving(ens, s), ELECTION_TIMEOUT), (s, ens[s].four_letter("srvr"))
    assert not try_write(check, "/five/no-quorum", timeout=3)


# -- 8 ---------------------------------------------------------------------------------------

def test_observer_serves_and_does_not_vote(ensemble_factory, kz):
    ens = ensemble_factory(3, observers=1)
    obs = ens.observer_ids[0]
    assert ens[obs].srvr()["Mode"] == "observer"
    assert ens[obs].mntr()["zk_server_state"] == "observer"
    leader = ens.leader()
    # observers are learners but not followers, and do not count in zk_quorum_size
    wait_mntr(ens, leader, {"zk_learners": "3", "zk_synced_followers": "2", "zk_synced_observers": "1",
                            "zk_synced_non_voting_followers": "0", "zk_quorum_size": "3"})

    o = kz(ens.hosts(obs))
    lc = kz(ens.hosts(leader))
    # writes through the observer (forwarded to the leader) and reads from it
    o.create("/o", b"from observer")
    o.create("/o/child", b"c")
    o.set("/o/child", b"c2")
    o.create("/o/gone")
    o.delete("/o/gone")
    assert synced_children(lc, "/o") == ["child"]
    assert lc.get("/o/child")[0] == b"c2"
    lc.create("/o/from-leader", b"l")
    assert synced_children(o, "/o") == ["child", "from-leader"]
    assert o.get("/o/from-leader")[0] == b"l"

    # two participants down: the observer and one participant are not a quorum
    participants = [s for s in ens.participant_ids]
    last = [s for s in participants if s != leader][0]
    for s in participants:
        if s != last:
            ens.kill(s)
    assert wait_until(lambda: not_serving(ens, last), ELECTION_TIMEOUT), ens[last].four_letter("srvr")
    assert wait_until(lambda: not_serving(ens, obs), ELECTION_TIMEOUT), ens[obs].four_letter("srvr")
    assert not try_write(o, "/o/no-quorum", timeout=3)


# -- 9 ---------------------------------------------------------------------------------------

def test_session_moves_to_another_server_with_ephemeral_and_watch(ensemble_factory, kz):
    """Server A (a follower) dies under two sessions: a kazoo client given A then B, and a raw
    client that reconnects to B by hand like the Java client does (same id, password and
    lastZxidSeen, then SetWatches). Both keep their session and ephemerals; watches work on B.

    kazoo 2.11 sends no SetWatches: on a dropped connection it fires its one-shot watchers
    with a NONE/CONNECTING event and forgets them; its DataWatch recipe then reads again (and
    watches again) on the new server. The raw client checks the server side of a moved watch."""
    ens = ensemble_factory(3)
    leader = ens.leader()
    a, b = sorted(ens.followers())
    other = kz(ens.hosts(leader))
    other.create("/s", b"")
    other.create("/s/data", b"v0")
    other.create("/s/d1", b"")
    other.create("/s/d2", b"")

    c = kz(f"{ens[a].hosts},{ens[b].hosts}")
    assert peer_port(c) == ens[a].client_port
    session = c.client_id
    c.create("/s/eph", b"mine", ephemeral=True)
    seen = []
    c.DataWatch("/s/data", lambda data, stat: seen.append(data))
    assert wait_until(lambda: seen == [b"v0"], 5), seen
    states = []
    c.add_listener(lambda state: states.append(state))

    raw = RawSession(ens[a].client_port, timeout_ms=4000)
    assert raw.create("/s/raw-eph", b"", flags=zkraw.EPHEMERAL).err == 0
    for path in ("/s/d1", "/s/d2"):
        assert raw.get_data(path, watch=True).err == 0
    raw_sid, raw_pwd, raw_zxid = raw.session_id, raw.passwd, raw.last_zxid

    ens.kill(a)
    raw.sock.close()
    # kazoo moves to B with the same session
    assert wait_until(lambda: c.connected and peer_port(c) == ens[b].client_port, 20), (c.state, peer_port(c))
    assert c.client_id == session
    assert KazooState.LOST not in states, states
    assert f"sid=0x{session[0]:x}," in (ens[b].four_letter("cons") or "")
    # a change while the raw client is away
    other.set("/s/d1", b"changed while away")
    # the raw client resumes its session on B and re-registers its watches
    moved = RawSession(ens[b].client_port, timeout_ms=4000, session_id=raw_sid, passwd=raw_pwd, last_zxid=raw_zxid)
    try:
        assert (moved.session_id, moved.connect_reply.timeout) == (raw_sid, 4000)
        r = moved.set_watches(raw_zxid, data=["/s/d1", "/s/d2"])
        assert (r.xid, r.err) == (-8, 0)
        # the change it missed fires at once; a later one fires when it happens
        assert moved.wait_event() == zkraw.Event(zkraw.NODE_DATA_CHANGED, SYNC_CONNECTED, "/s/d1")
        assert moved.no_event(0.5)
        other.set("/s/d2", b"changed after the move")
        assert moved.wait_event() == zkraw.Event(zkraw.NODE_DATA_CHANGED, SYNC_CONNECTED, "/s/d2")
        r = moved.exists("/s/raw-eph")
        assert r.err == 0 and r.body.stat().ephemeralOwner == raw_sid
        other.sync("/s")
        assert other.exists("/s/raw-eph").ephemeralOwner == raw_sid
        # closing it on B removes its ephemeral everywhere
        assert moved.close_session().err == 0
    finally:
        moved.close()
    other.sync("/s")
    assert other.exists("/s/raw-eph") is None

    # kazoo's ephemeral is still there, seen from the leader too
    st = c.exists("/s/eph")
    assert st is not None and st.ephemeralOwner == session[0]
    other.sync("/s")
    assert other.exists("/s/eph").ephemeralOwner == session[0]

    # kazoo's DataWatch follows a change made from another client
    other.set("/s/data", b"v1")
    assert wait_until(lambda: seen and seen[-1] == b"v1", 10), seen
    # the moved session keeps working on B
    c.set("/s/eph", b"still mine")
    assert c.get("/s/eph")[0] == b"still mine"


# -- 10 --------------------------------------------------------------------------------------

def test_abandoned_session_expires_on_every_server(ensemble_factory, kz):
    ens = ensemble_factory(3)
    leader = ens.leader()
    a = ens.followers()[0]
    readers = {s: kz(ens.hosts(s)) for s in ens.ids}
    readers[leader].create("/x", b"")

    # a raw session on follower A (timeout 2 s, within the 0.4..4 s bounds), then its socket
    # is closed without a CloseSession: only expiry can end it
    raw = RawSession(ens[a].client_port, timeout_ms=2000)
    assert raw.connect_reply.timeout == 2000
    sid, pwd = raw.session_id, raw.passwd
    assert raw.create("/x/eph", b"", flags=zkraw.EPHEMERAL).err == 0
    raw.sock.close()
    closed_at = time.monotonic()
    for s, r in readers.items():
        r.sync("/x")
        st = r.exists("/x/eph")
        assert st is not None and st.ephemeralOwner == sid, f"server {s}"

    for s, r in readers.items():
        assert wait_until(lambda: "eph" not in synced_children(r, "/x"), 20), f"server {s}"
    elapsed = time.monotonic() - closed_at
    assert elapsed >= 1.0, f"expired after {elapsed:.2f}s, before its 2 s timeout"
    # the leader expired it for good: resuming it (on the leader, or on B) gets the expired answer
    for s in (leader, [x for x in ens.followers() if x != a][0]):
        again = RawSession(ens[s].client_port, timeout_ms=2000, session_id=sid, passwd=pwd)
        assert (again.connect_reply.session_id, again.connect_reply.timeout) == (0, 0), f"server {s}"
        assert again.is_closed(5)


# -- 11 --------------------------------------------------------------------------------------

def test_server_behind_the_client_refuses_the_session(ensemble_factory, kz):
    ens = ensemble_factory(3)
    leader = ens.leader()
    f = ens.followers()[0]
    c = kz(ens.hosts(leader))
    c.create("/z", b"")
    c.sync("/z")
    assert wait_until(lambda: zxids_equal(ens, ens.ids), 10)
    zxid = ens[f].zxid()
    sessions_before = ens[leader].mntr()["zk_global_sessions"]

    # a client that has seen a zxid the server does not have: no ConnectResponse, closed
    for sid in (f, leader):
        with pytest.raises(zkraw.ConnectionClosed):
            RawSession(ens[sid].client_port, last_zxid=zxid + (1 << 32) + 100)
    assert ens[leader].mntr()["zk_global_sessions"] == sessions_before
    # up to the server's own zxid is fine
    with RawSession(ens[f].client_port, last_zxid=zxid) as ok:
        assert ok.session_id != 0
        assert ok.exists("/z").err == 0


# -- 12 --------------------------------------------------------------------------------------

def test_read_only_mode_without_quorum(ensemble_factory, kz):
    """With read-only mode on (Apache: -Dreadonlymode.enabled=true; zkserver: the same key in
    zoo.cfg), a server cut off from the quorum serves reads to clients that asked for a
    read-only session, refuses their writes with NotReadOnly, and still refuses other clients."""
    NOT_READ_ONLY = -119

    # Apache 3.8's read-only server answers a new session with NotReadOnly unless local sessions
    # are on; zkserver's read-only sessions are always local, so it ignores the key.
    ens = ensemble_factory(3, extra={"readonlymode.enabled": "true", "localSessionsEnabled": "true"})
    leader = ens.leader()
    follower, survivor = sorted(ens.followers())
    w = kz(ens.hosts(leader))
    w.create("/ro", b"before the split")
    s = kz(ens.hosts(survivor))
    s.sync("/ro")
    assert s.get("/ro")[0] == b"before the split"
    s.stop()

    ens.kill(leader)
    ens.kill(follower)

    def read_only_session():
        try:
            return RawSession(ens[survivor].client_port, timeout_ms=4000, read_only=True)
        except (OSError, zkraw.ConnectionClosed):
            return None

    # (kazoo 2.11 cannot parse Apache 3.8's read-only connect reply, so this is the raw protocol)
    assert wait_until(lambda: (ro := read_only_session()) is not None and ro.close() is None, 30)
    ro = read_only_session()
    try:
        assert ro.connect_reply.read_only is True
        assert ro.session_id != 0
        r = ro.get_data("/ro")
        assert r.err == 0 and b"before the split" in r.body.data
        assert ro.get_children("/").err == 0
        assert ro.create("/ro/write", b"").err == NOT_READ_ONLY
        assert ro.set_data("/ro", b"x").err == NOT_READ_ONLY
        assert ro.get_data("/ro").err == 0   # the session goes on after a refused write
    finally:
        ro.close()
    assert "read-only" in (ens[survivor].four_letter("srvr") or "")
    # a client that did not ask for read-only gets no session
    with pytest.raises(zkraw.ConnectionClosed):
        RawSession(ens[survivor].client_port)
