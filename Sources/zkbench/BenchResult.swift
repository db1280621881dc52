/// The outcome of one zkbench run, merged over its clients; encoded as the `--json` output.
struct BenchResult: Encodable {
    struct Latency: Encodable {
        var p50: UInt32 = 0
        var p90: UInt32 = 0
        var p99: UInt32 = 0
        var p999: UInt32 = 0
        var max: UInt32 = 0
        var mean: Double = 0
    }

    var op: ZKBench.Op
    var servers: [String]
    var clients: Int
    var outstanding: Int
    var valueBytes: Int
    var seconds: Double
    var warmup: Double
    /// Replies received in the measured window.
    var ops: Int
    var opsPerSec: Double
    /// Replies in the window with a non-zero error code.
    var errors: Int
    /// Error code → count over the whole run, warmup included.
    var errorCodes: [String: Int]
    /// Clients whose connection ended early, with why.
    var lostConnections: [String]
    var latencyUs: Latency
    var pids: [Int32] = []
    var serverCpuSeconds: Double?
    var serverCpuUsPerOp: Double?
    var serverRssKiB: Int?
    /// Nodes a create run made.
    var created: Int?

    init(op: ZKBench.Op, servers: [String], clients: Int, outstanding: Int, valueBytes: Int, seconds: Double,
         warmup: Double, stats: [ClientStats]) {
        self.op = op
        self.servers = servers
        self.clients = clients
        self.outstanding = outstanding
        self.valueBytes = valueBytes
        self.seconds = seconds
        self.warmup = warmup
        ops = stats.reduce(0) { $0 + $1.ops }
        opsPerSec = Double(ops) / seconds
        errors = stats.reduce(0) { $0 + $1.errors }
        var codes: [String: Int] = [:]
        for s in stats { for (code, n) in s.errorCodes { codes[String(code), default: 0] += n } }
        errorCodes = codes
        lostConnections = stats.compactMap(\.lostConnection)
        var all: [UInt32] = []
        all.reserveCapacity(ops)
        for s in stats { all.append(contentsOf: s.latenciesUs) }
        latencyUs = Self.latency(of: &all)
    }

    /// Exact percentiles (nearest rank) of the samples.
    static func latency(of samples: inout [UInt32]) -> Latency {
        guard !samples.isEmpty else { return Latency() }
        samples.sort()
        func pct(_ p: Double) -> UInt32 {
            let rank = Int((p / 100 * Double(samples.count)).rounded(.up))
            return samples[min(max(rank, 1), samples.count) - 1]
        }
        let sum = samples.reduce(0.0) { $0 + Double($1) }
        return Latency(p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: samples.last!,
                       mean: sum / Double(samples.count))
    }

    var humanReadable: String {
        var lines: [String] = []
        lines.append("zkbench \(op.rawValue): \(clients) clients × \(outstanding) outstanding, \(valueBytes)-byte values, "
                     + "\(fmt(seconds)) s measured after \(fmt(warmup)) s warmup, against \(servers.joined(separator: ", "))")
        lines.append("  ops/s          \(Int(opsPerSec.rounded()))   (\(ops) ops)")
        lines.append("  latency µs     p50 \(latencyUs.p50)  p90 \(latencyUs.p90)  p99 \(latencyUs.p99)  "
                     + "p99.9 \(latencyUs.p999)  max \(latencyUs.max)  mean \(fmt(latencyUs.mean))")
        var errorLine = "  errors         \(errors)"
        if !errorCodes.isEmpty {
            errorLine += "   codes:"
            for key in errorCodes.keys.sorted() { errorLine += " \(key)×\(errorCodes[key] ?? 0)" }
        }
        lines.append(errorLine)
        for lost in lostConnections { lines.append("  LOST CONNECTION  \(lost)") }
        if let us = serverCpuUsPerOp, let cpu = serverCpuSeconds {
            lines.append("  server CPU     \(fmt(us)) µs/op   (\(fmt(cpu)) s over the window, \(fmt(cpu / seconds * 100))% of a core)")
        }
        if let rss = serverRssKiB { lines.append("  server RSS     \(fmt(Double(rss) / 1024)) MiB") }
        if let created { lines.append("  created nodes  \(created)") }
        return lines.joined(separator: "\n")
    }

    private func fmt(_ x: Double) -> String {
        let scaled = (x * 10).rounded() / 10
        return scaled == scaled.rounded() ? String(Int(scaled)) + ".0" : String(scaled)
    }
}
