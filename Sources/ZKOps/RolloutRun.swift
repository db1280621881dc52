import Foundation
import ZKSSH

/// What a rolling operation does to each host besides stopping and starting its server.
/// Every hook runs on one SSH connection to that host.
public struct RolloutAction: Sendable {
    /// "rolling-restart", "upgrade", "rollback": the report's action.
    public var name: String
    /// The progress word for a host being taken ("restarting", "upgrading", "rolling back").
    public var verb: String
    /// Runs while the server still serves (e.g. upload the new version beside the old).
    /// Returns nil when the host has nothing to do (it is left running), else what it did.
    public var prepare: @Sendable (HostSpec, any HostConnection) throws -> [String]?
    /// Runs while the server is stopped (e.g. put the new version in place).
    public var whileStopped: @Sendable (HostSpec, any HostConnection) throws -> [String]
    /// Runs, with the server stopped, when the host failed its after-gate: put back what it ran
    /// before. Nil: nothing to put back (a plain restart).
    public var restore: (@Sendable (HostSpec, any HostConnection) throws -> [String])?

    public init(name: String, verb: String,
                prepare: @escaping @Sendable (HostSpec, any HostConnection) throws -> [String]? = { _, _ in [] },
                whileStopped: @escaping @Sendable (HostSpec, any HostConnection) throws -> [String] = { _, _ in [] },
                restore: (@Sendable (HostSpec, any HostConnection) throws -> [String])? = nil) {
        self.name = name; self.verb = verb; self.prepare = prepare; self.whileStopped = whileStopped; self.restore = restore
    }

    /// Stop and start, nothing else.
    public static let restart = RolloutAction(name: "rolling-restart", verb: "restarting")
}

/// How long the gates wait.
public struct RolloutTiming: Sendable {
    /// Seconds a host has to come back (after-gate) after it was started.
    public var timeout: Double
    /// Seconds between hosts.
    public var pause: Double
    /// Seconds the before-gate may wait for a healthy ensemble (probes are a snapshot).
    public var gateWait: Double

    public init(timeout: Double = 90, pause: Double = 0, gateWait: Double = 3) {
        self.timeout = timeout; self.pause = pause; self.gateWait = gateWait
    }
}

/// Runs a rolling operation: hosts in `planRollout` order, one at a time. Before each host the
/// ensemble must be healthy (`beforeGate`), else the roll stops there with nothing further touched
/// (refused, exit 1). Each host: prepare, stop, whileStopped, start, then wait for `afterGate`.
/// A host that does not pass it is restored (when the action can) and the roll stops (exit 2).
public func roll(_ inventory: Inventory, action: RolloutAction, only: [String]? = nil, timing: RolloutTiming = RolloutTiming(),
                 context: OpsContext) -> RolloutReport {
    let probes0 = probeAll(inventory, context: context)
    let steps = planRollout(inventory, probes: probes0, only: only)
    var report = RolloutReport(action: action.name, order: steps.map(\.host),
                               hosts: steps.map { RolloutHostReport(host: $0.host, kind: $0.kind, status: .notStarted) })
    context.progress("\(action.name): order " + steps.map { "\($0.host) (\($0.kind.rawValue))" }.joined(separator: ", "))
    func remaining(after i: Int) -> String {
        let rest = steps.dropFirst(i + 1).map(\.host)
        return rest.isEmpty ? "none" : rest.joined(separator: ", ")
    }
    func doneSoFar() -> String {
        let d = report.done
        return d.isEmpty ? "none" : d.joined(separator: ", ")
    }
    for (i, step) in steps.enumerated() {
        guard let host = inventory.host(named: step.host) else { continue }
        let tag = "\(host.name): [\(i + 1)/\(steps.count)]"
        if i > 0 && timing.pause > 0 {
            context.progress("pausing \(timing.pause)s before \(host.name)")
            Thread.sleep(forTimeInterval: timing.pause)
        }
        // Before-gate.
        var probes = probes0
        var gate = GateCheck.fail("not probed")
        let gateDeadline = Date().addingTimeInterval(timing.gateWait)
        while true {
            if i > 0 || probes.isEmpty { probes = probeAll(inventory, context: context) }
            gate = beforeGate(inventory, probes: probes)
            if gate.passed || Date() >= gateDeadline { break }
            Thread.sleep(forTimeInterval: 0.25)
            probes = probeAll(inventory, context: context)
        }
        if let why = gate.reason {
            context.progress("\(tag) before-gate FAILED: \(why)")
            context.progress("\(action.name) stopped before \(host.name): done \(doneSoFar()); not touched \(host.name)"
                             + (i + 1 < steps.count ? ", " + remaining(after: i) : ""))
            report.stoppedAt = host.name
            report.refused = true
            report.failures.append(OpsError(host: host.name, step: "before-gate",
                                            "\(why); stopped before \(host.name), nothing further was touched"))
            break
        }
        let zxidBefore = leaderZxid(inventory, probes: probes) ?? 0
        report.hosts[i].zxidBefore = "0x" + String(zxidBefore, radix: 16)
        context.progress("\(tag) before-gate ok (ensemble healthy, leader zxid 0x\(String(zxidBefore, radix: 16)))")
        context.progress("\(host.name): \(action.verb)" + (step.kind == .leader && steps.count > 1 ? " (leader, last)" : ""))
        // Take the host down and back up, on one thread (a libssh2 session stays on its thread).
        let t0 = Date()
        let outcome = inParallel([host]) { host -> Episode in
            var ep = Episode()
            var stopped = false
            do {
                let conn = try context.connections.connect(host)
                defer { conn.close() }
                guard let prepared = try action.prepare(host, conn) else { ep.skipped = true; return ep }
                for l in prepared { context.progress("\(host.name): \(l)") }
                ep.steps += prepared
                try stopServer(host, conn: conn)
                stopped = true
                context.progress("\(host.name): stopped")
                ep.steps.append("stopped")
                let swapped = try action.whileStopped(host, conn)
                for l in swapped { context.progress("\(host.name): \(l)") }
                ep.steps += swapped
                do {
                    context.progress("\(host.name): \(try startServer(host, conn: conn))")
                    ep.steps.append("started")
                } catch {
                    // The server (its new version, if any) does not start: the after-gate's failure, early.
                    ep.startFailed = OpsError.wrap(error, host: host.name, step: "start server")
                }
                return ep
            } catch {
                ep.error = OpsError.wrap(error, host: host.name, step: action.verb)
                if stopped, let c = try? context.connections.connect(host) {
                    // Whatever failed, a server left stopped costs the quorum a member: try to start it.
                    if (try? startServer(host, conn: c)) != nil { ep.steps.append("started again after the failure") }
                    c.close()
                }
                return ep
            }
        }[0]
        report.hosts[i].steps = outcome.steps
        if outcome.skipped {
            report.hosts[i].status = .skipped
            report.hosts[i].steps = ["nothing to do: left running"]
            context.progress("\(host.name): nothing to do (already there); not restarted")
            continue
        }
        if let e = outcome.error ?? (action.restore == nil ? outcome.startFailed : nil) {
            report.hosts[i].status = .failed
            report.hosts[i].error = e
            report.stoppedAt = host.name
            report.failures.append(e)
            context.progress("\(host.name): FAILED at \(e.step): \(e.message)")
            context.progress("\(action.name) stopped at \(host.name): done \(doneSoFar()); not started \(remaining(after: i))")
            break
        }
        // After-gate.
        if outcome.startFailed == nil { context.progress("\(host.name): waiting for it to serve as \(host.role == .observer ? "observer" : "follower or leader") "
                         + "with zxid ≥ 0x\(String(zxidBefore, radix: 16)) and a healthy ensemble (up to \(Int(timing.timeout))s)") }
        let after = outcome.startFailed.map { GateCheck.fail("did not start: \($0.message)") }
            ?? waitAfterGate(host, inventory: inventory, zxidBefore: zxidBefore, timeout: timing.timeout, context: context)
        if after.passed {
            let out = Date().timeIntervalSince(t0)
            report.hosts[i].status = .done
            report.hosts[i].outSeconds = (out * 10).rounded() / 10
            report.hosts[i].steps.append("after-gate ok")
            context.progress("\(tag) done: back, caught up, ensemble healthy (out \(String(format: "%.1f", out))s)")
            continue
        }
        let why = after.reason ?? "after-gate failed"
        context.progress("\(host.name): after-gate FAILED" + (outcome.startFailed == nil ? " after \(Int(timing.timeout))s" : "") + ": \(why)")
        let tail = outcome.startFailed?.detail ?? logTails(inventory, hosts: [host], context: context)[host.name]
        report.stoppedAt = host.name
        guard let restore = action.restore else {
            report.hosts[i].status = .failed
            let e = OpsError(host: host.name, step: "after-gate", why, detail: tail)
            report.hosts[i].error = e
            report.failures.append(e)
            context.progress("\(action.name) stopped at \(host.name): done \(doneSoFar()); not started \(remaining(after: i))")
            break
        }
        context.progress("\(host.name): restoring the version it ran before")
        let restored = inParallel([host]) { host -> OpsError? in
            do {
                let conn = try context.connections.connect(host)
                defer { conn.close() }
                try stopServer(host, conn: conn)
                for l in try restore(host, conn) { context.progress("\(host.name): \(l)") }
                context.progress("\(host.name): \(try startServer(host, conn: conn))")
                return nil
            } catch {
                return OpsError.wrap(error, host: host.name, step: "restore")
            }
        }[0]
        let again = restored == nil
            ? waitAfterGate(host, inventory: inventory, zxidBefore: zxidBefore, timeout: timing.timeout, context: context)
            : .fail(restored!.description)
        if again.passed {
            report.hosts[i].status = .rolledBack
            report.hosts[i].steps += ["after-gate failed: \(why)", "previous version restored", "after-gate ok"]
            context.progress("\(host.name): previous version restored; back, caught up, ensemble healthy")
            report.hosts[i].error = OpsError(host: host.name, step: "after-gate", why + "; rolled back to the previous version",
                                             detail: tail)
        } else {
            report.hosts[i].status = .failed
            report.hosts[i].error = OpsError(host: host.name, step: "after-gate",
                                             why + "; restoring the previous version did not help either: " + (again.reason ?? ""),
                                             detail: tail)
            context.progress("\(host.name): restore FAILED: \(again.reason ?? "")")
        }
        report.failures.append(report.hosts[i].error!)
        context.progress("\(action.name) stopped at \(host.name): done \(doneSoFar()); not started \(remaining(after: i))")
        break
    }
    report.verdict = judge(inventory, probeAll(inventory, context: context))
    return report
}

/// What happened to one host between the gates.
struct Episode: Sendable {
    var skipped = false
    var steps: [String] = []
    /// Failed before the server was (re)started: SSH, stop, the action's own step.
    var error: OpsError?
    /// Everything ran but the server did not start.
    var startFailed: OpsError?
}

/// Probes until `afterGate` passes or `timeout` passes; returns the last check.
func waitAfterGate(_ host: HostSpec, inventory: Inventory, zxidBefore: UInt64, timeout: Double, context: OpsContext) -> GateCheck {
    let deadline = Date().addingTimeInterval(timeout)
    var last = GateCheck.fail("not probed")
    var lastLine = ""
    repeat {
        last = afterGate(host, inventory: inventory, probes: probeAll(inventory, context: context), zxidBefore: zxidBefore)
        if last.passed { return last }
        let line = "  " + (last.reason ?? "")
        if line != lastLine { context.progress(line); lastLine = line }
        Thread.sleep(forTimeInterval: 0.1)
    } while Date() < deadline
    return last
}

func stopServer(_ host: HostSpec, conn: any HostConnection) throws {
    try conn.run("sh \(shellQuote(HostLayout(host.server).launcher)) stop", host: host.name, step: "stop server", timeout: 60)
}

/// Starts the server; a restart pending from an earlier deploy is thereby done.
func startServer(_ host: HostSpec, conn: any HostConnection) throws -> String {
    let l = HostLayout(host.server)
    let r = try conn.run("sh \(shellQuote(l.launcher)) start && rm -f \(shellQuote(l.restartMarker))",
                         host: host.name, step: "start server", timeout: 60)
    let s = r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
    return s.isEmpty ? "started" : s
}
