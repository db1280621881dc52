import Foundation
import ZKSSH

/// Everything the shell commands inject: connections, probes, progress output.
public struct OpsContext: Sendable {
    public var connections: any ConnectionFactory
    public var fourLetter: any FourLetterClient
    /// One progress line (host-prefixed); the CLI prints it to stderr.
    public var progress: @Sendable (String) -> Void
    /// Reads the live membership and issues reconfig.
    public var ensemble: any EnsembleClient

    public init(connections: any ConnectionFactory = DefaultConnectionFactory(),
                fourLetter: any FourLetterClient = TCPFourLetterClient(),
                ensemble: any EnsembleClient = ZKEnsembleClient(),
                progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.connections = connections
        self.fourLetter = fourLetter
        self.ensemble = ensemble
        self.progress = progress
    }
}

/// Per-host outcome of plan / deploy / start / stop.
public struct HostResult: Sendable, Codable {
    public var host: String
    public var plan: HostPlan?
    /// What was done, in order ("uploaded 24 files", "restarted").
    public var done: [String]
    public var error: OpsError?
    public var ok: Bool { error == nil }
}

/// The inputs of one deploy, prepared before any host is touched.
public struct DeployInputs: Sendable {
    public var rendered: [String: [RenderedFile]]
    public var artifacts: [String: [Artifact]]

    /// Renders every host and lists its artifacts; throws on the first local problem.
    public static func prepare(_ inventory: Inventory, binary: String?) throws -> DeployInputs {
        let renderer = Renderer()
        let builder = ArtifactBuilder()
        var rendered: [String: [RenderedFile]] = [:]
        var artifacts: [String: [Artifact]] = [:]
        for h in inventory.hosts {
            rendered[h.name] = try renderer.render(host: h, in: inventory)
            artifacts[h.name] = try builder.artifacts(for: h, binary: binary)
        }
        return DeployInputs(rendered: rendered, artifacts: artifacts)
    }
}

/// `zkops plan`: read every host in parallel and say what deploy would change.
/// With `membership` (the live membership differs from the inventory), members' server lines are
/// left to the reconfig and joiners get their first dynamic file.
public func planAll(_ inventory: Inventory, inputs: DeployInputs, context: OpsContext,
                    membership: MembershipStep? = nil) -> [HostResult] {
    let inputs = inputs.forMembership(membership, inventory: inventory)
    let joiners = Set(membership?.plan.added.map(\.id) ?? [])
    return inParallel(inventory.hosts) { host in
        do {
            let conn = try context.connections.connect(host)
            defer { conn.close() }
            let r = inputs.rendered[host.name]!, a = inputs.artifacts[host.name]!
            let facts = try gatherFacts(conn, host: host, rendered: r, artifacts: a)
            let plan = planHost(host, rendered: r, artifacts: a, facts: facts,
                                membershipByReconfig: membership != nil && !joiners.contains(host.id))
            return HostResult(host: host.name, plan: plan, done: [],
                              error: preflightError(host, plan: plan, facts: facts, artifacts: a, inventory: inventory))
        } catch {
            return HostResult(host: host.name, plan: nil, done: [], error: OpsError.wrap(error, host: host.name, step: "read state"))
        }
    }
}

/// The preflight problems of one host as one error (step "preflight"), nil when there are none.
func preflightError(_ host: HostSpec, plan: HostPlan, facts: HostFacts, artifacts: [Artifact], inventory: Inventory) -> OpsError? {
    let writes = Set(plan.toWrite.map(\.path))
    let bytes = artifacts.filter { writes.contains($0.remotePath) }.reduce(0) { sum, a in
        sum + ((try? FileManager.default.attributesOfItem(atPath: a.localPath)[.size] as? Int) ?? 0)
    }
    let problems = preflightProblems(host, plan: plan, facts: facts, uploadBytes: bytes, ensemble: inventory.hosts.count > 1)
    guard !problems.isEmpty else { return nil }
    return OpsError(host: host.name, step: "preflight", problems.joined(separator: "; ") + "; nothing was changed on any host")
}

extension DeployInputs {
    /// The inputs with each joiner's dynamic file replaced by the live membership plus itself.
    func forMembership(_ step: MembershipStep?, inventory: Inventory) -> DeployInputs {
        guard let step else { return self }
        var out = self
        for line in step.plan.added {
            guard let host = inventory.hosts.first(where: { $0.id == line.id }), var files = out.rendered[host.name] else { continue }
            for i in files.indices where files[i].kind == .dynamic {
                files[i].content = joinerDynamicFile(step, joiner: host)
            }
            out.rendered[host.name] = files
        }
        return out
    }
}

/// The outcome of `zkops deploy`.
public struct DeployReport: Sendable, Codable {
    /// The membership change applied by reconfig (`+ server.4=…`, `- server.2`), if any.
    public var membership: [String] = []
    /// True when a gate refused the deploy before anything was changed (exit code 1).
    public var refused = false
    public var hosts: [HostResult]
    public var probes: [HostProbe]
    public var verdict: Verdict?
    /// True when every host was left alone (nothing changed, nothing restarted).
    public var unchanged: Bool
    /// Hosts that failed and why, log tails included.
    public var failures: [OpsError]
    public var ok: Bool { failures.isEmpty && verdict?.health == .healthy }
}

/// `zkops deploy`: apply every host in parallel, then wait (bounded) for a proven quorum.
///
/// Membership: when the ensemble runs and its live membership (`/zookeeper/config`) differs from
/// the inventory, the difference is applied by `reconfig`, without restarting unchanged servers:
/// new servers are installed and started first with the live membership plus themselves, the
/// reconfig is issued once they are synced, and servers that left (`retiring`, whose specs the
/// caller still knows) are stopped after it.
///
/// Versions: a host that keeps a previous version (`zkops upgrade` / `rollback` were used) runs the
/// version those chose; unless `replaceVersion`, deploy refuses (nothing changed, `refused`) to
/// replace it with a different binary or distribution, so that a deploy with the old `--binary`
/// does not silently downgrade an upgraded ensemble.
public func deploy(_ inventory: Inventory, inputs: DeployInputs, timeout: Double, context: OpsContext,
                   retiring: [HostSpec] = [], replaceVersion: Bool = false) -> DeployReport {
    let membership: MembershipStep?
    do {
        membership = try prepareMembership(inventory, context: context)
    } catch {
        context.progress("membership: \(error)")
        var r = DeployReport(hosts: [], probes: [], verdict: nil, unchanged: true,
                             failures: [OpsError(host: "-", step: "membership", "\(error); nothing was changed")])
        r.refused = true
        return r
    }
    if let m = membership {
        if inventory.superSecret == nil {
            return DeployReport(hosts: [], probes: [], verdict: nil, unchanged: true,
                                failures: [OpsError(host: "-", step: "membership", "a membership change needs zkops' super secret; nothing was changed")])
        }
        for l in m.plan.lines { context.progress("membership: \(l)") }
    }
    let inputs = inputs.forMembership(membership, inventory: inventory)
    let joiners = Set(membership?.plan.added.map(\.id) ?? [])
    // Two phases: every host is connected, read and planned first; only if all of them
    // made it does any host change. A host we cannot reach (or whose key is wrong) thus
    // leaves the whole ensemble as it was. Each host keeps its one session (and thread)
    // across the barrier: libssh2 sessions must not move between threads.
    let gate = Gate(count: inventory.hosts.count)
    let results0 = inParallel(inventory.hosts) { host -> HostResult in
        var plan: HostPlan?
        var conn: (any HostConnection)?
        defer { conn?.close() }
        do {
            context.progress("\(host.name): connecting to \(host.connection == .local ? "local" : host.address)")
            let c = try context.connections.connect(host)
            conn = c
            let r = inputs.rendered[host.name]!, a = inputs.artifacts[host.name]!
            let facts = try gatherFacts(c, host: host, rendered: r, artifacts: a)
            let p = planHost(host, rendered: r, artifacts: a, facts: facts,
                             membershipByReconfig: membership != nil && !joiners.contains(host.id))
            plan = p
            if let e = preflightError(host, plan: p, facts: facts, artifacts: a, inventory: inventory) {
                _ = gate.arriveAndWait(ok: false)
                context.progress("\(host.name): preflight refused: \(e.message)")
                return HostResult(host: host.name, plan: p, done: [], error: e)
            }
            if let held = p.versionHeld, !replaceVersion {
                _ = gate.arriveAndWait(ok: false)
                return HostResult(host: host.name, plan: p, done: [], error: OpsError(host: host.name, step: "version", held))
            }
            guard gate.arriveAndWait(ok: true) else {
                return HostResult(host: host.name, plan: p, done: ["not changed: another host failed before any change was made"], error: nil)
            }
            let done = try applyHost(host, conn: c, plan: p, rendered: r, artifacts: a, facts: facts, context: context)
            context.progress("\(host.name): " + (done.isEmpty ? "unchanged, not restarted" : done.joined(separator: "; ")))
            return HostResult(host: host.name, plan: p, done: done, error: nil)
        } catch {
            let e = OpsError.wrap(error, host: host.name, step: "deploy")
            if plan == nil { _ = gate.arriveAndWait(ok: false) }
            context.progress("\(host.name): FAILED at \(e.step): \(e.message)")
            return HostResult(host: host.name, plan: plan, done: [], error: e)
        }
    }
    var results = results0
    var failures = results.compactMap(\.error)
    if failures.isEmpty, let m = membership, let secret = inventory.superSecret {
        do {
            try reconcileMembership(m, inventory: inventory, secret: secret, retiring: retiring, timeout: timeout,
                                    context: context)
            for i in results.indices {
                if let h = inventory.host(named: results[i].host), joiners.contains(h.id) {
                    results[i].done.append("joined the ensemble by reconfig")
                }
            }
        } catch {
            failures.append(OpsError(host: "-", step: "membership", "\(error)"))
        }
    }
    let restarts = inventory.hosts.filter { h in results.contains { $0.host == h.name && $0.ok && $0.plan?.action == .restart } }
    if failures.isEmpty && !restarts.isEmpty {
        let (restarted, errors) = rollingRestart(inventory, hosts: restarts, timeout: timeout, context: context)
        for i in results.indices where restarted.contains(results[i].host) { results[i].done.append("restarted") }
        failures += errors
    }
    let unchanged = results.allSatisfy { $0.ok && $0.done.isEmpty }
    if gate.failed && failures.isEmpty {
        failures.append(OpsError(host: "-", step: "deploy", "aborted before any change"))
    }
    let membershipLines = membership?.plan.lines ?? []
    guard failures.isEmpty else {
        var r = DeployReport(hosts: results, probes: [], verdict: nil, unchanged: false, failures: failures)
        r.membership = membershipLines
        // Only versions held back: nothing was changed anywhere.
        r.refused = failures.allSatisfy { $0.step == "version" || $0.step == "preflight" || $0.message == "aborted before any change" }
        return r
    }
    context.progress("waiting for quorum (up to \(Int(timeout))s)")
    let (probes, verdict) = waitForQuorum(inventory, timeout: timeout, context: context)
    if verdict.health != .healthy {
        let bad = inventory.hosts.filter { h in
            guard let p = probes.first(where: { $0.name == h.name }) else { return true }
            return !p.ruok || verdict.reasons.contains { $0.hasPrefix(h.name + ":") || $0.contains(" " + h.name + ":") }
        }
        let tails = logTails(inventory, hosts: bad.isEmpty ? inventory.hosts : bad, context: context)
        for h in bad.isEmpty ? inventory.hosts : bad {
            let reason = verdict.reasons.filter { $0.contains(h.name) }.joined(separator: "; ")
            failures.append(OpsError(host: h.name, step: "verify quorum",
                                     (reason.isEmpty ? verdict.health.rawValue : reason) + " after \(Int(timeout))s",
                                     detail: tails[h.name]))
        }
    }
    var report = DeployReport(hosts: results, probes: probes, verdict: verdict, unchanged: unchanged && membership == nil,
                              failures: failures)
    report.membership = membershipLines
    return report
}

/// After the joiners were started: wait until each serves as a learner, issue the reconfig,
/// check the ensemble now has the inventory's membership, stop the servers that left.
func reconcileMembership(_ m: MembershipStep, inventory: Inventory, secret: String, retiring: [HostSpec],
                         timeout: Double, context: OpsContext) throws {
    let added = m.plan.added.compactMap { l in inventory.hosts.first { $0.id == l.id } }
    let deadline = Date().addingTimeInterval(timeout)
    for h in added {
        context.progress("\(h.name): waiting until it syncs with the leader")
        while true {
            let p = probe(h, client: context.fourLetter)
            if ["follower", "observer"].contains(p.mode) { break }
            guard Date() < deadline else {
                let tail = logTails(inventory, hosts: [h], context: context)[h.name] ?? ""
                throw MembershipError("\(h.name) did not sync with the leader within \(Int(timeout))s (mode \(p.mode)); "
                                      + "no reconfig was issued\n" + tail)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }
    context.progress("reconfig via \(m.endpoint.address):\(m.endpoint.port): " + m.plan.lines.joined(separator: ", "))
    let after = try context.ensemble.reconfig(m.plan, via: m.endpoint, secret: secret,
                                              timeout: max(5, deadline.timeIntervalSinceNow), progress: context.progress)
    let left = planMembership(inventory: inventory.hosts, live: after)
    guard left.isEmpty else {
        throw MembershipError("after the reconfig the membership still differs from the inventory: " + left.lines.joined(separator: ", "))
    }
    context.progress("membership now: " + after.servers.map { "server.\($0.id)" }.joined(separator: ", ")
                     + (after.version.map { " (version \(String($0, radix: 16)))" } ?? ""))
    let leaving = retiring.filter { m.plan.leaving.contains($0.id) }
    for r in control(inventory, hosts: leaving, verb: "stop", context: context) {
        if let e = r.error { throw MembershipError("\(r.host) left the ensemble but could not be stopped: \(e)") }
        context.progress("\(r.host): left the ensemble; stopped")
    }
    let unknown = m.plan.leaving.filter { id in !leaving.contains { $0.id == id } }
    for id in unknown {
        context.progress("server.\(id): left the ensemble; it is not in the inventory, so zkops did not stop it")
    }
}

/// Restarts running servers whose files changed. When the ensemble is healthy first, it is a
/// rolling restart (`roll`, the same as `zkops rolling-restart`): observers, then followers one
/// at a time, the leader last, each host gated before and after (as cp-ansible and the HDP guide
/// do), stopping at the first host that does not come back. When it is not healthy there is no
/// quorum to protect: all restart at once. Returns the hosts restarted and the failures.
public func rollingRestart(_ inventory: Inventory, hosts: [HostSpec], timeout: Double,
                           context: OpsContext) -> ([String], [OpsError]) {
    let before = judge(inventory, probeAll(inventory, context: context))
    guard before.health == .healthy, hosts.count > 0 else {
        context.progress("restarting \(hosts.map(\.name).joined(separator: ", ")) together (ensemble \(before.health.rawValue))")
        let errors = inParallel(hosts) { host -> OpsError? in
            do {
                let conn = try context.connections.connect(host)
                defer { conn.close() }
                try stopServer(host, conn: conn)
                _ = try startServer(host, conn: conn)
                return nil
            } catch {
                return OpsError.wrap(error, host: host.name, step: "restart")
            }
        }
        return (zip(hosts, errors).filter { $0.1 == nil }.map(\.0.name), errors.compactMap { $0 })
    }
    let report = roll(inventory, action: .restart, only: hosts.map(\.name), timing: RolloutTiming(timeout: timeout),
                      context: context)
    let failures = report.failures.map { e in
        OpsError(host: e.host, step: "rolling restart", e.message + "; stopped before "
                 + (report.notDone.filter { $0 != e.host }.joined(separator: ", ").nilIfEmpty ?? "finishing"), detail: e.detail)
    }
    return (report.hosts.filter { $0.status == .done }.map(\.host), failures)
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// Probes every host until the verdict is healthy or `timeout` passes.
public func waitForQuorum(_ inventory: Inventory, timeout: Double, context: OpsContext) -> ([HostProbe], Verdict) {
    let deadline = Date().addingTimeInterval(timeout)
    var last: ([HostProbe], Verdict)
    var lastLine = ""
    repeat {
        let probes = probeAll(inventory, context: context)
        let v = judge(inventory, probes)
        last = (probes, v)
        if v.health == .healthy { return last }
        let line = "  " + v.health.rawValue + (v.reasons.isEmpty ? "" : ": " + v.reasons.joined(separator: "; "))
        if line != lastLine { context.progress(line); lastLine = line }
        Thread.sleep(forTimeInterval: 0.1)
    } while Date() < deadline
    return last
}

/// Probes all hosts in parallel.
public func probeAll(_ inventory: Inventory, context: OpsContext, timeout: Double = 3) -> [HostProbe] {
    inParallel(inventory.hosts) { probe($0, client: context.fourLetter, timeout: timeout) }
}

/// The last lines of each host's server log (best effort).
public func logTails(_ inventory: Inventory, hosts: [HostSpec], context: OpsContext, lines: Int = 30) -> [String: String] {
    let pairs = inParallel(hosts) { h -> (String, String) in
        do {
            let c = try context.connections.connect(h)
            defer { c.close() }
            // Our own probes fill the log with "Processing srvr command" lines: skip them.
            let r = try c.exec("grep -v 'Processing [a-z]* command' \(shellQuote(HostLayout(h.server).logFile)) 2>&1 | tail -n \(lines)", timeout: 20)
            return (h.name, "end of \(HostLayout(h.server).logFile):\n" + r.stdoutString)
        } catch {
            return (h.name, "(log unavailable: \(error))")
        }
    }
    return Dictionary(pairs, uniquingKeysWith: { a, _ in a })
}

/// `zkops start` / `stop` on some hosts.
public func control(_ inventory: Inventory, hosts: [HostSpec], verb: String, context: OpsContext) -> [HostResult] {
    inParallel(hosts) { host in
        do {
            let conn = try context.connections.connect(host)
            defer { conn.close() }
            let layout = HostLayout(host.server)
            let r = try conn.run("sh \(shellQuote(layout.launcher)) \(verb)", host: host.name, step: "\(verb) server", timeout: 60)
            return HostResult(host: host.name, plan: nil, done: [r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)], error: nil)
        } catch {
            return HostResult(host: host.name, plan: nil, done: [], error: OpsError.wrap(error, host: host.name, step: verb))
        }
    }
}

/// A one-shot barrier: every host arrives once, with whether its preparation worked;
/// all wait until all arrived and learn whether every one of them did.
final class Gate: @unchecked Sendable {
    private let cond = NSCondition()
    private var remaining: Int
    private(set) var failed = false

    init(count: Int) { remaining = count }

    func arriveAndWait(ok: Bool) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        if !ok { failed = true }
        remaining -= 1
        if remaining == 0 { cond.broadcast() }
        while remaining > 0 { cond.wait() }
        return !failed
    }
}
