import Foundation
import Testing
@testable import ZKOps

@Suite struct DeployPlan {
    let inv: Inventory
    let host: HostSpec
    let rendered: [RenderedFile]
    let binary = Artifact(localPath: "/build/zkserver", remotePath: "/opt/zookeeper/bin/zkserver", mode: 0o755, sha256: "aa")

    init() throws {
        inv = try inventory(threeHosts)
        host = inv.hosts[0]
        rendered = try Renderer().render(host: host, in: inv)
    }

    /// Facts of a host that has exactly what deploy would write, server running.
    func upToDate() -> HostFacts {
        var f = HostFacts(sha256: [binary.remotePath: "aa"], running: true)
        for r in rendered { f.files[r.remotePath] = r.content }
        f.dynamic = rendered[1].content
        return f
    }

    @Test func freshHostIsAllMissingAndStarts() {
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: HostFacts())
        #expect(p.files.allSatisfy { $0.state == .missing })
        #expect(p.files.count == 5)
        #expect(p.action == .start)
    }

    @Test func unchangedHostRestartsNothing() {
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: upToDate())
        #expect(p.files.allSatisfy { $0.state == .same })
        #expect(p.action == .none)
        #expect(p.toWrite.isEmpty)
    }

    @Test func unchangedButStoppedStarts() {
        var f = upToDate()
        f.running = false
        #expect(planHost(host, rendered: rendered, artifacts: [binary], facts: f).action == .start)
    }

    @Test func rewrittenByTheServerIsStillSame() {
        var f = upToDate()
        // What Apache does after the first election.
        f.files[rendered[0].remotePath] = rendered[0].content
            .replacingOccurrences(of: "clientPort=2181\n", with: "")
            .replacingOccurrences(of: "conf/zoo.cfg.dynamic", with: "conf/zoo.cfg.dynamic.100000000")
        f.dynamic = rendered[1].content.replacingOccurrences(of: ";2181", with: ";0.0.0.0:2181") + "version=100000000\n"
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: f)
        #expect(p.toWrite.isEmpty)
        #expect(p.action == .none)
    }

    @Test func changedConfigRestarts() {
        var f = upToDate()
        f.files[rendered[0].remotePath] = rendered[0].content.replacingOccurrences(of: "tickTime=2000", with: "tickTime=1000")
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: f)
        #expect(p.toWrite.map(\.name) == ["zoo.cfg"])
        #expect(p.toWrite[0].state == .changed)
        #expect(p.action == .restart)
    }

    @Test func changedMembershipRestarts() {
        var f = upToDate()
        f.dynamic = rendered[1].content.replacingOccurrences(of: "10.0.0.3", with: "10.0.0.9")
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: f)
        #expect(p.toWrite.map(\.name) == ["zoo.cfg.dynamic"])
        #expect(p.action == .restart)
    }

    @Test func changedBinaryRestarts() {
        var f = upToDate()
        f.sha256[binary.remotePath] = "bb"
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: f)
        #expect(p.toWrite.map(\.name) == ["zkserver"])
        #expect(p.action == .restart)
    }

    @Test func changedMyidRestartsButLauncherAloneDoesNot() {
        var f = upToDate()
        f.files[rendered[2].remotePath] = "9\n"
        #expect(planHost(host, rendered: rendered, artifacts: [binary], facts: f).action == .restart)
        var g = upToDate()
        g.files[rendered[3].remotePath] = "#!/bin/sh\nold launcher\n"
        let p = planHost(host, rendered: rendered, artifacts: [binary], facts: g)
        #expect(p.toWrite.map(\.name) == ["zkops-server"])
        #expect(p.action == .none)
    }
}
