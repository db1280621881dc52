"""inventory/local.yaml — the built-in default of scripts/run.ensemble: three zkserver servers on this
machine (connection: local). Needs no testbed.

test_local_inventory_shape checks the file itself (through `zkops render`). The deploy test
(marked swift_ensemble) runs it with its directories moved to a temp dir, on the file's own
ports, and skips if one of them is already taken.
"""
import socket

import pytest
import yaml

from conftest import ROOT, four_letter, mode_of, run_zkops, wait_status

LOCAL = ROOT / "inventory/local.yaml"


def zoo(path):
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def test_local_inventory_shape(tmp_path):
    inv = yaml.safe_load(LOCAL.read_text())
    assert inv["ensemble"]["flavor"] == "swift"
    hosts = inv["hosts"]
    assert len(hosts) == 3
    assert sorted(h["id"] for h in hosts) == [1, 2, 3]
    assert all(h["address"] == "127.0.0.1" and h["connection"] == "local" for h in hosts), hosts
    ports = [h[k] for h in hosts for k in ("clientPort", "quorumPort", "electionPort")]
    assert len(set(ports)) == 9, f"ports must all differ on one machine: {ports}"
    for k in ("dataDir", "installDir", "name"):
        assert len({h[k] for h in hosts}) == 3, f"{k} must differ per host"
    # What zkops makes of it: one ensemble, each server its own port, dir and myid.
    r = run_zkops("render", "-i", LOCAL, "-o", tmp_path / "r")
    assert r.returncode == 0, r.stderr
    cfgs = {h["name"]: zoo(tmp_path / "r" / h["name"] / "zoo.cfg") for h in hosts}
    dyns = {h["name"]: (tmp_path / "r" / h["name"] / "zoo.cfg.dynamic").read_text() for h in hosts}
    assert len(set(dyns.values())) == 1, "every server must get the same server.N lines"
    servers = [l for l in next(iter(dyns.values())).splitlines() if l.startswith("server.")]
    assert len(servers) == 3, servers
    for h in hosts:
        c = cfgs[h["name"]]
        assert c["clientPort"] == str(h["clientPort"])
        assert c["standaloneEnabled"] == "false"
        assert c["dataDir"] == str((LOCAL.parent / h["dataDir"]).resolve())
        assert (tmp_path / "r" / h["name"] / "myid").read_text().strip() == str(h["id"])
        assert f"server.{h['id']}=127.0.0.1:{h['quorumPort']}:{h['electionPort']}:participant;{h['clientPort']}" in servers


def port_taken(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


@pytest.mark.swift_ensemble
def test_local_inventory_deploys_an_ensemble(swift_ensemble_binary, tmp_path):
    inv = yaml.safe_load(LOCAL.read_text())
    taken = [p for h in inv["hosts"] for p in (h["clientPort"], h["quorumPort"], h["electionPort"]) if port_taken(p)]
    if taken:
        pytest.skip(f"ports of inventory/local.yaml in use on this machine: {taken}")
    text = LOCAL.read_text().replace("../run/local", str(tmp_path / "servers"))
    assert text != LOCAL.read_text()
    local = tmp_path / "local.yaml"
    local.write_text(text)
    try:
        r = run_zkops("deploy", "-i", local, "--binary", swift_ensemble_binary, "--timeout", "90")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        rc, js = wait_status(str(local), 0, timeout=10)
        assert rc == 0, js
        modes = sorted(mode_of(four_letter("127.0.0.1", h["clientPort"], "srvr")) or "-" for h in inv["hosts"])
        assert modes == ["follower", "follower", "leader"], modes
        r = run_zkops("deploy", "-i", local, "--binary", swift_ensemble_binary, "--timeout", "60")
        assert r.returncode == 0 and "nothing changed" in r.stdout, f"{r.stdout}\n{r.stderr}"
    finally:
        run_zkops("stop", "-i", local)
