"""Crash test: every acknowledged write survives SIGKILL.

Writers on raw sessions create, set and delete keys in their own subtrees, each with at most
one request in flight, recording every acknowledgement. The server is killed with SIGKILL at
random moments, many times. After each restart every acknowledged write is there, and each
writer's subtree equals its acknowledged history — plus, at most, the one request that was in
flight when the server died (it may have been made durable without its reply getting out).
Then the server takes new writes. Runs against either target (ZK_TARGET); the cycle count is
ZK_CRASH_CYCLES (default 25 for zkserver, 5 for Apache, whose JVM starts slowly).
"""

from __future__ import annotations

import os
import random
import threading
import time

import zkraw
from zkharness import TARGET, ZkServer
from zkraw import RawSession

CYCLES = int(os.environ.get("ZK_CRASH_CYCLES", "25" if TARGET == "swift" else "5"))
WRITERS = 4
KEYS = 12


class Writer(threading.Thread):
    def __init__(self, port: int, idx: int, model: dict[str, bytes], rng: random.Random):
        super().__init__(daemon=True)
        self.port, self.idx, self.model, self.rng = port, idx, model, rng
        self.inflight: tuple[str, str, bytes | None] | None = None  # (op, path, data)
        self.acked = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            s = RawSession(self.port, timeout_ms=30000)
        except Exception:
            return
        try:
            while not self.stop.is_set():
                path = f"/crash/w{self.idx}/k{self.rng.randrange(KEYS)}"
                value = f"{self.rng.random():.12f}".encode()
                if path in self.model:
                    op = "delete" if self.rng.random() < 0.3 else "set"
                else:
                    op = "create"
                self.inflight = (op, path, value)
                if op == "create":
                    r = s.create(path, value)
                elif op == "set":
                    r = s.set_data(path, value)
                else:
                    r = s.delete(path)
                assert r.err == 0, (op, path, r.err)
                apply(self.model, op, path, value)
                self.inflight = None
                self.acked += 1
        except (zkraw.ConnectionClosed, OSError, TimeoutError):
            return  # the server died: self.inflight stays as the unknown outcome
        finally:
            try:
                s.sock.close()
            except Exception:
                pass


def apply(model: dict[str, bytes], op: str, path: str, value: bytes | None) -> None:
    if op == "delete":
        model.pop(path, None)
    else:
        model[path] = value


def read_subtree(port: int, idx: int) -> dict[str, bytes]:
    out = {}
    with RawSession(port) as s:
        r = s.get_children(f"/crash/w{idx}")
        assert r.err == 0
        for name in r.body.str_vec():
            g = s.get_data(f"/crash/w{idx}/{name}")
            assert g.err == 0
            out[f"/crash/w{idx}/{name}"] = g.body.buf()
    return out


def test_acknowledged_writes_survive_sigkill():
    rng = random.Random(int(os.environ.get("ZK_CRASH_SEED", "20261128")))
    server = ZkServer(name="crash").start()
    models: list[dict[str, bytes]] = [{} for _ in range(WRITERS)]
    total_acked = 0
    try:
        with RawSession(server.port) as s:
            assert s.create("/crash").err == 0
            for i in range(WRITERS):
                assert s.create(f"/crash/w{i}").err == 0
        for cycle in range(CYCLES):
            writers = [Writer(server.port, i, models[i], random.Random(rng.random())) for i in range(WRITERS)]
            for w in writers:
                w.start()
            time.sleep(rng.uniform(0.05, 0.8))
            server.crash()
            for w in writers:
                w.stop.set()
                w.join(timeout=30)
                assert not w.is_alive(), "writer hung after the server died"
            total_acked += sum(w.acked for w in writers)
            server.start()
            for i, w in enumerate(writers):
                real = read_subtree(server.port, i)
                expected = dict(models[i])
                if real == expected:
                    continue
                assert w.inflight is not None, (
                    f"cycle {cycle} writer {i}: acknowledged history lost or changed\n"
                    f"expected {expected}\nfound    {real}")
                op, path, value = w.inflight
                apply(expected, op, path, value)
                assert real == expected, (
                    f"cycle {cycle} writer {i}: tree is neither the acked history nor it plus the "
                    f"in-flight {op} {path}\nfound {real}")
                models[i].clear()
                models[i].update(real)
        # The restarted server takes new writes.
        with RawSession(server.port) as s:
            assert s.create("/crash/after", b"ok").err == 0
            assert s.get_data("/crash/after").body.buf() == b"ok"
        assert total_acked > CYCLES * WRITERS, f"only {total_acked} writes were acknowledged"
    finally:
        server.cleanup()


# --- Damaged files (zkserver's own format, so zkserver only) -------------------------------

import hashlib
import re
import subprocess

import pytest


def _zkserver_bin() -> str:
    from zkharness import REPO_ROOT
    return os.environ.get("ZKSERVER_BIN") or str(REPO_ROOT / ".build" / "release" / "zkserver")


def _records(log_file) -> list[tuple[int, int, int]]:
    """(zxid, offset, len) of each record, from `zkserver dump-log`."""
    out = subprocess.run([_zkserver_bin(), "dump-log", str(log_file)], capture_output=True, text=True, check=True).stdout
    return [(int(z, 16), int(o), int(n)) for z, o, n in re.findall(r"zxid=0x([0-9a-f]+) offset=(\d+) len=(\d+)", out)]


def _flip(path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def _digest_dir(d) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def _filled_server() -> ZkServer:
    server = ZkServer(name="damage").start()
    with RawSession(server.port) as s:
        for i in range(20):
            assert s.create(f"/d{i}", b"x" * 50).err == 0
    server.crash()
    return server


@pytest.mark.skipif(TARGET != "swift", reason="damages zkserver's own log format; Apache's differs")
def test_torn_tail_is_truncated_with_a_warning():
    server = _filled_server()
    try:
        vdir = server.data_dir / "version-2"
        log = max(vdir.glob("log.*"), key=lambda p: int(p.name.split(".")[1], 16))
        zxid, off, n = _records(log)[-1]
        _flip(log, off + n - 1)  # a record cut by the crash: bad checksum at the very end
        server.start()
        assert re.search(r"(?i)torn|truncat", server.log_tail(200)), server.log_tail()
        with RawSession(server.port) as s:
            assert s.exists("/d18").err == 0      # everything before the torn record is there
            assert s.create("/after-torn").err == 0  # and the server takes new writes
    finally:
        server.cleanup()


@pytest.mark.skipif(TARGET != "swift", reason="damages zkserver's own log format; Apache's differs")
def test_corruption_in_the_middle_stops_start_up_and_deletes_nothing():
    server = _filled_server()
    try:
        vdir = server.data_dir / "version-2"
        log = max(vdir.glob("log.*"), key=lambda p: int(p.name.split(".")[1], 16))
        recs = _records(log)
        zxid, off, n = recs[len(recs) // 2]
        _flip(log, off + n - 1)
        before = _digest_dir(vdir)
        proc = subprocess.run([_zkserver_bin(), str(server.cfg_path)], capture_output=True, text=True, timeout=30)
        assert proc.returncode != 0
        msg = proc.stderr + proc.stdout
        assert log.name in msg and re.search(r"offset \d+", msg), msg
        assert _digest_dir(vdir) == before  # nothing deleted or rewritten
    finally:
        server.cleanup()


@pytest.mark.skipif(TARGET != "swift", reason="Apache reads snapCount as a JVM property; this checks zkserver's files")
def test_snapshots_every_snapcount_and_recovery_from_snapshot_plus_log():
    server = ZkServer({"snapCount": "40"}, name="snaps").start()
    try:
        with RawSession(server.port) as s:
            for i in range(300):
                assert s.create(f"/s{i}", str(i).encode()).err == 0
        vdir = server.data_dir / "version-2"
        # snapCount=40 → a snapshot every 20–40 txns, written in the background
        deadline = time.monotonic() + 10
        while len(list(vdir.glob("snapshot.*"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        snaps = sorted(vdir.glob("snapshot.*"), key=lambda p: int(p.name.split(".")[1], 16))
        assert len(snaps) >= 5, [p.name for p in snaps]
        server.crash()
        server.start()
        assert re.search(r"recovered \d+ znodes", server.log_tail(200))
        with RawSession(server.port) as s:
            for i in (0, 150, 299):
                assert s.get_data(f"/s{i}").body.buf() == str(i).encode()
            assert s.get_all_children_number("/").body.i32() == 300 + 3  # + /zookeeper and its two
        # purge keeps the newest 3 snapshots and the logs they need; the server still recovers
        out = subprocess.run([_zkserver_bin(), "purge", "--count", "3", str(server.cfg_path)],
                             capture_output=True, text=True, check=True).stdout
        assert "files removed" in out
        assert len(list(vdir.glob("snapshot.*"))) == 3
        server.crash()
        server.start()
        with RawSession(server.port) as s:
            assert s.get_data("/s299").body.buf() == b"299"
    finally:
        server.cleanup()
