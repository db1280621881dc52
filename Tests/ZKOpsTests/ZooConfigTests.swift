import Testing
@testable import ZKOps

@Suite struct ZooConfigMeaning {
    let ours = """
    # comment
    tickTime=2000
    initLimit=10
    syncLimit=5
    dataDir=/var/lib/zookeeper
    clientPort=2181
    dynamicConfigFile=/opt/zookeeper/conf/zoo.cfg.dynamic
    reconfigEnabled=true
    standaloneEnabled=false
    4lw.commands.whitelist=ruok,srvr,mntr
    """
    let ourDynamic = """
    server.1=10.77.0.11:2888:3888:participant;2181
    server.2=10.77.0.12:2888:3888:participant;2181
    server.3=10.77.0.13:2888:3888:participant;2181
    """
    /// What Apache 3.8 left on a testbed host after the first start.
    let rewritten = """
    standaloneEnabled=false
    dataDir=/var/lib/zookeeper
    tickTime=2000
    initLimit=10
    4lw.commands.whitelist=ruok,srvr,mntr
    syncLimit=5
    reconfigEnabled=true
    dynamicConfigFile=/opt/zookeeper/conf/zoo.cfg.dynamic.100000000
    """
    let rewrittenDynamic = """
    server.1=10.77.0.11:2888:3888:participant;0.0.0.0:2181
    server.2=10.77.0.12:2888:3888:participant;0.0.0.0:2181
    server.3=10.77.0.13:2888:3888:participant;0.0.0.0:2181
    version=100000000
    """

    @Test func apacheRewriteMeansTheSame() {
        let a = ZooConfig.effective(zooCfg: ours, dynamic: ourDynamic, myid: 2)
        let b = ZooConfig.effective(zooCfg: rewritten, dynamic: rewrittenDynamic, myid: 2)
        #expect(a == b)
        #expect(b["clientPort"] == "2181")
        #expect(b["version"] == nil)
    }

    @Test func realChangesAreSeen() {
        let a = ZooConfig.effective(zooCfg: ours, dynamic: ourDynamic, myid: 1)
        let tick = ZooConfig.effective(zooCfg: rewritten.replacingOccurrences(of: "tickTime=2000", with: "tickTime=3000"), dynamic: rewrittenDynamic, myid: 1)
        #expect(ZooConfig.differences(a, tick) == ["tickTime"])
        let moved = ZooConfig.effective(zooCfg: rewritten, dynamic: rewrittenDynamic.replacingOccurrences(of: "10.77.0.13", with: "10.77.0.14"), myid: 1)
        #expect(ZooConfig.differences(a, moved) == ["server.3"])
    }

    @Test func inlineServerLinesAndDefaultRole() {
        let inline = "clientPort=2181\nserver.1=h:1:2\nserver.2=g:1:2:observer;2181"
        let e = ZooConfig.effective(zooCfg: inline, dynamic: nil, myid: 1)
        #expect(e["server.1"] == "h:1:2:participant")
        #expect(e["server.2"] == "g:1:2:observer;2181")
    }

    /// zkops reads zoo.cfg with the server's own `.properties` reader, so a file a person edited
    /// by hand means the same to both.
    @Test func propertiesSyntaxAsTheServerReadsIt() {
        let text = "! a comment\ntickTime: 3000\ninitLimit 10\ndataDir=/var/lib/\\\n    zookeeper\nsyncLimit=2\nsyncLimit=5\n"
        let cfg = ZooConfig.parse(text)
        #expect(cfg == ["tickTime": "3000", "initLimit": "10", "dataDir": "/var/lib/zookeeper", "syncLimit": "5"])
    }
}
