"""Sessions: timeout negotiation, resuming, passwords, ids."""

import pytest
from kazoo.client import KazooClient

import zkraw
from zkraw import RawSession


@pytest.mark.parametrize("asked,granted", [(1, 4000), (1000, 4000), (3999, 4000), (4000, 4000), (10000, 10000),
                                           (40000, 40000), (40001, 40000), (100000, 40000)])
def test_timeout_clamped_to_2_and_20_ticks(zk_server, asked, granted):
    with RawSession(zk_server.port, timeout_ms=asked) as s:
        assert s.connect_reply.timeout == granted
        assert s.connect_reply.protocol == 0
        assert len(s.passwd) == 16
        assert s.connect_reply.read_only is False


def test_min_max_session_timeout_keys(zk_server_factory):
    server = zk_server_factory({"minSessionTimeout": "3000", "maxSessionTimeout": "6000"}, name="minmax")
    for asked, granted in ((1000, 3000), (5000, 5000), (60000, 6000)):
        with RawSession(server.port, timeout_ms=asked) as s:
            assert s.connect_reply.timeout == granted


def test_session_ids_count_up_with_standalone_high_byte_one(zk_server):
    with RawSession(zk_server.port) as a, RawSession(zk_server.port) as b:
        assert a.session_id != b.session_id
        # Apache's standalone server puts 1 in the top byte (ZooKeeperServer's
        # createSessionTrackerServerId = 1), the start time in the next bytes, and counts up.
        assert a.session_id >> 56 == 1
        assert b.session_id == a.session_id + 1


def test_kazoo_resume_by_client_id_keeps_ephemerals(zk_server, unique):
    first = RawSession(zk_server.port, timeout_ms=10000)
    assert first.create(unique, b"mine", flags=zkraw.EPHEMERAL).err == 0
    sid, pwd = first.session_id, first.passwd
    first.close()  # abandon the connection without closing the session
    second = KazooClient(hosts=zk_server.hosts, timeout=10, client_id=(sid, pwd))
    try:
        second.start(timeout=15)
        assert second.client_id[0] == sid
        data, stat = second.get(unique)
        assert data == b"mine" and stat.ephemeralOwner == sid
    finally:
        second.stop()
        second.close()
    # kazoo's stop() closed the session: the ephemeral is gone
    with RawSession(zk_server.port) as s:
        assert s.exists(unique).err == zkraw.NO_NODE


def test_wrong_password_is_expired_and_closes_old_connection(zk_server, unique):
    owner = RawSession(zk_server.port, timeout_ms=10000)
    try:
        assert owner.create(unique, flags=zkraw.EPHEMERAL).err == 0
        bad = RawSession(zk_server.port, session_id=owner.session_id, passwd=b"x" * 16)
        # the expired answer: timeout 0, session 0, 16 zero bytes, then close
        assert (bad.connect_reply.timeout, bad.connect_reply.session_id) == (0, 0)
        assert bad.connect_reply.passwd == b"\0" * 16
        assert bad.is_closed()
        bad.close()
        # Surprise (Apache 3.8.0): the attempt closes the session's current connection too
        # (processConnectRequest drops it before checking the password) ...
        assert owner.is_closed(timeout=3)
        # ... but the session lives on: the right password resumes it with its ephemeral.
        good = RawSession(zk_server.port, timeout_ms=10000, session_id=owner.session_id, passwd=owner.passwd)
        assert good.session_id == owner.session_id
        assert good.connect_reply.timeout == 10000
        r = good.exists(unique)
        assert r.err == 0 and r.body.stat().ephemeralOwner == owner.session_id
        good.close_session()
        good.close()
    finally:
        owner.close()


def test_unknown_session_id_is_expired(zk_server):
    s = RawSession(zk_server.port, session_id=0x0123456789, passwd=b"\0" * 16)
    assert (s.connect_reply.timeout, s.connect_reply.session_id, s.connect_reply.passwd) == (0, 0, b"\0" * 16)
    assert s.connect_reply.read_only is False
    assert s.is_closed()
    s.close()


def test_requests_after_close_session(zk_server):
    s = RawSession(zk_server.port)
    r = s.close_session()
    assert r.err == 0
    assert s.is_closed()
    s.close()
    # a closed session cannot be resumed
    again = RawSession(zk_server.port, session_id=s.session_id, passwd=s.passwd)
    assert again.connect_reply.session_id == 0
    again.close()


def test_client_ahead_of_server_is_refused(zk_server):
    """A client whose lastZxidSeen is beyond the server's is dropped without a session."""
    s = RawSession(zk_server.port, connect=False)
    s.send_raw(zkraw.frame(zkraw.connect_req(last_zxid=1 << 40)))
    assert s.is_closed()
    s.close()


def test_session_takeover_close_and_kazoo_lost(zk_server, unique):
    """Another connection resumes kazoo's session (same id and password) and closes it:
    Apache drops kazoo's connection, deletes the ephemerals, and kazoo's own reconnect gets
    the expired answer, so kazoo reports LOST and starts a new session."""
    import time

    from kazoo.protocol.states import KazooState

    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    states = []
    client.add_listener(states.append)
    client.start(timeout=15)
    try:
        client.create(unique, ephemeral=True)
        sid, pwd = client.client_id
        thief = RawSession(zk_server.port, session_id=sid, passwd=pwd)
        assert thief.session_id == sid
        r = thief.exists(unique)
        assert r.err == 0 and r.body.stat().ephemeralOwner == sid
        assert thief.close_session().err == 0
        thief.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (KazooState.LOST in states and client.connected):
            time.sleep(0.05)
        assert KazooState.LOST in states
        assert client.connected and client.client_id[0] != sid
        assert client.exists(unique) is None
    finally:
        client.stop()
        client.close()
