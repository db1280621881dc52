"""Protocol robustness over raw sockets, as Apache 3.8 behaves."""

import os
import socket
import struct
import time

import zkraw
from zkraw import RawSession, frame, i32

JUTE_MAXBUFFER = 0xFFFFF


def raw_socket(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_peer(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_connect_with_read_only_byte_gets_it_back(zk_server):
    s = RawSession(zk_server.port, read_only=False)
    # protocolVersion, timeOut, sessionId, passwd(4+16), readOnly
    assert len(s.connect_reply.raw) == 4 + 4 + 8 + 4 + 16 + 1
    assert s.connect_reply.read_only is False
    s.close_session()
    s.close()


def test_connect_without_read_only_byte_gets_reply_without_it(zk_server):
    s = RawSession(zk_server.port, read_only=None)
    assert len(s.connect_reply.raw) == 4 + 4 + 8 + 4 + 16
    assert s.connect_reply.read_only is None
    assert s.exists("/").err == 0
    s.close_session()
    s.close()


def test_expired_answer_without_read_only_byte(zk_server):
    s = RawSession(zk_server.port, session_id=0x7777, read_only=None)
    assert s.connect_reply.raw == b"\0" * (4 + 4 + 8) + i32(16) + b"\0" * 16
    assert s.is_closed()
    s.close()


def test_bogus_session_gets_expired_answer(zk_server):
    s = RawSession(zk_server.port, session_id=0x4242424242, passwd=os.urandom(16))
    assert s.connect_reply.raw == b"\0" * (4 + 4 + 8) + i32(16) + b"\0" * 16 + b"\0"
    assert s.is_closed()
    s.close()


def test_pipelined_requests_before_connect_reply(zk_server, unique):
    sock = raw_socket(zk_server.port)
    batch = frame(zkraw.connect_req())
    batch += frame(i32(1) + i32(zkraw.CREATE) + zkraw.create_req(unique, b"p"))
    batch += frame(i32(2) + i32(zkraw.GET_DATA) + zkraw.path_watch_req(unique))
    batch += frame(i32(3) + i32(zkraw.EXISTS) + zkraw.path_watch_req(unique + "/no"))
    batch += frame(i32(4) + i32(zkraw.SET_DATA) + zkraw.ustr(unique) + zkraw.buf(b"q") + i32(0))
    batch += frame(i32(5) + i32(zkraw.GET_DATA) + zkraw.path_watch_req(unique))
    sock.sendall(batch)
    s = RawSession.__new__(RawSession)
    s.sock, s.xid, s.events, s.last_zxid = sock, 5, [], 0
    s.connect_reply = zkraw.parse_connect_reply(s.read_frame())
    assert s.connect_reply.session_id != 0
    replies = [s.read_reply() for _ in range(5)]
    assert [r.xid for r in replies] == [1, 2, 3, 4, 5]
    assert [r.err for r in replies] == [0, 0, zkraw.NO_NODE, 0, 0]
    assert replies[1].body.buf() == b"p"
    assert replies[4].body.buf() == b"q"
    # zxids never go backwards along the session
    zxids = [r.zxid for r in replies]
    assert zxids == sorted(zxids)
    s.close_session()
    s.close()


def test_many_pipelined_requests_keep_order(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        data = b""
        for i in range(1, 201):
            if i % 3 == 0:
                data += frame(i32(100 + i) + i32(zkraw.SET_DATA) + zkraw.ustr(unique) + zkraw.buf(b"%d" % i)
                              + i32(-1))
            else:
                data += frame(i32(100 + i) + i32(zkraw.GET_DATA) + zkraw.path_watch_req(unique))
        s.send_raw(data)
        xids = [s.read_reply().xid for _ in range(200)]
        assert xids == [100 + i for i in range(1, 201)]


def test_oversized_frame_closes_only_that_connection(zk_server):
    with RawSession(zk_server.port) as other:
        victim = RawSession(zk_server.port)
        victim.send_raw(i32(JUTE_MAXBUFFER + 1) + b"\0" * 64)
        assert victim.is_closed()
        victim.close()
        assert other.exists("/").err == 0
        # the session of the closed connection survives and can be resumed
        again = RawSession(zk_server.port, session_id=victim.session_id, passwd=victim.passwd)
        assert again.session_id == victim.session_id
        again.close_session()
        again.close()


def test_oversized_first_frame_closes(zk_server):
    with RawSession(zk_server.port) as other:
        sock = raw_socket(zk_server.port)
        sock.sendall(i32(0x7FFFFFFF) + b"\0" * 16)
        assert closed_by_peer(sock)
        sock.close()
        assert other.exists("/").err == 0


def test_negative_length_closes(zk_server):
    with RawSession(zk_server.port) as other:
        victim = RawSession(zk_server.port)
        victim.send_raw(i32(-5) + b"\0" * 8)
        assert victim.is_closed()
        victim.close()
        sock = raw_socket(zk_server.port)
        sock.sendall(i32(-1))
        assert closed_by_peer(sock)
        sock.close()
        assert other.exists("/").err == 0


def test_garbage_bytes(zk_server):
    with RawSession(zk_server.port) as other:
        # a short, malformed connect request
        sock = raw_socket(zk_server.port)
        sock.sendall(i32(5) + b"hello")
        assert closed_by_peer(sock)
        sock.close()
        # random bytes after a good connect: either a reply to nonsense or a close, never a hang
        victim = RawSession(zk_server.port)
        victim.send_raw(i32(12) + os.urandom(12))
        try:
            victim.read_reply(timeout=5)
        except (zkraw.ConnectionClosed, ConnectionResetError):
            pass
        victim.close()
        assert other.exists("/").err == 0


def test_truncated_request_body(zk_server):
    """A frame whose record is shorter than its opcode needs: Apache answers MarshallingError
    (-5) for that xid and keeps the connection and session."""
    with RawSession(zk_server.port) as s:
        s.send(zkraw.GET_DATA, i32(100) + b"/short")
        r = s.read_reply()
        assert (r.xid, r.err, r.body.remaining()) == (s.xid, zkraw.MARSHALLING_ERROR, 0)
        assert r.zxid > 0
        assert s.exists("/").err == 0


def test_unknown_opcode(zk_server):
    """Apache answers an unknown opcode with Unimplemented (-6), zxid -1, then closes."""
    with RawSession(zk_server.port) as other:
        s = RawSession(zk_server.port)
        s.send(77)
        r = s.read_reply()
        assert (r.xid, r.zxid, r.err, r.body.remaining()) == (1, -1, zkraw.UNIMPLEMENTED, 0)
        assert s.is_closed()
        s.close()
        assert other.exists("/").err == 0
        again = RawSession(zk_server.port, session_id=s.session_id, passwd=s.passwd)
        assert again.session_id == s.session_id
        again.close_session()
        again.close()


def test_invalid_utf8_path(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        bad = unique.encode() + b"/\xff\xfe"
        assert s.create(bad).err == zkraw.BAD_ARGUMENTS
        assert s.get_data(bad).err == zkraw.NO_NODE
        assert s.exists("/").err == 0


def test_request_before_connect(zk_server):
    """A normal request as the first frame is parsed as a (bad) connect request: closed."""
    with RawSession(zk_server.port) as other:
        sock = raw_socket(zk_server.port)
        sock.sendall(frame(i32(1) + i32(zkraw.EXISTS) + zkraw.path_watch_req("/")))
        assert closed_by_peer(sock)
        sock.close()
        assert other.exists("/").err == 0


def test_two_thousand_malformed_connections(zk_server):
    with RawSession(zk_server.port) as other:
        assert other.exists("/").err == 0
        time.sleep(0.5)
        before = zk_server.fd_count()
        payloads = [b"", i32(-1), i32(0x7FFFFFFF), i32(5) + b"hello", b"\xde\xad\xbe\xef" * 4, i32(3) + b"ab"]
        for i in range(2000):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.connect(("127.0.0.1", zk_server.port))
            p = payloads[i % len(payloads)]
            if p:
                try:
                    sock.sendall(p)
                except OSError:
                    pass
            sock.close()
            if i % 500 == 499:
                # keep the watching session alive meanwhile
                assert other.exists("/").err == 0
        assert other.exists("/").err == 0
        with RawSession(zk_server.port) as fresh:
            assert fresh.exists("/").err == 0
        deadline = time.monotonic() + 15
        after = zk_server.fd_count()
        while after > before + 10 and time.monotonic() < deadline:
            time.sleep(0.2)
            after = zk_server.fd_count()
        assert after <= before + 10, (before, after)


def test_ping_and_auth_replies(zk_server):
    with RawSession(zk_server.port) as s:
        assert s.create("/ping-probe").err == 0
        zxid = s.last_zxid
        s.send(zkraw.PING, xid=-2)
        r = s.read_reply()
        # ping: xid -2, the server's last zxid, no body
        assert (r.xid, r.zxid, r.err, r.body.remaining()) == (-2, zxid, 0, 0)
        r = s.add_auth("digest", b"user:pw")
        # auth: xid -4, zxid 0, no body
        assert (r.xid, r.zxid, r.err, r.body.remaining()) == (-4, 0, 0, 0)
        # reads carry the last zxid too
        assert s.exists("/").zxid == zxid
        assert s.delete("/ping-probe").err == 0


def test_auth_pipelined_before_connect_reply(zk_server):
    """The Java client sends auth packets right behind the connect request."""
    sock = raw_socket(zk_server.port)
    sock.sendall(frame(zkraw.connect_req()) + frame(i32(-4) + i32(zkraw.AUTH) + i32(0) + zkraw.ustr("digest")
                                                   + zkraw.buf(b"pipe:pw")) + frame(i32(1) + i32(zkraw.WHO_AM_I)))
    s = RawSession.__new__(RawSession)
    s.sock, s.xid, s.events, s.last_zxid = sock, 1, [], 0
    s.connect_reply = zkraw.parse_connect_reply(s.read_frame())
    r = s.read_reply()
    assert (r.xid, r.err) == (-4, 0)
    r = s.read_reply()
    assert (r.xid, r.err) == (1, 0)
    n = r.body.i32()
    assert sorted((r.body.ustr(), r.body.ustr()) for _ in range(n)) == [("digest", "pipe"), ("ip", "127.0.0.1")]
    s.close_session()
    s.close()


RECONFIG = 16


def _reconfig_body(joining: str | None = "server.2=127.0.0.1:2888:3888;2182") -> bytes:
    return zkraw.ustr(joining) + zkraw.ustr(None) + zkraw.ustr(None) + zkraw.i64(-1)


def test_reconfig_on_a_standalone_server(zk_server_factory):
    """A standalone server refuses reconfig: disabled by default; with reconfigEnabled=true it is
    still not an ensemble. The codes are what Apache 3.8 answers."""
    off = zk_server_factory(name="reconfig-off")
    with RawSession(off.port) as s:
        r = s.call(RECONFIG, _reconfig_body())
        assert (r.err, r.body.remaining()) == (RECONFIG_DISABLED_EXPECTED, 0)
        assert s.exists("/").err == 0
    on = zk_server_factory({"reconfigEnabled": "true", "skipACL": "yes"}, name="reconfig-on")
    with RawSession(on.port) as s:
        r = s.call(RECONFIG, _reconfig_body())
        assert r.err == RECONFIG_ENABLED_STANDALONE_EXPECTED
        assert s.exists("/").err == 0

# Filled in from Apache 3.8.0's answers (see the test above).
RECONFIG_DISABLED_EXPECTED = -123
RECONFIG_ENABLED_STANDALONE_EXPECTED = -6
