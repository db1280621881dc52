"""ACLs: world, digest, ip, auth, super; NoAuth per permission; InvalidACL; AuthFailed."""

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, InvalidACLError, NoAuthError
from kazoo.security import make_acl, make_digest_acl, make_digest_acl_credential

from zkraw import RawSession

SUPER_PASSWORD = "superpass"


@pytest.fixture(scope="module")
def acl_server(zk_server_factory):
    """A server with a super user (DigestAuthenticationProvider.superDigest)."""
    digest = make_digest_acl_credential("super", SUPER_PASSWORD)  # "super:<base64 sha1>"
    return zk_server_factory({"DigestAuthenticationProvider.superDigest": digest}, name="acl")


@pytest.fixture
def client(acl_server):
    made = []

    def make(*auth):
        c = KazooClient(hosts=acl_server.hosts, timeout=10, auth_data=list(auth) or None)
        c.start(timeout=15)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        c.close()


def test_digest_acl_per_permission(client, unique):
    alice = client(("digest", "alice:pw"))
    anon = client()
    alice.create(unique, b"secret", acl=[make_digest_acl("alice", "pw", all=True)])
    acl, _ = alice.get_acls(unique)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [
        (31, "digest", make_digest_acl_credential("alice", "pw"))]
    with pytest.raises(NoAuthError):
        anon.get(unique)
    with pytest.raises(NoAuthError):
        anon.set(unique, b"x")
    with pytest.raises(NoAuthError):
        anon.get_children(unique)
    with pytest.raises(NoAuthError):
        anon.create(unique + "/c")
    with pytest.raises(NoAuthError):
        anon.set_acls(unique, [make_acl("world", "anyone", all=True)])
    # exists never checks ACLs (getACL needs READ or ADMIN: see the next test)
    assert anon.exists(unique) is not None
    assert alice.get(unique)[0] == b"secret"
    alice.create(unique + "/c")
    with pytest.raises(NoAuthError):
        anon.delete(unique + "/c")  # DELETE is checked on the parent
    alice.delete(unique + "/c")


def test_get_acl_needs_read_or_admin(client, unique):
    alice = client(("digest", "alice:pw"))
    anon = client()
    alice.create(unique, acl=[make_digest_acl("alice", "pw", read=True)])
    with pytest.raises(NoAuthError):
        anon.get_acls(unique)
    acl, stat = alice.get_acls(unique)
    assert acl[0].id.scheme == "digest" and acl[0].perms == 1
    anon.create(unique + "-admin", acl=[make_acl("world", "anyone", admin=True)])
    acl, _ = anon.get_acls(unique + "-admin")
    assert [(a.perms, a.id.scheme) for a in acl] == [(16, "world")]


def test_single_permissions(client, unique):
    anon = client()
    anon.create(unique)
    anon.create(unique + "/r", acl=[make_acl("world", "anyone", read=True)])
    with pytest.raises(NoAuthError):
        anon.set(unique + "/r", b"x")
    with pytest.raises(NoAuthError):
        anon.create(unique + "/r/c")
    anon.get(unique + "/r")
    anon.create(unique + "/w", acl=[make_acl("world", "anyone", write=True)])
    anon.set(unique + "/w", b"x")
    with pytest.raises(NoAuthError):
        anon.get(unique + "/w")
    anon.create(unique + "/nodelete", acl=[make_acl("world", "anyone", create=True, read=True)])
    anon.create(unique + "/nodelete/c")
    with pytest.raises(NoAuthError):
        anon.delete(unique + "/nodelete/c")
    # deleting the node itself needs DELETE on its parent, which is open
    anon.create(unique + "/self", acl=[make_acl("world", "anyone", read=True)])
    anon.delete(unique + "/self")


def test_auth_scheme_uses_session_identities(client, unique):
    bob = client(("digest", "bob:pw"))
    path = bob.create(unique, acl=[make_acl("auth", "", all=True)])
    acl, _ = bob.get_acls(path)
    # the auth scheme is replaced by every authenticated identity of the creator
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [
        (31, "digest", make_digest_acl_credential("bob", "pw"))]
    anon = client()
    with pytest.raises(InvalidACLError):
        anon.create(unique + "-anon", acl=[make_acl("auth", "", all=True)])
    with pytest.raises(NoAuthError):
        anon.get(unique)


def test_ip_acl(client, unique):
    c = client()
    c.create(unique, b"local", acl=[make_acl("ip", "127.0.0.1", all=True)])
    assert c.get(unique)[0] == b"local"
    c.create(unique + "-net", b"n", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    assert c.get(unique + "-net")[0] == b"n"
    c.create(unique + "-other", b"o", acl=[make_acl("ip", "10.1.2.3", all=True)])
    with pytest.raises(NoAuthError):
        c.get(unique + "-other")


def test_super_user_bypasses_acls(client, unique):
    alice = client(("digest", "alice:pw"))
    alice.create(unique, b"private", acl=[make_digest_acl("alice", "pw", read=True)])
    root = client(("digest", f"super:{SUPER_PASSWORD}"))
    assert root.get(unique)[0] == b"private"
    root.set(unique, b"overwritten")
    root.set_acls(unique, [make_acl("world", "anyone", all=True)])
    assert client().get(unique)[0] == b"overwritten"
    root.set_acls(unique, [make_digest_acl("alice", "pw", read=True)])
    wrong = client(("digest", "super:nope"))
    with pytest.raises(NoAuthError):
        wrong.get(unique)


def test_add_auth_unknown_scheme_fails(acl_server):
    with RawSession(acl_server.port) as s:
        r = s.add_auth("nosuch", b"x")
        # AuthFailed on xid -4, then the server closes the connection
        assert (r.xid, r.err) == (-4, -115)
        assert s.is_closed()


def test_kazoo_auth_failed(acl_server):
    c = KazooClient(hosts=acl_server.hosts, timeout=10)
    c.start(timeout=15)
    try:
        with pytest.raises(AuthFailedError):
            c.add_auth("nosuch", "x")
    finally:
        c.stop()
        c.close()


def test_digest_without_colon_is_accepted(acl_server):
    # Apache accepts any digest credential text (it just hashes user:password by the first colon)
    with RawSession(acl_server.port) as s:
        assert s.add_auth("digest", b"nocolon").err == 0
        assert s.exists("/").err == 0


def test_world_acl_on_new_nodes(client, unique):
    c = client()
    c.create(unique)
    acl, stat = c.get_acls(unique)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(31, "world", "anyone")]
