"""Preflight on real sshd hosts: what would stop a server is found before any host is touched.

Each obstacle is real on testbed host zkh12 (in its own mount namespace): a process listening on the
client port, a dataDir on a full 1 MiB tmpfs, java hidden by a tmpfs over /usr/lib/jvm, and a
zkserver binary that loads the Swift runtime dynamically. Each deploy must exit 1 naming the host
and the problem, and leave the host untouched; once the obstacle is gone the same deploy works.
Uses its own installDir, dataDir and ports, so the servers other tests run on zkh12 do not matter.
"""
import pytest

from conftest import ROOT, STATE, addr, run_zkops, ssh, zkserver_path

HOST = 12
INSTALL = "/opt/zkpre"
DATA = "/var/lib/zookeeper/zkpre"
FULL = "/var/lib/zookeeper/zkpre-full"
PORT = 2191


def inventory(tmp_path, flavor="swift", data_dir=DATA):
    lines = ["ensemble:", f"  flavor: {flavor}", f"  dataDir: {data_dir}", f"  installDir: {INSTALL}",
             f"  clientPort: {PORT}"]
    if flavor == "apache":
        lines.append(f"  distribution: {STATE / 'apache-dist'}")
    lines += ["ssh:", "  user: root", f"  identityFile: {STATE / 'id_ed25519'}", f"  knownHosts: {STATE / 'known_hosts'}",
              "hosts:", f"  - {{name: zkh{HOST}, address: {addr(HOST)}, id: 1}}"]
    p = tmp_path / f"{flavor}.yaml"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def untouched():
    return ssh(HOST, f"test ! -e {INSTALL} && test ! -e {DATA} && echo untouched", check=False).stdout.strip() == "untouched"


@pytest.fixture
def host12(testbed_hosts):
    if testbed_hosts < HOST:
        pytest.skip(f"needs a {HOST}-host testbed")
    clean = (f"[ -x {INSTALL}/bin/zkops-server ] && sh {INSTALL}/bin/zkops-server stop; "
             f"umount {FULL} 2>/dev/null; umount /usr/lib/jvm 2>/dev/null; pkill -f 'zkpre-liste[n]er'; "
             f"rm -rf {INSTALL} {DATA} {FULL}; true")
    ssh(HOST, clean)
    yield
    ssh(HOST, clean)


def refused(r, *needles):
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"expected a refusal (exit 1):\n{out}"
    for n in needles:
        assert n in out, f"{n!r} not in:\n{out}"


def test_port_in_use_is_named_and_nothing_is_touched(host12, tmp_path):
    inv = inventory(tmp_path)
    ssh(HOST, "nohup setsid python3 -c 'import socket, time, sys; sys.argv[0] = \"zkpre-listener\"; s = socket.socket(); "
              f"s.bind((\"0.0.0.0\", {PORT})); s.listen(); time.sleep(300)' zkpre-listener >/dev/null 2>&1 &")
    ssh(HOST, f"for i in $(seq 50); do grep -qi ':{PORT:04X} 00000000:0000 0A' /proc/net/tcp && exit 0; sleep 0.1; done; exit 1")
    r = run_zkops("plan", "-i", inv, "--binary", zkserver_path())
    refused(r, f"zkh{HOST}: preflight", f"port {PORT} (clientPort) is already in use")
    r = run_zkops("deploy", "-i", inv, "--binary", zkserver_path(), "--timeout", "30")
    refused(r, f"zkh{HOST}: preflight", f"port {PORT} (clientPort) is already in use", "nothing was changed")
    assert untouched()
    ssh(HOST, "pkill -f 'zkpre-liste[n]er'; true")
    r = run_zkops("deploy", "-i", inv, "--binary", zkserver_path(), "--timeout", "60")
    assert r.returncode == 0, r.stdout + r.stderr


def test_full_data_disk_is_named(host12, tmp_path):
    inv = inventory(tmp_path, data_dir=FULL + "/data")
    ssh(HOST, f"mkdir -p {FULL} && mount -t tmpfs -o size=1m zkpre-full {FULL} && "
              f"head -c 900k /dev/zero > {FULL}/filler")
    r = run_zkops("deploy", "-i", inv, "--binary", zkserver_path(), "--timeout", "30")
    refused(r, f"zkh{HOST}: preflight", f"dataDir {FULL}/data is on a full disk", "MiB free on " + FULL)
    assert ssh(HOST, f"test ! -e {INSTALL} && test ! -e {FULL}/data && echo ok").stdout.strip() == "ok"


def test_missing_java_is_named_for_apache(host12, tmp_path):
    if not (STATE / "apache-dist").exists():
        pytest.skip("no Apache distribution in the testbed state")
    inv = inventory(tmp_path, flavor="apache")
    ssh(HOST, "mount -t tmpfs -o size=1m nojvm /usr/lib/jvm")
    r = run_zkops("deploy", "-i", inv, "--timeout", "30")
    refused(r, f"zkh{HOST}: preflight", "java not found on zkh12")
    assert untouched()


def test_binary_that_is_not_self_contained_is_refused(host12, tmp_path):
    # The debug zkops loads libswiftCore.so from the toolchain, as a plain `swift build` binary does.
    dynamic = ROOT / ".build/debug/zkops"
    if not dynamic.exists():
        pytest.skip("no debug build to use as a dynamically linked binary")
    inv = inventory(tmp_path)
    r = run_zkops("deploy", "-i", inv, "--binary", dynamic, "--timeout", "30")
    refused(r, "is not self-contained", "swift build -c release --static-swift-stdlib --product zkserver",
            "nothing was changed")
    assert untouched()
