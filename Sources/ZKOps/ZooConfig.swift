import Foundation
import ZKProtocol

/// zoo.cfg / dynamic-file parsing and comparison by meaning.
///
/// ZooKeeper rewrites its own config: the server lines move to
/// `zoo.cfg.dynamic.<version>`, zoo.cfg gets a new `dynamicConfigFile=` and may lose a
/// clientPort that the server line already carries. Comparing bytes would make every
/// deploy after the first look like a change, so we compare the *effective* settings.
public enum ZooConfig {
    /// The file's settings, read by the same `.properties` reader the server uses
    /// (comments, `=`/`:`/blank separators, continuations, escapes; the last duplicate wins).
    public static func parse(_ text: String) -> [String: String] {
        ZooCfgProperties.dictionary(text)
    }

    /// A server line normalised: `addr:quorum:election:role;clientPort` with the default
    /// role spelled out and a bare client address of 0.0.0.0 dropped.
    public static func normaliseServer(_ value: String) -> String {
        let parts = value.split(separator: ";", maxSplits: 1).map(String.init)
        var peer = parts[0].split(separator: ":").map(String.init)
        if peer.count == 3 { peer.append("participant") }
        var client = parts.count > 1 ? parts[1] : ""
        if client.hasPrefix("0.0.0.0:") { client.removeFirst("0.0.0.0:".count) }
        return peer.joined(separator: ":") + (client.isEmpty ? "" : ";" + client)
    }

    /// The settings that matter: every zoo.cfg key except the bookkeeping ones, plus the
    /// normalised server lines (from zoo.cfg itself or the dynamic file), plus the
    /// effective clientPort for server `myid`.
    public static func effective(zooCfg: String, dynamic: String?, myid: Int) -> [String: String] {
        var cfg = parse(zooCfg)
        cfg["dynamicConfigFile"] = nil
        var servers = cfg.filter { $0.key.hasPrefix("server.") }
        for k in servers.keys { cfg[k] = nil }
        if let dynamic {
            for (k, v) in parse(dynamic) where k.hasPrefix("server.") { servers[k] = v }
        }
        for (k, v) in servers { cfg[k] = normaliseServer(v) }
        if cfg["clientPort"] == nil, let mine = servers["server.\(myid)"],
           let client = normaliseServer(mine).split(separator: ";").dropFirst().first {
            cfg["clientPort"] = String(client.split(separator: ":").last ?? client)
        }
        return cfg
    }

    /// Keys whose values differ between two effective configs (for messages).
    public static func differences(_ a: [String: String], _ b: [String: String]) -> [String] {
        Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }
}
