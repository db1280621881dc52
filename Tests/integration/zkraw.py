"""A minimal raw ZooKeeper wire-protocol client for what kazoo 2.11 cannot send.

kazoo has no TTL/container create, addWatch, removeWatches, multiRead, getEphemerals,
getAllChildrenNumber, whoAmI or SetWatches; these tests speak jute directly instead.
Everything is big-endian; frames are a 4-byte length then the record.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

# Opcodes (ZooDefs.OpCode)
CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN, SYNC = 1, 2, 3, 4, 5, 6, 7, 8, 9
PING, GET_CHILDREN2, CHECK, MULTI, CREATE2 = 11, 12, 13, 14, 15
CHECK_WATCHES, REMOVE_WATCHES, CREATE_CONTAINER, CREATE_TTL, MULTI_READ = 17, 18, 19, 21, 22
AUTH, SET_WATCHES, GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER, SET_WATCHES2, ADD_WATCH, WHO_AM_I = (
    100, 101, 103, 104, 105, 106, 107)
CLOSE_SESSION = -11

# Create modes
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6

# Event types
NODE_CREATED, NODE_DELETED, NODE_DATA_CHANGED, NODE_CHILDREN_CHANGED = 1, 2, 3, 4
DATA_WATCH_REMOVED, CHILD_WATCH_REMOVED, PERSISTENT_WATCH_REMOVED = 5, 6, 7

# Error codes
OK, BAD_ARGUMENTS, UNIMPLEMENTED, NO_NODE, NO_AUTH, BAD_VERSION = 0, -8, -6, -101, -102, -103
NO_CHILDREN_FOR_EPHEMERALS, NODE_EXISTS, NOT_EMPTY, SESSION_EXPIRED = -108, -110, -111, -112
INVALID_ACL, NO_WATCHER, MARSHALLING_ERROR, RUNTIME_INCONSISTENCY = -114, -121, -5, -2

OPEN_ACL_UNSAFE = [(31, "world", "anyone")]

STAT_FMT = ">qqqqiiiqiiq"
STAT_SIZE = struct.calcsize(STAT_FMT)


@dataclass
class Stat:
    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int
    dataLength: int
    numChildren: int
    pzxid: int


# ---- encoding -------------------------------------------------------------------------

def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def boolean(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def buf(v: bytes | None) -> bytes:
    return i32(-1) if v is None else i32(len(v)) + v


def ustr(v: str | bytes | None) -> bytes:
    if v is None:
        return i32(-1)
    return buf(v.encode() if isinstance(v, str) else v)


def acl_vec(acls) -> bytes:
    if acls is None:
        return i32(-1)
    return i32(len(acls)) + b"".join(i32(p) + ustr(s) + ustr(i) for p, s, i in acls)


def str_vec(items) -> bytes:
    return i32(len(items)) + b"".join(ustr(x) for x in items)


def create_req(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> bytes:
    return ustr(path) + buf(data) + acl_vec(acl) + i32(flags)


def create_ttl_req(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=PERSISTENT_WITH_TTL, ttl=1000) -> bytes:
    return create_req(path, data, acl, flags) + i64(ttl)


def path_watch_req(path, watch=False) -> bytes:
    return ustr(path) + boolean(watch)


# ---- decoding -------------------------------------------------------------------------

class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def i32(self) -> int:
        v = struct.unpack_from(">i", self.data, self.pos)[0]
        self.pos += 4
        return v

    def i64(self) -> int:
        v = struct.unpack_from(">q", self.data, self.pos)[0]
        self.pos += 8
        return v

    def boolean(self) -> bool:
        v = self.data[self.pos] != 0
        self.pos += 1
        return v

    def buf(self) -> bytes | None:
        n = self.i32()
        if n < 0:
            return None
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v

    def ustr(self) -> str | None:
        b = self.buf()
        return None if b is None else b.decode()

    def str_vec(self) -> list[str]:
        n = self.i32()
        return [] if n < 0 else [self.ustr() for _ in range(n)]

    def stat(self) -> Stat:
        v = struct.unpack_from(STAT_FMT, self.data, self.pos)
        self.pos += STAT_SIZE
        return Stat(*v)

    def remaining(self) -> int:
        return len(self.data) - self.pos


@dataclass
class Reply:
    xid: int
    zxid: int
    err: int
    body: Reader


@dataclass
class Event:
    type: int
    state: int
    path: str


@dataclass
class ConnectReply:
    protocol: int
    timeout: int
    session_id: int
    passwd: bytes
    read_only: bool | None  # None: the byte was absent
    raw: bytes


def connect_req(timeout=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0, read_only: bool | None = False) -> bytes:
    body = i32(0) + i64(last_zxid) + i32(timeout) + i64(session_id) + buf(passwd)
    if read_only is not None:
        body += boolean(read_only)
    return body


def frame(body: bytes) -> bytes:
    return i32(len(body)) + body


def parse_connect_reply(data: bytes) -> ConnectReply:
    r = Reader(data)
    proto, timeout, sid = r.i32(), r.i32(), r.i64()
    pwd = r.buf()
    ro = r.boolean() if r.remaining() >= 1 else None
    return ConnectReply(proto, timeout, sid, pwd, ro, data)


class ConnectionClosed(Exception):
    pass


class RawSession:
    """One connection speaking the client protocol; replies are read in order."""

    def __init__(self, port: int, timeout_ms: int = 10000, session_id: int = 0, passwd: bytes = b"\0" * 16,
                 last_zxid: int = 0, read_only: bool | None = False, connect: bool = True):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.xid = 0
        self.events: list[Event] = []
        self.last_zxid = last_zxid
        self.connect_reply: ConnectReply | None = None
        if connect:
            self.send_raw(frame(connect_req(timeout_ms, session_id, passwd, last_zxid, read_only)))
            self.connect_reply = parse_connect_reply(self.read_frame())

    @property
    def session_id(self) -> int:
        return self.connect_reply.session_id

    @property
    def passwd(self) -> bytes:
        return self.connect_reply.passwd

    # -- low level
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            d = self.sock.recv(n - len(out))
            if not d:
                raise ConnectionClosed(f"closed after {len(out)} of {n} bytes")
            out += d
        return out

    def read_frame(self, timeout: float = 10.0) -> bytes:
        self.sock.settimeout(timeout)
        n = struct.unpack(">i", self._recv_exact(4))[0]
        return self._recv_exact(n)

    def read_reply(self, timeout: float = 10.0) -> Reply:
        data = self.read_frame(timeout)
        r = Reader(data)
        xid, zxid, err = r.i32(), r.i64(), r.i32()
        if zxid > 0:
            self.last_zxid = max(self.last_zxid, zxid)
        return Reply(xid, zxid, err, r)

    def is_closed(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def next_xid(self) -> int:
        self.xid += 1
        return self.xid

    def send(self, opcode: int, body: bytes = b"", xid: int | None = None) -> int:
        xid = self.next_xid() if xid is None else xid
        self.send_raw(frame(i32(xid) + i32(opcode) + body))
        return xid

    def call(self, opcode: int, body: bytes = b"", xid: int | None = None, timeout: float = 10.0) -> Reply:
        """Send one request and return its reply, collecting notifications that arrive first."""
        xid = self.send(opcode, body, xid)
        while True:
            reply = self.read_reply(timeout)
            if reply.xid == -1:
                self.events.append(self._event(reply))
                continue
            if reply.xid == -2:
                continue
            assert reply.xid == xid, f"reply xid {reply.xid} != request xid {xid}"
            return reply

    @staticmethod
    def _event(reply: Reply) -> Event:
        return Event(reply.body.i32(), reply.body.i32(), reply.body.ustr())

    def wait_event(self, timeout: float = 10.0) -> Event:
        """Return the next notification (pinging to keep the session alive meanwhile)."""
        if self.events:
            return self.events.pop(0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = self.read_reply(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
            except socket.timeout:
                self.send(PING, xid=-2)
                continue
            if reply.xid == -1:
                return self._event(reply)
        raise TimeoutError("no watch event")

    def no_event(self, wait: float = 1.0) -> bool:
        """True if no notification arrives within `wait` seconds."""
        if self.events:
            return False
        try:
            reply = self.read_reply(timeout=wait)
        except socket.timeout:
            return True
        if reply.xid == -1:
            self.events.append(self._event(reply))
            return False
        return True

    # -- operations (each returns the Reply; helpers decode the common bodies)
    def create(self, path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> Reply:
        return self.call(CREATE, create_req(path, data, acl, flags))

    def create2(self, path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> Reply:
        return self.call(CREATE2, create_req(path, data, acl, flags))

    def create_container(self, path, data=b"", acl=OPEN_ACL_UNSAFE) -> Reply:
        return self.call(CREATE_CONTAINER, create_req(path, data, acl, CONTAINER))

    def create_ttl(self, path, data=b"", ttl=1000, flags=PERSISTENT_WITH_TTL, acl=OPEN_ACL_UNSAFE) -> Reply:
        return self.call(CREATE_TTL, create_ttl_req(path, data, acl, flags, ttl))

    def delete(self, path, version=-1) -> Reply:
        return self.call(DELETE, ustr(path) + i32(version))

    def exists(self, path, watch=False) -> Reply:
        return self.call(EXISTS, path_watch_req(path, watch))

    def get_data(self, path, watch=False) -> Reply:
        return self.call(GET_DATA, path_watch_req(path, watch))

    def set_data(self, path, data, version=-1) -> Reply:
        return self.call(SET_DATA, ustr(path) + buf(data) + i32(version))

    def get_children(self, path, watch=False) -> Reply:
        return self.call(GET_CHILDREN, path_watch_req(path, watch))

    def get_children2(self, path, watch=False) -> Reply:
        return self.call(GET_CHILDREN2, path_watch_req(path, watch))

    def add_watch(self, path, mode) -> Reply:
        return self.call(ADD_WATCH, ustr(path) + i32(mode))

    def remove_watches(self, path, wtype) -> Reply:
        return self.call(REMOVE_WATCHES, ustr(path) + i32(wtype))

    def check_watches(self, path, wtype) -> Reply:
        return self.call(CHECK_WATCHES, ustr(path) + i32(wtype))

    def get_ephemerals(self, prefix) -> Reply:
        return self.call(GET_EPHEMERALS, ustr(prefix))

    def get_all_children_number(self, path) -> Reply:
        return self.call(GET_ALL_CHILDREN_NUMBER, ustr(path))

    def who_am_i(self) -> Reply:
        return self.call(WHO_AM_I)

    def add_auth(self, scheme, auth: bytes) -> Reply:
        return self.call(AUTH, i32(0) + ustr(scheme) + buf(auth), xid=-4)

    def set_watches(self, relative_zxid, data=(), exist=(), child=()) -> Reply:
        body = i64(relative_zxid) + str_vec(list(data)) + str_vec(list(exist)) + str_vec(list(child))
        return self.call(SET_WATCHES, body, xid=-8)

    def set_watches2(self, relative_zxid, data=(), exist=(), child=(), persistent=(), recursive=()) -> Reply:
        body = (i64(relative_zxid) + str_vec(list(data)) + str_vec(list(exist)) + str_vec(list(child))
                + str_vec(list(persistent)) + str_vec(list(recursive)))
        return self.call(SET_WATCHES2, body, xid=-8)

    def multi_read(self, ops) -> Reply:
        """ops: list of (opcode, path) with opcode GET_DATA or GET_CHILDREN."""
        body = b""
        for op, path in ops:
            body += i32(op) + boolean(False) + i32(-1) + path_watch_req(path, False)
        body += i32(-1) + boolean(True) + i32(-1)
        return self.call(MULTI_READ, body)

    def close_session(self) -> Reply:
        return self.call(CLOSE_SESSION)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self.connect_reply is not None and self.connect_reply.session_id != 0:
                self.close_session()
        except Exception:
            pass
        self.close()
