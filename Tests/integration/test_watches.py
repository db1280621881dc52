"""Watches: one-shot, persistent, recursive, removal, SetWatches after reconnect, expiry."""

import threading
import time

from kazoo.protocol.states import EventType

import zkraw
from zkraw import (CHILD_WATCH_REMOVED, NODE_CHILDREN_CHANGED, NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED,
                   Event, RawSession)

SYNC_CONNECTED = 3


class Collector:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait(self, n=1, timeout=10):
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= n, timeout)
            return list(self.events)


def test_kazoo_data_watch_fires_once(zk, kazoo_factory, unique):
    other = kazoo_factory()
    zk.create(unique, b"a")
    got = Collector()
    zk.get(unique, watch=got)
    other.set(unique, b"b")
    events = got.wait(1)
    assert [(e.type, e.path) for e in events] == [(EventType.CHANGED, unique)]
    other.set(unique, b"c")
    time.sleep(0.5)
    assert len(got.events) == 1  # one-shot


def test_kazoo_exists_and_child_watches(zk, kazoo_factory, unique):
    other = kazoo_factory()
    created = Collector()
    assert zk.exists(unique, watch=created) is None
    other.create(unique)
    assert [(e.type, e.path) for e in created.wait(1)] == [(EventType.CREATED, unique)]

    children = Collector()
    zk.get_children(unique, watch=children)
    other.create(unique + "/c")
    assert [(e.type, e.path) for e in children.wait(1)] == [(EventType.CHILD, unique)]

    deleted = Collector()
    zk.exists(unique + "/c", watch=deleted)
    other.delete(unique + "/c")
    assert [(e.type, e.path) for e in deleted.wait(1)] == [(EventType.DELETED, unique + "/c")]


def test_raw_event_types_and_state(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert b.create(unique).err == 0
        assert a.get_data(unique, watch=True).err == 0
        assert a.get_children(unique, watch=True).err == 0
        assert a.exists(unique + "/k", watch=True).err == zkraw.NO_NODE
        assert b.create(unique + "/k").err == 0
        got = {(e.type, e.path) for e in (a.wait_event(), a.wait_event())}
        assert got == {(NODE_CREATED, unique + "/k"), (NODE_CHILDREN_CHANGED, unique)}
        assert a.get_data(unique + "/k", watch=True).err == 0
        assert b.set_data(unique + "/k", b"x").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique + "/k")
        # a deleted node fires its data watch and its parent's child watch
        assert a.get_data(unique + "/k", watch=True).err == 0
        assert a.get_children(unique, watch=True).err == 0
        assert b.delete(unique + "/k").err == 0
        got = {(e.type, e.path) for e in (a.wait_event(), a.wait_event())}
        assert got == {(NODE_DELETED, unique + "/k"), (NODE_CHILDREN_CHANGED, unique)}
        assert a.no_event(0.5)


def test_same_watch_registered_twice_fires_once(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert b.create(unique).err == 0
        assert a.get_data(unique, watch=True).err == 0
        assert a.exists(unique, watch=True).err == 0
        assert b.set_data(unique, b"1").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert a.no_event(0.5)


def test_persistent_watch(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert b.create(unique).err == 0
        assert a.add_watch(unique, 0).err == 0
        assert b.set_data(unique, b"1").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert b.set_data(unique, b"2").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert b.create(unique + "/c").err == 0
        assert a.wait_event() == Event(NODE_CHILDREN_CHANGED, SYNC_CONNECTED, unique)
        assert b.create(unique + "/c/d").err == 0  # grandchildren are not watched
        assert a.no_event(0.5)
        # checkWatches sees a persistent watch under every type
        assert a.check_watches(unique, 1).err == 0
        assert a.check_watches(unique, 2).err == 0
        assert a.check_watches(unique, 3).err == 0
        # removal is silent on the wire (the client library makes its own local event)
        assert a.remove_watches(unique, 3).err == 0
        assert a.no_event(0.5)
        assert b.set_data(unique, b"3").err == 0
        assert a.no_event(0.5)


def test_persistent_watch_on_missing_node(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert a.add_watch(unique, 0).err == 0
        assert b.create(unique).err == 0
        assert a.wait_event() == Event(NODE_CREATED, SYNC_CONNECTED, unique)
        assert b.delete(unique).err == 0
        assert a.wait_event() == Event(NODE_DELETED, SYNC_CONNECTED, unique)
        assert b.create(unique).err == 0  # still registered after the delete
        assert a.wait_event() == Event(NODE_CREATED, SYNC_CONNECTED, unique)


def test_persistent_recursive_watch(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert b.create(unique).err == 0
        assert a.add_watch(unique, 1).err == 0
        assert b.create(unique + "/c").err == 0
        assert a.wait_event() == Event(NODE_CREATED, SYNC_CONNECTED, unique + "/c")
        assert b.create(unique + "/c/e").err == 0
        assert a.wait_event() == Event(NODE_CREATED, SYNC_CONNECTED, unique + "/c/e")
        assert b.set_data(unique + "/c/e", b"x").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique + "/c/e")
        assert b.delete(unique + "/c/e").err == 0
        # recursive watches never send NodeChildrenChanged
        assert a.wait_event() == Event(NODE_DELETED, SYNC_CONNECTED, unique + "/c/e")
        assert a.no_event(0.5)
        assert b.set_data(unique, b"root").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)


def test_add_watch_bad_mode(zk_server, unique):
    with RawSession(zk_server.port) as a:
        # Apache answers an unknown AddWatch mode with MarshallingError and keeps the session
        assert a.add_watch(unique, 7).err == zkraw.MARSHALLING_ERROR
        assert a.exists("/").err == 0


def test_remove_and_check_watches(zk_server, unique):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert b.create(unique).err == 0
        assert a.check_watches(unique, 3).err == zkraw.NO_WATCHER
        assert a.exists(unique, watch=True).err == 0
        assert a.check_watches(unique, 2).err == 0
        assert a.check_watches(unique, 1).err == zkraw.NO_WATCHER
        assert a.remove_watches(unique, 2).err == 0
        assert a.remove_watches(unique, 2).err == zkraw.NO_WATCHER
        assert a.remove_watches(unique, 1).err == zkraw.NO_WATCHER
        assert a.get_children(unique, watch=True).err == 0
        assert a.check_watches(unique, 1).err == 0
        assert a.check_watches(unique, 2).err == zkraw.NO_WATCHER
        assert a.remove_watches(unique, 3).err == 0
        assert a.no_event(0.5)  # no wire event for a removed watch
        assert b.create(unique + "/x").err == 0
        assert b.set_data(unique, b"1").err == 0
        assert a.no_event(0.5)
        assert CHILD_WATCH_REMOVED == 6  # (the type a client library reports locally)


def test_set_watches_after_reconnect(zk_server, unique):
    """A client that reconnects re-registers its watches with SetWatches (xid -8)."""
    with RawSession(zk_server.port) as b:
        a = RawSession(zk_server.port, timeout_ms=10000)
        for n in ("1", "2", "3", "4"):
            assert a.create(unique + n).err == 0
        sid, pwd, zxid = a.session_id, a.passwd, a.last_zxid
        a.close()  # drop the TCP connection, keep the session
        assert b.set_data(unique + "2", b"changed").err == 0
        assert b.delete(unique + "3").err == 0
        a = RawSession(zk_server.port, timeout_ms=10000, session_id=sid, passwd=pwd, last_zxid=zxid)
        try:
            assert a.session_id == sid and a.connect_reply.timeout == 10000
            r = a.set_watches(zxid, data=[unique + "1", unique + "2", unique + "3"], exist=[unique + "5"],
                              child=[unique + "4"])
            # Apache answers SetWatches with xid -8, err 0 and no body; changes after
            # relativeZxid fire at once, in the order data, exist, child.
            assert (r.xid, r.err, r.body.remaining()) == (-8, 0, 0)
            assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique + "2")
            assert a.wait_event() == Event(NODE_DELETED, SYNC_CONNECTED, unique + "3")
            assert a.no_event(0.5)
            assert b.set_data(unique + "1", b"x").err == 0
            assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique + "1")
            assert b.create(unique + "5").err == 0
            assert a.wait_event() == Event(NODE_CREATED, SYNC_CONNECTED, unique + "5")
            assert b.create(unique + "4/k").err == 0
            assert a.wait_event() == Event(NODE_CHILDREN_CHANGED, SYNC_CONNECTED, unique + "4")
        finally:
            a.close_session()
            a.close()


def test_set_watches2_persistent(zk_server, unique):
    with RawSession(zk_server.port) as b, RawSession(zk_server.port) as a:
        assert b.create(unique).err == 0
        r = a.set_watches2(a.last_zxid or b.last_zxid, persistent=[unique], recursive=[unique + "/r"])
        assert (r.xid, r.err) == (-8, 0)
        assert b.set_data(unique, b"1").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert b.set_data(unique, b"2").err == 0
        assert a.wait_event() == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert b.create(unique + "/r").err == 0
        got = {(e.type, e.path) for e in (a.wait_event(), a.wait_event())}
        assert got == {(NODE_CHILDREN_CHANGED, unique), (NODE_CREATED, unique + "/r")}


def test_kazoo_reconnect_keeps_session_and_watch(zk_server, kazoo_factory, unique):
    """kazoo 2.11 itself resends no SetWatches, but its session survives a dropped socket."""
    zk = kazoo_factory()
    other = kazoo_factory()
    zk.create(unique, ephemeral=True)
    sid = zk.client_id[0]
    got = Collector()
    zk.get(unique, watch=got)
    # drop the socket under kazoo: it reconnects with the same session id and password
    zk._connection._socket.shutdown(2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (zk.connected and zk.client_id[0] == sid):
        time.sleep(0.1)
    time.sleep(0.5)
    assert zk.connected and zk.client_id[0] == sid
    assert zk.exists(unique).ephemeralOwner == sid
    other.set(unique, b"x")
    # the server dropped the watch with the old connection; kazoo did not re-register it
    time.sleep(1.0)
    data_events = [e for e in got.events if e.type == EventType.CHANGED]
    assert data_events == []


def test_session_expiry_deletes_ephemerals_and_fires(zk_server, unique):
    with RawSession(zk_server.port) as watcher:
        e = RawSession(zk_server.port, timeout_ms=4000)
        assert e.connect_reply.timeout == 4000
        assert e.create(unique + "-eph", flags=zkraw.EPHEMERAL).err == 0
        assert e.create(unique + "-seq-", flags=zkraw.EPHEMERAL_SEQUENTIAL).err == 0
        assert watcher.exists(unique + "-eph", watch=True).err == 0
        start = time.monotonic()
        e.close()  # no closeSession: the server must expire it
        ev = watcher.wait_event(timeout=20)
        elapsed = time.monotonic() - start
        assert ev == Event(NODE_DELETED, SYNC_CONNECTED, unique + "-eph")
        assert 3.0 <= elapsed <= 12.0
        r = watcher.get_ephemerals(unique)
        assert r.err == 0 and r.body.str_vec() == []
        # the expired session cannot be resumed
        late = RawSession(zk_server.port, session_id=e.session_id, passwd=e.passwd)
        assert (late.connect_reply.timeout, late.connect_reply.session_id) == (0, 0)
        assert late.is_closed()
        late.close()


def test_close_session_deletes_ephemerals_at_once(zk_server, unique):
    with RawSession(zk_server.port) as watcher:
        e = RawSession(zk_server.port)
        assert e.create(unique, flags=zkraw.EPHEMERAL).err == 0
        assert watcher.exists(unique, watch=True).err == 0
        r = e.close_session()
        assert r.err == 0
        assert e.is_closed()
        assert watcher.wait_event(timeout=3) == Event(NODE_DELETED, SYNC_CONNECTED, unique)


def test_event_arrives_before_the_reply_that_caused_it(zk_server, unique):
    """A session sees the watch event before the result of its own triggering write; the
    notification's ReplyHeader carries xid -1 and zxid -1 (Apache 3.8.0)."""
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        assert s.get_data(unique, watch=True).err == 0
        xid = s.send(zkraw.SET_DATA, zkraw.ustr(unique) + zkraw.buf(b"z") + zkraw.i32(-1))
        first, second = s.read_reply(), s.read_reply()
        assert (first.xid, first.zxid, first.err) == (-1, -1, 0)
        assert s._event(first) == Event(NODE_DATA_CHANGED, SYNC_CONNECTED, unique)
        assert (second.xid, second.err) == (xid, 0) and second.zxid > 0


def test_multi_fires_watches(zk_server, kazoo_factory, unique):
    with RawSession(zk_server.port) as a:
        zk = kazoo_factory()
        zk.create(unique)
        assert a.get_children(unique, watch=True).err == 0
        assert a.exists(unique + "/m", watch=True).err == zkraw.NO_NODE
        t = zk.transaction()
        t.create(unique + "/m")
        t.set_data(unique, b"x")
        t.commit()
        got = {(e.type, e.path) for e in (a.wait_event(), a.wait_event())}
        assert got == {(NODE_CREATED, unique + "/m"), (NODE_CHILDREN_CHANGED, unique)}


def test_kazoo_data_and_children_watch_survive_reconnect(kazoo_factory, unique):
    """kazoo's DataWatch/ChildrenWatch re-read and re-register after SUSPENDED -> CONNECTED."""
    import socket

    a, b = kazoo_factory(), kazoo_factory()
    a.ensure_path(unique)
    data_seen, children_seen, states = [], [], []
    a.add_listener(states.append)
    a.DataWatch(unique)(lambda d, s: data_seen.append(d))
    a.ChildrenWatch(unique)(lambda c: children_seen.append(sorted(c)))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (data_seen and children_seen):
        time.sleep(0.05)
    sid = a.client_id[0]
    a._connection._socket.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (a.connected and "CONNECTED" in states):
        time.sleep(0.05)
    assert states[:2] == ["SUSPENDED", "CONNECTED"] and a.client_id[0] == sid
    time.sleep(0.5)
    b.set(unique, b"after")
    b.create(unique + "/kid")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (data_seen[-1] == b"after" and children_seen[-1] == ["kid"]):
        time.sleep(0.05)
    assert data_seen[-1] == b"after"
    assert children_seen[-1] == ["kid"]
