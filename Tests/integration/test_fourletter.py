"""Four-letter words over a raw socket: the structure Apache 3.8 prints (not its version text)."""

import re

import pytest

import zkraw
from zkharness import four_letter
from zkraw import RawSession

SRVR_KEYS = ["Zookeeper version", "Latency min/avg/max", "Received", "Sent", "Connections", "Outstanding", "Zxid",
             "Mode", "Node count"]


def check_srvr_body(lines):
    assert [line.split(":", 1)[0] for line in lines] == SRVR_KEYS[1:]
    assert re.fullmatch(r"Latency min/avg/max: \d+/\d+\.\d+/\d+", lines[0])
    assert re.fullmatch(r"Received: \d+", lines[1])
    assert re.fullmatch(r"Sent: \d+", lines[2])
    assert re.fullmatch(r"Connections: \d+", lines[3])
    assert re.fullmatch(r"Outstanding: \d+", lines[4])
    assert re.fullmatch(r"Zxid: 0x[0-9a-f]+", lines[5])
    assert lines[6] == "Mode: standalone"
    assert re.fullmatch(r"Node count: \d+", lines[7])


def test_ruok(zk_server):
    assert four_letter(zk_server.port, "ruok") == "imok"  # no newline


def test_isro(zk_server):
    assert four_letter(zk_server.port, "isro") == "rw"


def test_srvr(zk_server):
    out = four_letter(zk_server.port, "srvr")
    assert out.endswith("\n")
    lines = out.splitlines()
    assert lines[0].startswith("Zookeeper version: ")
    check_srvr_body(lines[1:])
    # a fresh server: 5 nodes (/, /zookeeper, quota, config, and "" is not counted twice)... at least 4
    assert int(lines[-1].split(": ")[1]) >= 4


def test_stat_lists_clients(zk_server):
    with RawSession(zk_server.port) as s:
        assert s.exists("/").err == 0
        out = four_letter(zk_server.port, "stat")
    lines = out.splitlines()
    assert lines[0].startswith("Zookeeper version: ")
    assert lines[1] == "Clients:"
    blank = lines.index("")
    clients = lines[2:blank]
    assert len(clients) >= 2  # the session and this stat connection
    for line in clients:
        assert re.fullmatch(r" /127\.0\.0\.1:\d+\[\d\]\(queued=\d+,recved=\d+,sent=\d+\)", line), line
    check_srvr_body(lines[blank + 1:])


def test_mntr(zk_server):
    out = four_letter(zk_server.port, "mntr")
    lines = out.splitlines()
    pairs = [line.split("\t") for line in lines]
    assert all(len(p) == 2 for p in pairs), [p for p in pairs if len(p) != 2]
    keys = [k for k, _ in pairs]
    assert keys[:2] == ["zk_version", "zk_server_state"]
    values = dict(pairs)
    assert values["zk_server_state"] == "standalone"
    for key in ("zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received", "zk_packets_sent",
                "zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count", "zk_watch_count",
                "zk_ephemerals_count", "zk_approximate_data_size", "zk_open_file_descriptor_count",
                "zk_max_file_descriptor_count", "zk_uptime", "zk_global_sessions", "zk_local_sessions"):
        assert key in values, key
        assert re.fullmatch(r"-?\d+(\.\d+)?", values[key]), (key, values[key])
    assert int(values["zk_znode_count"]) >= 4
    # standalone has no leader-only keys
    assert "zk_learners" not in values and "zk_followers" not in values


def test_conf(zk_server):
    out = four_letter(zk_server.port, "conf")
    lines = out.splitlines()
    keys = [line.split("=", 1)[0] for line in lines]
    assert keys == ["clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir", "dataLogSize",
                    "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
                    "clientPortListenBacklog", "serverId"]
    conf = dict(line.split("=", 1) for line in lines)
    assert conf["clientPort"] == str(zk_server.port)
    assert conf["secureClientPort"] == "-1"
    assert conf["dataDir"] == str(zk_server.data_dir / "version-2")
    assert conf["dataLogDir"] == conf["dataDir"]
    assert conf["tickTime"] == "2000"
    assert conf["maxClientCnxns"] == "0"
    assert (conf["minSessionTimeout"], conf["maxSessionTimeout"]) == ("4000", "40000")
    assert conf["clientPortListenBacklog"] == "-1"
    assert conf["serverId"] == "0"


def test_cons(zk_server):
    with RawSession(zk_server.port) as s:
        assert s.exists("/").err == 0
        out = four_letter(zk_server.port, "cons")
        sid = s.session_id
    assert out.endswith("\n\n")
    lines = out.splitlines()[:-1]
    session_lines = [line for line in lines if f"sid=0x{sid:x}," in line]
    assert len(session_lines) == 1
    assert re.fullmatch(
        r" /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=\w+,est=\d+,to=\d+,"
        r"lcxid=0x[0-9a-f]+,lzxid=0x-?[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)",
        session_lines[0]), session_lines[0]
    # the cons connection itself has no session yet
    assert any(re.fullmatch(r" /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)", line) for line in lines)


def test_reset_commands(zk_server):
    assert four_letter(zk_server.port, "crst") == "Connection stats reset.\n"
    assert four_letter(zk_server.port, "srst") == "Server stats reset.\n"
    lines = four_letter(zk_server.port, "srvr").splitlines()
    assert lines[1] == "Latency min/avg/max: 0/0.0/0"


def test_envi(zk_server):
    out = four_letter(zk_server.port, "envi")
    lines = out.splitlines()
    assert lines[0] == "Environment:"
    env = dict(line.split("=", 1) for line in lines[1:])
    assert lines[1].startswith("zookeeper.version=")  # kazoo's server_version() parses this line
    # Apache also prints java.* keys; only the platform-neutral ones are required here.
    for key in ("host.name", "os.name", "os.arch", "os.version", "user.name", "user.home", "user.dir"):
        assert key in env, key
    assert env["os.name"] == "Linux"


def test_kazoo_server_version(zk):
    version = zk.server_version()
    assert version[:2] >= (3, 5)


def test_watch_commands(zk_server, unique):
    with RawSession(zk_server.port) as s:
        assert s.create(unique, flags=zkraw.EPHEMERAL).err == 0
        assert s.exists(unique, watch=True).err == 0
        assert s.get_children("/", watch=True).err == 0
        assert s.add_watch(unique + "-r", 1).err == 0
        sid = f"0x{s.session_id:x}"
        wchs = four_letter(zk_server.port, "wchs")
        wchc = four_letter(zk_server.port, "wchc")
        wchp = four_letter(zk_server.port, "wchp")
        dump = four_letter(zk_server.port, "dump")
    # Surprise (Apache 3.8.0): the wch* commands list only the DATA watch manager: the child
    # watch on "/" is not counted; exists/getData and persistent (recursive) watches are.
    m = re.fullmatch(r"(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n", wchs)
    assert m, wchs
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= 2
    block = re.search(rf"{sid}\n((?:\t[^\n]+\n)+)", wchc)
    assert block, wchc
    assert sorted(block.group(1).split()) == sorted([unique, unique + "-r"])
    assert wchc.endswith("\n\n")
    assert f"{unique}\n\t{sid}\n" in wchp and f"{unique}-r\n\t{sid}\n" in wchp
    assert "\n/\n" not in "\n" + wchp  # no child watches listed
    assert wchp.endswith("\n\n")
    lines = dump.splitlines()
    assert lines[0] == "SessionTracker dump:"
    assert re.fullmatch(r"Session Sets \(\d+\)/\(\d+\):", lines[1])
    assert "ephemeral nodes dump:" in lines
    i = lines.index("ephemeral nodes dump:")
    assert re.fullmatch(r"Sessions with Ephemerals \(\d+\):", lines[i + 1])
    assert f"{sid}:\n\t{unique}\n" in dump
    assert "Connections dump:" in lines


def test_dirs(zk_server):
    out = four_letter(zk_server.port, "dirs")
    assert re.fullmatch(r"datadir_size: \d+\nlogdir_size: \d+\n", out)


def test_unknown_word_closes_silently(zk_server):
    # an unknown word is read as a frame length (here 0x78797a77 > jute.maxbuffer): no answer
    assert four_letter(zk_server.port, "xyzw") == ""
    assert four_letter(zk_server.port, "ruok") == "imok"


@pytest.fixture(scope="module")
def default_whitelist_server(zk_server_factory):
    return zk_server_factory(drop=("4lw.commands.whitelist",), name="whitelist")


def test_default_whitelist(default_whitelist_server):
    port = default_whitelist_server.port
    assert four_letter(port, "srvr").startswith("Zookeeper version: ")
    for word in ("ruok", "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "crst", "srst", "dirs", "wchc",
                 "wchp"):
        assert four_letter(port, word) == f"{word} is not executed because it is not in the whitelist.\n", word
    # isro is whitelisted only in read-only mode
    assert four_letter(port, "isro") == "isro is not executed because it is not in the whitelist.\n"
