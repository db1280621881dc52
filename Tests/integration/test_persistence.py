"""State that outlives the process, server-side cleanup, and server limits."""

import socket
import time

import pytest
from kazoo.client import KazooClient

import zkraw
from zkraw import RawSession


from zkharness import wait_for


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_restart_keeps_tree_sessions_and_counters(zk_server_factory, how):
    server = zk_server_factory(name=f"restart-{how}")
    owner = RawSession(server.port, timeout_ms=30000)
    assert owner.create("/keep", b"data").err == 0
    assert owner.create("/keep/s-", flags=zkraw.PERSISTENT_SEQUENTIAL).err == 0
    assert owner.create("/keep/e", flags=zkraw.EPHEMERAL).err == 0
    assert owner.set_data("/keep", b"data2").err == 0
    st = owner.exists("/keep").body.stat()
    last_zxid = owner.last_zxid
    sid, pwd = owner.session_id, owner.passwd
    owner.close()
    # a crash (SIGKILL) must lose nothing that was acknowledged: Apache fsyncs before replying
    server.crash() if how == "crash" else server.stop()
    server.start()
    with RawSession(server.port) as s:
        r = s.get_data("/keep")
        assert r.err == 0 and r.body.buf() == b"data2"
        st2 = r.body.stat()
        assert (st2.czxid, st2.mzxid, st2.version, st2.cversion, st2.ctime) == (
            st.czxid, st.mzxid, st.version, st.cversion, st.ctime)
        # zxids keep growing from where they were
        r = s.create("/keep/s-", flags=zkraw.PERSISTENT_SEQUENTIAL)
        assert r.err == 0 and r.body.ustr() == "/keep/s-0000000002"
        assert r.zxid > last_zxid
        # the session was persisted: its ephemeral is still there and it can be resumed
        assert s.exists("/keep/e").body.stat().ephemeralOwner == sid
    again = RawSession(server.port, timeout_ms=30000, session_id=sid, passwd=pwd, last_zxid=last_zxid)
    assert again.session_id == sid
    assert again.close_session().err == 0
    again.close()
    with RawSession(server.port) as s:
        assert s.exists("/keep/e").err == zkraw.NO_NODE
    server.stop()


def test_restart_expires_abandoned_sessions(zk_server_factory):
    server = zk_server_factory(name="restart-expire")
    owner = RawSession(server.port, timeout_ms=4000)
    assert owner.create("/gone", flags=zkraw.EPHEMERAL).err == 0
    owner.close()
    server.stop()
    server.start()
    with RawSession(server.port) as s:
        # restored sessions get their timeout again from the restart, then expire
        assert wait_for(lambda: s.exists("/gone").err == zkraw.NO_NODE, timeout=20)


@pytest.fixture(scope="module")
def fast_containers(zk_server_factory):
    return zk_server_factory({"znode.container.checkIntervalMs": "500"}, name="containers")


def test_container_removed_after_last_child(fast_containers):
    with RawSession(fast_containers.port) as s:
        assert s.create_container("/box").err == 0
        assert s.create("/box/item").err == 0
        time.sleep(1.5)
        assert s.exists("/box").err == 0  # has a child: kept
        assert s.delete("/box/item").err == 0
        assert wait_for(lambda: s.exists("/box").err == zkraw.NO_NODE, timeout=10)


def test_container_that_never_had_children_is_kept(fast_containers):
    with RawSession(fast_containers.port) as s:
        assert s.create_container("/empty-box").err == 0
        time.sleep(2)
        # maxNeverUsedIntervalMs defaults to 0: never-used containers stay
        assert s.exists("/empty-box").err == 0


def test_ttl_node_expires(fast_containers):
    with RawSession(fast_containers.port) as s:
        assert s.create_ttl("/ttl-short", ttl=1000).err == 0
        assert s.create_ttl("/ttl-kept", ttl=1000).err == 0
        assert s.create("/ttl-kept/child").err == 0
        assert s.exists("/ttl-short").err == 0
        assert wait_for(lambda: s.exists("/ttl-short").err == zkraw.NO_NODE, timeout=10)
        # a TTL node with children is not removed
        assert s.exists("/ttl-kept").err == 0


def test_max_frame_is_jute_maxbuffer(zk_server_factory):
    server = zk_server_factory(name="maxbuffer")
    with RawSession(server.port) as s:
        assert s.create("/big").err == 0
        # setData frame: xid 4 + type 4 + path (4+4) + data (4+n) + version 4 = n + 24 bytes
        n = 0xFFFFF - 24
        r = s.set_data("/big", b"x" * n)
        assert r.err == 0 and r.body.stat().dataLength == n
        r = s.get_data("/big")
        assert len(r.body.buf()) == n  # replies are not limited
    victim = RawSession(server.port)
    with pytest.raises((zkraw.ConnectionClosed, ConnectionResetError, BrokenPipeError)):
        victim.set_data("/big", b"x" * (n + 1))
    victim.close()


def test_max_client_cnxns_per_ip(zk_server_factory):
    server = zk_server_factory({"maxClientCnxns": "2"}, name="maxcnxns")
    a = RawSession(server.port)
    b = RawSession(server.port)
    # the third connection from the same address is closed at accept, before reading anything
    # (the close can race the connect itself: Apache may reset it before connect() returns)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.settimeout(5)
        try:
            sock.sendall(b"srvr")
            assert sock.recv(100) == b""
        finally:
            sock.close()
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert a.exists("/").err == 0 and b.exists("/").err == 0
    a.close_session()
    a.close()
    # the freed slot is reusable once the server has finished closing (asynchronously)
    c = None
    deadline = time.monotonic() + 10
    while c is None and time.monotonic() < deadline:
        try:
            c = RawSession(server.port)
        except (zkraw.ConnectionClosed, ConnectionResetError, BrokenPipeError):
            time.sleep(0.2)
    assert c is not None and c.exists("/").err == 0
    c.close_session()
    c.close()
    b.close_session()
    b.close()


def test_super_digest_from_zoo_cfg_only(zk_server_factory, target):
    """The superDigest written only as a zoo.cfg key (no JVM flag) is honoured too."""
    from kazoo.security import make_digest_acl, make_digest_acl_credential

    import zkharness

    saved = dict(zkharness.JVM_PROPERTY_KEYS)
    zkharness.JVM_PROPERTY_KEYS.pop("DigestAuthenticationProvider.superDigest")
    try:
        server = zk_server_factory(
            {"DigestAuthenticationProvider.superDigest": make_digest_acl_credential("super", "pw2")}, name="cfgsuper")
    finally:
        zkharness.JVM_PROPERTY_KEYS.clear()
        zkharness.JVM_PROPERTY_KEYS.update(saved)
    alice = KazooClient(hosts=server.hosts, auth_data=[("digest", "alice:a")])
    root = KazooClient(hosts=server.hosts, auth_data=[("digest", "super:pw2")])
    alice.start(timeout=15)
    root.start(timeout=15)
    try:
        alice.create("/private", b"p", acl=[make_digest_acl("alice", "a", read=True)])
        assert root.get("/private")[0] == b"p"
    finally:
        for c in (alice, root):
            c.stop()
            c.close()
