import Foundation
import Testing
@testable import ZKQuorum

/// Runs `ZK_SIM_SEEDS` seeded fault schedules (default 10,000; `ZK_SIM_BASE` is the first seed,
/// `ZK_SIM_TICKS` the length of the faulty phase, default 200), checking safety invariants after
/// every step and liveness after the network heals. A failure prints the command reproducing it.
@Test func simulateManySeeds() {
    let env = ProcessInfo.processInfo.environment
    let count = env["ZK_SIM_SEEDS"].flatMap(UInt64.init) ?? 10_000
    let base = env["ZK_SIM_BASE"].flatMap(UInt64.init) ?? 1
    var failures: [SimFailure] = []
    let ticks = env["ZK_SIM_TICKS"].flatMap(Int.init)
    var totals = (messages: 0, commits: 0, elections: 0, snaps: 0, truncs: 0, maxHealTicks: 0)
    for seed in base..<(base + count) {
        var sim = Simulation(seed: seed, faultyTicks: ticks)
        if let f = sim.run() {
            failures.append(f)
            print(f)
            if failures.count >= 5 { break }
        }
        totals.messages += sim.counters.messages
        totals.commits += sim.counters.commits
        totals.elections += sim.counters.elections
        totals.snaps += sim.counters.snaps
        totals.truncs += sim.counters.truncs
        totals.maxHealTicks = max(totals.maxHealTicks, sim.counters.healTicks)
    }
    print("simulated \(count) seeds: \(totals.messages) messages, \(totals.commits) applied commits, \(totals.elections) step-downs/elections, \(totals.snaps) SNAP installs, \(totals.truncs) TRUNCs; slowest recovery after healing: \(totals.maxHealTicks) ticks")
    #expect(failures.isEmpty, "\(failures.count) seeds failed; first: \(failures.first.map { "\($0)" } ?? "")")
}

/// Replays one seed (`ZK_SIM_SEED`, default 1) with a trace when `ZK_SIM_TRACE=1`.
@Test func simulateOneSeed() {
    let env = ProcessInfo.processInfo.environment
    let seed = env["ZK_SIM_SEED"].flatMap(UInt64.init) ?? 1
    var sim = Simulation(seed: seed, trace: env["ZK_SIM_TRACE"] == "1", faultyTicks: env["ZK_SIM_TICKS"].flatMap(Int.init))
    print("seed \(seed): \(sim.params)")
    let f = sim.run()
    if let f { print(f) }
    #expect(f == nil, "\(f.map { "\($0)" } ?? "")")
}
