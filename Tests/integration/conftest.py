"""Fixtures for the integration suite; the server harness itself is in zkharness.py (one
standalone server) and ensemble_harness.py (ensembles, `ensemble_factory`).

ZK_TARGET=apache|swift (default apache) picks the server: Apache ZooKeeper 3.8 (the
reference) or our zkserver ($ZKSERVER_BIN, default <repo>/.build/release/zkserver).
"""

from __future__ import annotations

import os
import time

import pytest

from ensemble_harness import ZkEnsemble, _live_ensembles
from zkharness import TARGET, ZkServer, _live_servers, stop_clients


def pytest_configure(config):
    config.addinivalue_line("markers", "ensemble: starts a multi-server ensemble (test_ensemble.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in list(_live_servers):
            report.sections.append((f"server log :{server.port}", server.log_tail()))
        # ensembles: every member, also the ones a test killed or stopped (their last words
        # are often the interesting part)
        for ensemble in list(_live_ensembles):
            for member in ensemble.members:
                report.sections.append((f"ensemble server {member.sid} ({member.role}) :{member.client_port}",
                                        member.log_tail()))


@pytest.fixture(scope="session")
def target() -> str:
    return TARGET


@pytest.fixture(scope="module")
def zk_server_factory():
    """Start extra servers with extra zoo.cfg keys: factory(extra={...}, drop=(...)).
    They are stopped and removed when the module's tests are done."""
    started: list[ZkServer] = []

    def make(extra: dict[str, str] | None = None, drop: tuple[str, ...] = (), name: str = "zk") -> ZkServer:
        server = ZkServer(extra, drop, name)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.cleanup()


@pytest.fixture
def ensemble_factory(request):
    """Start ensembles: factory(participants=3, observers=0, extra={...}, reconfig_enabled=False,
    standalone_enabled=False, start=True). Every member is SIGKILLed and its directory removed
    when the test is done (after its failure report, which carries the members' log tails)."""
    made: list[ZkEnsemble] = []

    def make(participants: int = 3, observers: int = 0, start: bool = True, **kwargs) -> ZkEnsemble:
        kwargs.setdefault("name", request.node.name[:40].replace("/", "_").replace("[", "_").replace("]", ""))
        ensemble = ZkEnsemble(participants, observers, **kwargs)
        made.append(ensemble)
        return ensemble.start() if start else ensemble

    yield make
    for ensemble in made:
        ensemble.cleanup()


@pytest.fixture(scope="module")
def zk_server(request):
    """A fresh server shared by one test module (tests use unique paths)."""
    server = ZkServer(name=request.module.__name__.rsplit(".", 1)[-1])
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def zk(zk_server):
    """A started kazoo client on the module's server, closed after the test."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    yield client
    try:
        client.stop()
        client.close()
    except Exception:
        pass


@pytest.fixture
def kazoo_factory(zk_server):
    """Make more kazoo clients on the module's server; all are stopped after the test."""
    from kazoo.client import KazooClient

    clients = []

    def make(server: ZkServer | None = None, **kwargs):
        kwargs.setdefault("timeout", 10)
        client = KazooClient(hosts=(server or zk_server).hosts, **kwargs)
        client.start(timeout=15)
        clients.append(client)
        return client

    yield make
    stop_clients(clients)


@pytest.fixture
def unique(request):
    """A unique znode path for this test."""
    name = request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    return f"/t-{name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
