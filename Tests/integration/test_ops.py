"""Every client operation, with the exact results and error classes Apache 3.8 gives."""

import time

import pytest
from kazoo.exceptions import (BadVersionError, InvalidACLError, NoChildrenForEphemeralsError,
                              NodeExistsError, NoNodeError, NotEmptyError, RolledBackError)
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_acl

import zkraw
from zkraw import RawSession

def test_special_nodes_exist(zk):
    assert set(zk.get_children("/")) >= {"zookeeper"}
    assert sorted(zk.get_children("/zookeeper")) == ["config", "quota"]
    assert zk.exists("/zookeeper/quota") is not None
    data, stat = zk.get("/zookeeper/config")
    assert data == b""  # standalone: no dynamic config
    acl, _ = zk.get_acls("/zookeeper/config")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(1, "world", "anyone")]
    # /zookeeper itself is a plain node with the open ACL
    acl, _ = zk.get_acls("/zookeeper")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "world", "anyone")]


def test_root_stat(zk):
    _, stat = zk.get("/")
    assert stat.czxid == 0 and stat.version == 0 and stat.ephemeralOwner == 0
    assert stat.numChildren >= 1


def test_create_persistent_and_stat_fields(zk, unique):
    before = int(time.time() * 1000)
    path = zk.create(unique, b"hello")
    after = int(time.time() * 1000)
    assert path == unique
    data, stat = zk.get(unique)
    assert data == b"hello"
    assert stat.czxid == stat.mzxid == stat.pzxid
    assert stat.ctime == stat.mtime
    assert before - 1000 <= stat.ctime <= after + 1000
    assert (stat.version, stat.cversion, stat.aversion) == (0, 0, 0)
    assert stat.ephemeralOwner == 0
    assert stat.dataLength == 5 and stat.numChildren == 0


def test_create2_returns_stat(zk, unique):
    path, stat = zk.create(unique, b"abc", include_data=True)
    assert path == unique
    assert stat.dataLength == 3 and stat.version == 0
    _, stat2 = zk.get(unique)
    assert stat == stat2


def test_create_ephemeral_owner_and_no_children(zk, unique):
    zk.create(unique, b"", ephemeral=True)
    _, stat = zk.get(unique)
    assert stat.ephemeralOwner == zk.client_id[0]
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(unique + "/child")


def test_sequential_suffix_is_parent_cversion(zk, unique):
    zk.create(unique)
    a = zk.create(unique + "/n-", sequence=True)
    assert a == unique + "/n-0000000000"
    zk.create(unique + "/plain")  # bumps cversion to 2
    b = zk.create(unique + "/n-", sequence=True)
    assert b == unique + "/n-0000000002"
    zk.delete(unique + "/plain")
    # Surprise (Apache 3.8.0): Apache stores cversion as the number of child creations and
    # shows clients 2*stored - numChildren (creations + deletions, DataNode.copyStat); the
    # sequential suffix is the stored count, so after a delete it lags the visible cversion.
    assert zk.get(unique)[1].cversion == 4
    c = zk.create(unique + "/", ephemeral=True, sequence=True)
    assert c == unique + "/0000000003"
    _, stat = zk.get(unique)
    assert stat.cversion == 5 and stat.numChildren == 3
    zk.create(unique + "/x")
    zk.delete(unique + "/x")
    zk.create(unique + "/y")
    zk.delete(unique + "/y")
    assert zk.get(unique)[1].cversion == 9
    assert zk.create(unique + "/n-", sequence=True) == unique + "/n-0000000006"


def test_ephemeral_sequential(zk, unique):
    zk.create(unique)
    p = zk.create(unique + "/e", ephemeral=True, sequence=True)
    assert p == unique + "/e0000000000"
    assert zk.exists(p).ephemeralOwner == zk.client_id[0]


def test_container_node(zk_server, zk, unique):
    with RawSession(zk_server.port) as s:
        r = s.create_container(unique, b"c")
        assert r.err == 0
        assert r.body.ustr() == unique
        st = r.body.stat()
        # Apache keeps Long.MIN_VALUE as the owner internally but shows clients 0
        # (DataNode.getClientEphemeralOwner hides container and TTL markers).
        assert st.ephemeralOwner == 0
        assert st.dataLength == 1
    assert zk.exists(unique).ephemeralOwner == 0
    # Apache 3.8 also accepts the container flag on a plain create (op 1) and create2 (op 15).
    with RawSession(zk_server.port) as s:
        assert s.create(unique + "-x", flags=zkraw.CONTAINER).err == 0
        assert s.create2(unique + "-y", flags=zkraw.CONTAINER).err == 0


def test_ttl_node(zk_server, zk, unique):
    with RawSession(zk_server.port) as s:
        r = s.create_ttl(unique, b"t", ttl=5000)
        assert r.err == 0
        assert r.body.ustr() == unique
        st = r.body.stat()
        # the TTL marker in ephemeralOwner is hidden from clients, like the container one
        assert st.ephemeralOwner == 0
        r = s.create_ttl(unique + "/s-", ttl=5000, flags=zkraw.PERSISTENT_SEQUENTIAL_WITH_TTL)
        assert r.err == 0 and r.body.ustr() == unique + "/s-0000000000"
        # ttl must be > 0 and the mode must be a TTL mode
        assert s.create_ttl(unique + "-bad", ttl=0).err == zkraw.BAD_ARGUMENTS
        assert s.create_ttl(unique + "-bad", ttl=1000, flags=zkraw.PERSISTENT).err == zkraw.BAD_ARGUMENTS


def test_ttl_disabled_without_extended_types(zk_server_factory, unique):
    server = zk_server_factory(drop=("extendedTypesEnabled",), name="nottl")
    with RawSession(server.port) as s:
        # Apache: "TTL Nodes disabled" -> KeeperException.UnimplementedException
        assert s.create_ttl(unique, ttl=1000).err == zkraw.UNIMPLEMENTED
        # containers do not need extended types
        assert s.create_container(unique).err == 0


def test_node_exists_and_no_node(zk, unique):
    zk.create(unique)
    with pytest.raises(NodeExistsError):
        zk.create(unique)
    with pytest.raises(NoNodeError):
        zk.create(unique + "/a/b")
    with pytest.raises(NoNodeError):
        zk.get(unique + "/missing")
    with pytest.raises(NoNodeError):
        zk.set(unique + "/missing", b"")
    with pytest.raises(NoNodeError):
        zk.delete(unique + "/missing")
    with pytest.raises(NoNodeError):
        zk.get_children(unique + "/missing")
    assert zk.exists(unique + "/missing") is None


def test_delete_with_version_and_not_empty(zk, unique):
    zk.create(unique)
    zk.create(unique + "/c")
    with pytest.raises(NotEmptyError):
        zk.delete(unique)
    zk.set(unique + "/c", b"x")
    with pytest.raises(BadVersionError):
        zk.delete(unique + "/c", version=0)
    zk.delete(unique + "/c", version=1)
    zk.delete(unique, version=0)
    assert zk.exists(unique) is None


def test_set_with_version(zk, unique):
    zk.create(unique, b"a")
    st = zk.set(unique, b"bb", version=0)
    assert st.version == 1 and st.dataLength == 2
    assert st.mzxid > st.czxid and st.mtime >= st.ctime
    with pytest.raises(BadVersionError):
        zk.set(unique, b"c", version=0)
    st = zk.set(unique, b"", version=-1)
    assert st.version == 2 and st.dataLength == 0
    assert zk.get(unique)[0] == b""


def test_null_vs_empty_data(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.call(zkraw.CREATE, zkraw.ustr(unique) + zkraw.buf(None) + zkraw.acl_vec(zkraw.OPEN_ACL_UNSAFE)
                      + zkraw.i32(0)).err == 0
        r = s.get_data(unique)
        assert r.err == 0
        # Apache stores null data and returns it as a null buffer (length -1)
        assert r.body.buf() is None
        assert r.body.stat().dataLength == 0
        # ... while empty data stays an empty (length 0) buffer
        assert s.set_data(unique, b"").err == 0
        assert s.get_data(unique).body.buf() == b""
        assert s.set_data(unique, None).err == 0
        assert s.get_data(unique).body.buf() is None


@pytest.fixture(scope="module")
def fresh_server(zk_server_factory):
    """A server no other test writes to before these ones read its built-in nodes."""
    return zk_server_factory(name="fresh")


def test_special_nodes_raw_data(fresh_server):
    with RawSession(fresh_server.port) as s:
        got = {}
        for p in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
            r = s.get_data(p)
            assert r.err == 0
            got[p] = (r.body.buf(), r.body.stat())
        assert {p: d for p, (d, _) in got.items()} == {"/": b"", "/zookeeper": b"", "/zookeeper/quota": b"",
                                                       "/zookeeper/config": b""}
        stats = {p: st for p, (_, st) in got.items()}
        for p, st in stats.items():
            assert (st.czxid, st.mzxid, st.ctime, st.mtime, st.version, st.ephemeralOwner, st.dataLength,
                    st.pzxid) == (0, 0, 0, 0, 0, 0, 0, 0), p
        # Surprise (Apache 3.8.0): visible cversion = 2*stored - numChildren, so /zookeeper shows
        # -2; /zookeeper/config starts with aversion -1
        assert (stats["/zookeeper"].cversion, stats["/zookeeper"].numChildren) == (-2, 2)
        assert (stats["/zookeeper/quota"].cversion, stats["/zookeeper/quota"].aversion) == (0, 0)
        assert (stats["/zookeeper/config"].cversion, stats["/zookeeper/config"].aversion) == (0, -1)


def test_fresh_root_counters_and_first_sequential(fresh_server):
    with RawSession(fresh_server.port) as s:
        st = s.exists("/").body.stat()
        assert (st.cversion, st.numChildren, st.pzxid) == (-1, 1, 0)
        # visible cversion = 2*creations - numChildren: -1 for "/" (stored 0, one child);
        # the first sequential child still gets the stored count, 0000000000
        r = s.create("/s-", flags=zkraw.PERSISTENT_SEQUENTIAL)
        assert r.err == 0 and r.body.ustr() == "/s-0000000000"
        assert s.exists("/").body.stat().cversion == 0
        r = s.create("/s-", flags=zkraw.PERSISTENT_SEQUENTIAL)
        assert r.err == 0 and r.body.ustr() == "/s-0000000001"
        # and under /zookeeper (cversion -2) likewise
        r = s.create("/zookeeper/q-", flags=zkraw.PERSISTENT_SEQUENTIAL)
        assert r.err == 0 and r.body.ustr() == "/zookeeper/q-0000000000"


def test_acl_get_set_aversion(zk, unique):
    zk.create(unique)
    acl, stat = zk.get_acls(unique)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "world", "anyone")]
    assert stat.aversion == 0
    st = zk.set_acls(unique, READ_ACL_UNSAFE + [make_acl("world", "anyone", write=True, admin=True)], version=0)
    assert st.aversion == 1
    with pytest.raises(BadVersionError):
        zk.set_acls(unique, OPEN_ACL_UNSAFE, version=0)
    acl, stat = zk.get_acls(unique)
    assert [(a.perms, a.id.scheme) for a in acl] == [(1, "world"), (18, "world")]
    assert stat.aversion == 1 and stat.version == 0


def test_get_children_with_stat(zk, unique):
    zk.create(unique)
    for name in ("b", "a", "c"):
        zk.create(f"{unique}/{name}")
    children, stat = zk.get_children(unique, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat.numChildren == 3 and stat.cversion == 3
    assert stat.pzxid == zk.exists(unique + "/c").czxid


def test_get_all_children_number_and_ephemerals(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        for p in ("/a", "/a/b", "/a/b/c", "/d"):
            assert s.create(unique + p).err == 0
        r = s.get_all_children_number(unique)
        assert r.err == 0 and r.body.i32() == 4
        r = s.get_all_children_number(unique + "/a/b/c")
        assert r.err == 0 and r.body.i32() == 0
        assert s.get_all_children_number(unique + "/nope").err == zkraw.NO_NODE

        assert s.create(unique + "/e1", flags=zkraw.EPHEMERAL).err == 0
        assert s.create(unique + "/a/e2", flags=zkraw.EPHEMERAL).err == 0
        r = s.get_ephemerals(unique)
        assert r.err == 0
        assert sorted(r.body.str_vec()) == sorted([unique + "/e1", unique + "/a/e2"])
        r = s.get_ephemerals("/")
        assert r.err == 0 and sorted(r.body.str_vec()) == sorted([unique + "/e1", unique + "/a/e2"])
        # prefix matching is by string, not by path component
        r = s.get_ephemerals(unique + "/e")
        assert r.err == 0 and r.body.str_vec() == [unique + "/e1"]


def test_sync(zk, unique):
    zk.create(unique)
    assert zk.sync(unique) == unique
    assert zk.sync("/") == "/"


def test_transaction_success(zk, unique):
    zk.create(unique, b"0")
    t = zk.transaction()
    t.create(unique + "/a", b"a")
    t.set_data(unique, b"1", version=0)
    t.check(unique, 1)
    t.create(unique + "/s-", sequence=True)
    t.delete(unique + "/a")
    results = t.commit()
    assert results[0] == unique + "/a"
    assert results[1].version == 1
    assert results[2] is True
    assert results[3] == unique + "/s-0000000001"
    assert results[4] is True
    assert zk.get_children(unique) == ["s-0000000001"]


def test_transaction_failure_rolls_back(zk, unique):
    zk.create(unique, b"0")
    t = zk.transaction()
    t.create(unique + "/a")
    t.set_data(unique, b"1", version=5)  # BadVersion
    t.create(unique + "/b")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], BadVersionError)
    # ops after the failing one are reported as RuntimeInconsistency (-2)
    assert type(results[2]).__name__ == "RuntimeInconsistency"
    assert zk.get_children(unique) == []
    assert zk.get(unique)[1].version == 0


def test_transaction_check_failure(zk, unique):
    zk.create(unique)
    t = zk.transaction()
    t.check(unique + "/missing", 0)
    t.create(unique + "/x")
    results = t.commit()
    assert isinstance(results[0], NoNodeError)
    assert type(results[1]).__name__ == "RuntimeInconsistency"
    assert zk.exists(unique + "/x") is None


def test_raw_multi_error_results(zk_server, unique):
    """The wire form of a failed multi: every op answers type -1 with an ErrorResponse."""
    with RawSession(zk_server.port) as s:
        body = b""
        body += zkraw.i32(zkraw.CREATE) + zkraw.boolean(False) + zkraw.i32(-1) + zkraw.create_req(unique)
        body += zkraw.i32(zkraw.CHECK) + zkraw.boolean(False) + zkraw.i32(-1) + zkraw.ustr(unique) + zkraw.i32(7)
        body += zkraw.i32(-1) + zkraw.boolean(True) + zkraw.i32(-1)
        r = s.call(zkraw.MULTI, body)
        # the reply header of a failed multi says Ok; the errors are in the per-op results
        assert r.err == 0
        heads = []
        while True:
            t, done, err = r.body.i32(), r.body.boolean(), r.body.i32()
            if done:
                break
            heads.append((t, err, r.body.i32()))
        assert heads == [(-1, 0, 0), (-1, zkraw.BAD_VERSION, zkraw.BAD_VERSION)]
        assert s.exists(unique).err == zkraw.NO_NODE


def test_multi_read(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique, b"root").err == 0
        assert s.create(unique + "/k").err == 0
        r = s.multi_read([(zkraw.GET_DATA, unique), (zkraw.GET_CHILDREN, unique), (zkraw.GET_DATA, unique + "/no")])
        assert r.err == 0  # a read multi reports per-op errors only
        t, done, err = r.body.i32(), r.body.boolean(), r.body.i32()
        assert (t, done, err) == (zkraw.GET_DATA, False, 0)
        assert r.body.buf() == b"root"
        r.body.stat()
        t, done, err = r.body.i32(), r.body.boolean(), r.body.i32()
        assert (t, done, err) == (zkraw.GET_CHILDREN, False, 0)
        assert r.body.str_vec() == ["k"]
        t, done, err = r.body.i32(), r.body.boolean(), r.body.i32()
        assert (t, done, err) == (-1, False, zkraw.NO_NODE)
        assert r.body.i32() == zkraw.NO_NODE
        t, done, err = r.body.i32(), r.body.boolean(), r.body.i32()
        assert (t, done, err) == (-1, True, -1)


def test_check_op_alone(zk_server, unique):
    # A bare check (op 13) outside a multi is answered like any request in 3.8.
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        # A bare check that succeeds gets NO reply at all from Apache 3.8.0 (the next request's
        # reply comes next); we do not assert that quirk, only the error answers.
        assert s.call(zkraw.CHECK, zkraw.ustr(unique) + zkraw.i32(3)).err == zkraw.BAD_VERSION
        assert s.call(zkraw.CHECK, zkraw.ustr(unique + "/no") + zkraw.i32(0)).err == zkraw.NO_NODE


# Apache's answers for malformed paths, op by op (all taken from Apache 3.8.0). The order of its
# checks shows through: create looks the parent up before validating the full path (so
# "/p//x" is NoNode: parent "/p/" is missing), delete only validates the parent part, reads
# and getACL do no validation at all (a plain lookup: NoNode), exists rejects only NUL, and
# sync answers Ok whatever the path. The empty path is the root for reads (DataTree maps ""
# to the root node). Columns: create, setData, delete, getData, exists, getChildren, getACL, sync.
PATH_TABLE = [
    ("", (-8, -8, -8, 0, 0, 0, 0, 0)),
    ("noslash", (-8, -8, -8, -101, -101, -101, -101, 0)),
    ("/p/", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p//x", (-101, -8, -101, -101, -101, -101, -101, 0)),
    ("//p", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/./b", (-101, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/../b", (-101, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/.", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/..", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/nul\u0000x", (-8, -8, -8, -101, -8, -101, -101, 0)),
    ("/p/\u0001ctl", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/\u007fdel", (-8, -8, -101, -101, -101, -101, -101, 0)),
    ("/p/x/", (-8, -8, -101, -101, -101, -101, -101, 0)),
    # an unpaired surrogate encoded as UTF-8 (invalid UTF-8): Java decodes it to U+FFFD
    ("/p/\ud800", (-8, -8, -101, -101, -101, -101, -101, 0)),
]


@pytest.mark.parametrize("bad,expected", PATH_TABLE, ids=[repr(p) for p, _ in PATH_TABLE])
def test_invalid_paths(zk_server, unique, bad, expected):
    # kazoo validates paths itself, so the server's answer is checked on the wire.
    # "/p" is replaced by a fresh existing node that has a child "x".
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        assert s.create(unique + "/x").err == 0
        wire = bad.replace("/p", unique, 1).encode("utf-8", "surrogatepass")
        got = (
            s.create(wire).err,
            s.set_data(wire, b"").err,
            s.delete(wire).err,
            s.get_data(wire).err,
            s.exists(wire).err,
            s.get_children(wire).err,
            s.call(zkraw.GET_ACL, zkraw.ustr(wire)).err,
            s.call(zkraw.SYNC, zkraw.ustr(wire)).err,
        )
        assert got == expected


def test_empty_path_reads_are_root(zk_server):
    with RawSession(zk_server.port) as s:
        r = s.get_children("")
        assert r.err == 0 and "zookeeper" in r.body.str_vec()


def test_sequential_trailing_slash_allowed(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique).err == 0
        r = s.create(unique + "/", flags=zkraw.PERSISTENT_SEQUENTIAL)
        assert r.err == 0 and r.body.ustr() == unique + "/0000000000"


def test_system_nodes_and_root(zk_server, unique):
    with RawSession(zk_server.port) as s:
        # deleting /zookeeper, its quota/config children or "/" is BadArguments
        for p in ("/zookeeper", "/zookeeper/config", "/zookeeper/quota", "/"):
            assert s.delete(p).err == zkraw.BAD_ARGUMENTS, p
        assert s.create("/").err == zkraw.NODE_EXISTS
        # /zookeeper/config has a read-only ACL; the others are open
        assert s.set_data("/zookeeper/config", b"x").err == zkraw.NO_AUTH
        assert s.create("/zookeeper/config/c").err == zkraw.NO_AUTH
        name = unique.lstrip("/")
        assert s.create("/zookeeper/" + name).err == 0
        assert s.delete("/zookeeper/" + name).err == 0


def test_invalid_acls(zk_server, zk, unique):
    # kazoo turns acl=[] into its default ACL, so empty lists are sent raw.
    with RawSession(zk_server.port) as s:
        assert s.create(unique, acl=[]).err == zkraw.INVALID_ACL
        assert s.create(unique, acl=None).err == zkraw.INVALID_ACL  # null vector
        for acl in ([(31, "auth", "")], [(31, "nosuch", "x")], [(31, "digest", "nocolon")],
                    [(31, "ip", "not.an.ip")], [(31, "world", "someone")]):
            assert s.create(unique, acl=acl).err == zkraw.INVALID_ACL, acl
        # permission bits are not validated: 0 and 99 are accepted
        assert s.create(unique + "-p0", acl=[(0, "world", "anyone")]).err == 0
        assert s.create(unique + "-p99", acl=[(99, "world", "anyone")]).err == 0
        assert s.create(unique).err == 0
        assert s.call(zkraw.SET_ACL, zkraw.ustr(unique) + zkraw.acl_vec([]) + zkraw.i32(-1)).err == zkraw.INVALID_ACL
    with pytest.raises(InvalidACLError):
        zk.create(unique + "-k", acl=[make_acl("auth", "", all=True)])


def test_who_am_i(zk_server):
    with RawSession(zk_server.port) as s:
        r = s.who_am_i()
        assert r.err == 0
        n = r.body.i32()
        infos = [(r.body.ustr(), r.body.ustr()) for _ in range(n)]
        assert infos == [("ip", "127.0.0.1")]
        assert s.add_auth("digest", b"alice:secret").err == 0
        r = s.who_am_i()
        n = r.body.i32()
        infos = sorted((r.body.ustr(), r.body.ustr()) for _ in range(n))
        assert infos == [("digest", "alice"), ("ip", "127.0.0.1")]


def test_raw_multi_success_results(zk_server, unique):
    """The wire form of a successful multi, op by op (Apache 3.8.0)."""
    i32, boolean = zkraw.i32, zkraw.boolean

    def op(t, rec):
        return i32(t) + boolean(False) + i32(-1) + rec

    with RawSession(zk_server.port) as s:
        body = op(zkraw.CREATE, zkraw.create_req(unique, b"a"))
        body += op(zkraw.CREATE2, zkraw.create_req(unique + "/s-", b"b", flags=zkraw.PERSISTENT_SEQUENTIAL))
        body += op(zkraw.SET_DATA, zkraw.ustr(unique) + zkraw.buf(b"c") + i32(0))
        body += op(zkraw.CHECK, zkraw.ustr(unique) + i32(1))
        body += op(zkraw.DELETE, zkraw.ustr(unique + "/s-0000000000") + i32(-1))
        body += i32(-1) + boolean(True) + i32(-1)
        r = s.call(zkraw.MULTI, body)
        assert r.err == 0
        b = r.body
        assert (b.i32(), b.boolean(), b.i32()) == (zkraw.CREATE, False, 0)
        assert b.ustr() == unique
        # Surprise: a create2 inside a multi answers as a plain create (type 1, path only, no stat)
        assert (b.i32(), b.boolean(), b.i32()) == (zkraw.CREATE, False, 0)
        assert b.ustr() == unique + "/s-0000000000"
        assert (b.i32(), b.boolean(), b.i32()) == (zkraw.SET_DATA, False, 0)
        st = b.stat()
        # every op of a multi shares one zxid
        assert st.version == 1 and st.mzxid == st.czxid == r.zxid and st.numChildren == 1
        assert (b.i32(), b.boolean(), b.i32()) == (zkraw.CHECK, False, 0)
        assert (b.i32(), b.boolean(), b.i32()) == (zkraw.DELETE, False, 0)
        assert (b.i32(), b.boolean(), b.i32()) == (-1, True, -1)
        assert b.remaining() == 0
        # an empty multi is fine: just the end marker back
        r = s.call(zkraw.MULTI, i32(-1) + boolean(True) + i32(-1))
        assert r.err == 0 and r.body.data[r.body.pos:] == i32(-1) + boolean(True) + i32(-1)
