"""Apache Curator 5.4 recipes (Debian's libcurator-*-java) against the server under test.

CuratorDriver.java is compiled with javac at test time against /usr/share/java and runs
each scenario once, printing one JSON line of measured facts; the assertions are here.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JAVA_DIR = Path("/usr/share/java")
JARS = ["curator-client", "curator-framework", "curator-recipes", "zookeeper", "zookeeper-jute", "slf4j-api",
        "slf4j-nop", "guava", "netty-handler", "netty-common", "netty-buffer", "netty-transport", "netty-codec",
        "netty-resolver", "netty-transport-native-epoll", "netty-transport-native-unix-common", "metrics-core",
        "commons-io"]
SCENARIOS = ["mutex", "leader", "atomic_long", "cache", "transaction", "close_session"]
missing = [j for j in JARS if not (JAVA_DIR / f"{j}.jar").exists()]
pytestmark = pytest.mark.skipif(bool(missing) or not shutil.which("javac"),
                                reason=f"Curator/ZooKeeper jars or javac absent (missing: {missing}); "
                                       "scripts/install-deps installs libcurator-*-java")


@pytest.fixture(scope="module")
def results(zk_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("curator")
    cp = ":".join(str(JAVA_DIR / f"{j}.jar") for j in JARS)
    src = Path(__file__).parent / "curator" / "CuratorDriver.java"
    subprocess.run(["javac", "-d", str(out), "-cp", cp, str(src)], check=True, timeout=120)
    run = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-cp", f"{out}:{cp}", "CuratorDriver", zk_server.hosts,
                          f"/curator-{os.getpid()}", *SCENARIOS], capture_output=True, text=True, timeout=180)
    lines = [json.loads(l) for l in run.stdout.splitlines() if l.startswith("{")]
    by = {r["scenario"]: r for r in lines}
    assert set(by) == set(SCENARIOS), f"driver rc={run.returncode}\n{run.stdout}\n{run.stderr[-3000:]}"
    return by


def check(r):
    assert r["ok"], r
    # any SUSPENDED/LOST means the Java client dropped its connection: a reply it rejected
    assert r["state_changes"] == [], r


def test_mutex_mutual_exclusion(results):
    r = results["mutex"]
    check(r)
    assert r["acquired"] == 20 and r["max_holders"] == 1 and r["errors"] == [] and r["children_left"] == 0


def test_leader_latch_one_leader_and_failover(results):
    r = results["leader"]
    check(r)
    assert r["one_leader"] and not r["both_leaders"]
    assert r["leader_seen_by_follower"] == r["first_leader"]
    assert r["failover"] and r["second_leader"] != r["first_leader"]


def test_distributed_atomic_long_exact(results):
    r = results["atomic_long"]
    check(r)
    assert r["succeeded"] == r["increments"] == 100 and r["final"] == 100 and r["errors"] == []


def test_curator_cache_events_and_creates_after_start(results):
    r = results["cache"]
    check(r)
    assert r["create_errors"] == [], "create right after CuratorCache start failed (lost addWatch reply?)"
    assert r["initialized"]
    assert r["cached_all_creates"], "the cache never saw some of the five creates: NodeCreated events lost"
    base = r["events"][0].split(" ", 1)[1]
    for e in [f"create {base}/n0/deep", f"change {base}/n1 w", f"delete {base}/n2"]:
        assert e in r["events"], r["events"]
    assert r["cached_n1"] == "w"


def test_transaction_applies_all_or_nothing(results):
    r = results["transaction"]
    check(r)
    assert [x.split()[0] for x in r["ok_results"]] == ["CREATE", "SET_DATA", "CHECK"]
    assert r["data_after_ok"] == "1"
    assert r["bad_failure"] == "BadVersionException"
    assert not r["y_exists"] and r["data_after_bad"] == "1"


def test_create_after_other_session_closes(results):
    r = results["close_session"]
    check(r)
    assert r["cache_initialized"]
    assert r["create_errors"] == []
    assert sorted(r["children"]) == [f"fresh{i}" for i in range(5)]
