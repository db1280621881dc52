"""Apache's own clients against the server: zkCli.sh (Java) and cli_mt (C, zookeeper-bin)."""

import os
import re
import subprocess
import time

import pytest

from zkharness import CLI_MT, ZKCLI


def zkcli(server, *commands, timeout=60):
    """Run zkCli.sh non-interactively with commands on stdin; returns (stdout, stderr)."""
    env = dict(os.environ, ZOO_LOG_DIR="/tmp", CLIENT_JVMFLAGS="-XX:TieredStopAtLevel=1 -Xshare:auto")
    proc = subprocess.run([ZKCLI, "-server", server.hosts], input="\n".join(commands + ("quit",)) + "\n",
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc.stdout, proc.stderr


def test_zkcli_ls_create_get(zk_server):
    out, err = zkcli(zk_server, "ls /", "create /onepeice onepeice", "get /onepeice", "stat /onepeice",
                     "ls /onepeice", "delete /onepeice", "get /onepeice")
    lines = out.splitlines()
    assert "WatchedEvent state:SyncConnected type:None path:null" in lines
    ls_lines = [line for line in lines if line.startswith("[")]
    assert "zookeeper" in ls_lines[0].strip("[]").split(", ")
    # ZooKeeperMain prints "Created <path>" on stderr, the data of get on stdout
    assert "Created /onepeice" in err.splitlines()
    assert "onepeice" in lines
    stat = {m.group(1): m.group(2) for m in re.finditer(r"^(\w+) = (.*)$", out, re.M)}
    assert stat["dataLength"] == "8"
    assert stat["numChildren"] == "0"
    assert stat["dataVersion"] == "0"
    assert list(stat)[-11:] == ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
                                "ephemeralOwner", "dataLength", "numChildren"]
    assert stat["ephemeralOwner"] == "0x0"
    assert re.fullmatch(r"0x[0-9a-f]+", stat["cZxid"])
    assert ls_lines[1] == "[]"
    assert "Node does not exist: /onepeice" in err


def test_zkcli_errors_and_modes(zk_server):
    out, err = zkcli(zk_server, "create /clidir", "create /clidir", "create -s /clidir/s- x", "create -e /clidir/e x",
                     "ls -s /clidir", "set -v 5 /clidir/s-0000000000 y", "delete /clidir")
    assert "Created /clidir" in err
    assert "Node already exists: /clidir" in err
    assert "Created /clidir/s-0000000000" in err
    assert "Created /clidir/e" in err
    assert "[e, s-0000000000]" in out or "[s-0000000000, e]" in out
    assert "version No is not valid : /clidir/s-0000000000" in err
    assert "Node not empty: /clidir" in err


def cli_mt(server, *commands, pause=0.4, timeout=30):
    """Drive cli_mt through stdin, pausing so each asynchronous answer lands before the next."""
    proc = subprocess.Popen([CLI_MT, "-h", server.hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(pause)
        for cmd in commands + ("quit",):
            proc.stdin.write(cmd + "\n")
            proc.stdin.flush()
            time.sleep(pause)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err


def test_cli_mt_create_get_ls(zk_server):
    if not os.access(CLI_MT, os.X_OK):
        pytest.fail(f"{CLI_MT} missing: install zookeeper-bin (scripts/install-deps)")
    out, err = cli_mt(zk_server, "create /cmt", "get /cmt", "create /cmt/k", "ls /cmt", "set /cmt world", "get /cmt",
                      "get /cmt-missing")
    text = out + err  # cli_mt writes everything to stderr
    assert "Watcher SESSION_EVENT state = CONNECTED_STATE" in text
    assert re.search(r"Got a new session id: 0x[0-9a-f]+", text)
    assert "[/cmt]: rc = 0\n\tname = /cmt\n" in text
    # cli_mt creates nodes with the data "new"
    assert "/cmt: rc = 0\n value_len = 3\nnew\nStat:\n" in text
    assert "[/cmt/k]: rc = 0\n\tname = /cmt/k\n" in text
    assert "/cmt: rc = 0\n\tk\n" in text
    assert "/cmt: rc = 0\n value_len = 5\nworld\nStat:\n" in text
    assert re.search(r"\tczxid=[0-9a-f]+\n\tmtime=.*\n\tmzxid=[0-9a-f]+\n\tversion=1\taversion=0\n"
                     r"\tephemeralOwner = 0\n", text)
    assert "/cmt-missing: rc = -101\n" in text


def test_zkcli_newer_commands(zk_server):
    """The Java client's whoami, getEphemerals, getAllChildrenNumber, containers, TTL, ACLs."""
    out, err = zkcli(zk_server, "addauth digest u:p", "whoami", "create /zc", "create -e /zc/eph e",
                     "getEphemerals /zc", "create /zc/a", "create /zc/a/b", "getAllChildrenNumber /zc",
                     "create -c /zc/cont c", "create -t 5000 /zc/ttl t", "sync /zc", "getAcl /zookeeper/config",
                     "setAcl /zc/cont world:anyone:r", "getAcl -s /zc/cont", "ls -R /zc",
                     "stat /zc/nonexistent")
    lines = out.splitlines()
    i = lines.index("Auth scheme: User")
    assert sorted(lines[i + 1:i + 3]) == ["digest: u", "ip: 127.0.0.1"]
    assert "[/zc/eph]" in lines
    assert "3" in lines  # eph, a, a/b (cont and ttl come later)
    for p in ("/zc", "/zc/eph", "/zc/cont", "/zc/ttl"):
        assert f"Created {p}" in err.splitlines()
    assert "Sync is OK" in lines
    assert lines.count("'world,'anyone") == 2 and lines.count(": r") == 2
    assert "aclVersion = 1" in lines
    i = lines.index("/zc")
    assert lines[i:i + 6] == ["/zc", "/zc/a", "/zc/cont", "/zc/eph", "/zc/ttl", "/zc/a/b"]
    assert "Node does not exist: /zc/nonexistent" in err
