"""SSH failures: each a clear error naming the host, and no host changed at all."""
import subprocess

from conftest import STATE, addr, run_testbed, run_zkops, ssh, write_inventory


def snapshot():
    """What a failed deploy must not touch: configs, pids, no temp files."""
    out = {}
    for i in (1, 2, 3):
        out[i] = ssh(i, "sha256sum /opt/zookeeper/conf/zoo.cfg /var/lib/zookeeper/myid; cat /opt/zookeeper/run/server.pid; "
                        "find /opt/zookeeper /var/lib/zookeeper -name '*.zkops-tmp*'").stdout
    return out


def changed_inventory(tmp_path, **ssh_overrides):
    # tickTime 2500: if deploy went ahead, every host would get a new zoo.cfg and restart.
    return write_inventory(tmp_path / "inv.yaml", [1, 2, 3], extra_ensemble="tickTime: 2500", ssh_overrides=ssh_overrides)


def test_unknown_host_key_is_refused_with_fingerprint(apache_inventory, tmp_path):
    before = snapshot()
    kh = tmp_path / "known_hosts"
    # Only zkh1 and zkh2 are known: zkh3's key is unknown.
    kh.write_text("".join(l for l in (STATE / "known_hosts").read_text().splitlines(True) if not l.startswith(addr(3) + " ")))
    inv = changed_inventory(tmp_path, knownHosts=str(kh))
    r = run_zkops("deploy", "-i", inv, "--timeout", "30")
    assert r.returncode != 0
    assert "zkh3: host key: unknown host key ssh-ed25519 SHA256:" in r.stderr, r.stderr
    assert "zkh1: host key" not in r.stderr
    assert snapshot() == before
    # The flag accepts it (and only adds it).
    r = run_zkops("plan", "-i", inv, "--accept-new-host-keys")
    assert r.returncode == 0, r.stderr
    assert kh.read_text().count(addr(3)) == 1


def test_changed_host_key_is_refused(apache_inventory, tmp_path):
    before = snapshot()
    kh = tmp_path / "known_hosts"
    other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "fake")], check=True)
    fake = (tmp_path / "fake.pub").read_text().split()[:2]
    kh.write_text("".join(l if not l.startswith(addr(2) + " ") else f"{addr(2)} {' '.join(fake)}\n"
                          for l in (STATE / "known_hosts").read_text().splitlines(True)))
    inv = changed_inventory(tmp_path, knownHosts=str(kh))
    r = run_zkops("deploy", "-i", inv, "--timeout", "30", "--accept-new-host-keys")
    assert r.returncode != 0
    assert "zkh2: host key: HOST KEY CHANGED" in r.stderr and "SHA256:" in r.stderr, r.stderr
    assert snapshot() == before


def test_wrong_user_key_is_refused(apache_inventory, tmp_path):
    before = snapshot()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "wrong")], check=True)
    inv = changed_inventory(tmp_path, identityFile=str(tmp_path / "wrong"))
    r = run_zkops("deploy", "-i", inv, "--timeout", "30")
    assert r.returncode != 0
    for i in (1, 2, 3):
        assert f"zkh{i}: auth: public key {tmp_path / 'wrong'} refused for user root" in r.stderr, r.stderr
    assert snapshot() == before


def test_host_with_sshd_down(apache_inventory, tmp_path):
    before = snapshot()
    inv = changed_inventory(tmp_path)
    run_testbed("sshd-stop", "3")
    try:
        r = run_zkops("deploy", "-i", inv, "--timeout", "30")
        assert r.returncode != 0
        assert "zkh3: connect: Connection refused" in r.stderr, r.stderr
        assert "zkh1:" not in r.stderr.replace("zkh1: connecting", "")
    finally:
        run_testbed("sshd-start", "3")
    assert snapshot() == before
