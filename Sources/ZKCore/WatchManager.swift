import ZKProtocol

/// Who gets told: a connection on this server. Watches live per connection, as in Apache: a
/// client that reconnects restores them with SetWatches.
public typealias WatcherID = UInt64

/// Watch registrations of one server (not replicated). Pure: `trigger` returns who to notify.
public struct WatchManager: Sendable {
    public enum Kind: Int, Sendable, CaseIterable { case data, child, persistent, persistentRecursive }

    private var byPath: [Kind: [String: Set<WatcherID>]] = [.data: [:], .child: [:], .persistent: [:], .persistentRecursive: [:]]
    private var byWatcher: [WatcherID: [Kind: Set<String>]] = [:]
    /// Recursive watches exist at all: lets `trigger` skip the ancestor walk in the common case.
    private var recursiveCount = 0

    public init() {}

    public mutating func add(_ kind: Kind, path: String, watcher: WatcherID) {
        if byPath[kind, default: [:]][path, default: []].insert(watcher).inserted {
            byWatcher[watcher, default: [:]][kind, default: []].insert(path)
            if kind == .persistentRecursive { recursiveCount += 1 }
        }
    }

    public func has(_ kind: Kind, path: String, watcher: WatcherID) -> Bool {
        byPath[kind]![path]?.contains(watcher) ?? false
    }

    /// Removes a watch; returns whether it was there.
    @discardableResult
    public mutating func remove(_ kind: Kind, path: String, watcher: WatcherID) -> Bool {
        guard byPath[kind]![path]?.remove(watcher) != nil else { return false }
        if byPath[kind]![path]!.isEmpty { byPath[kind]![path] = nil }
        byWatcher[watcher]?[kind]?.remove(path)
        if kind == .persistentRecursive { recursiveCount -= 1 }
        return true
    }

    /// Drops every watch of a connection (it closed).
    public mutating func removeAll(watcher: WatcherID) {
        guard let kinds = byWatcher.removeValue(forKey: watcher) else { return }
        for (kind, paths) in kinds {
            for p in paths {
                byPath[kind]![p]?.remove(watcher)
                if byPath[kind]![p]?.isEmpty == true { byPath[kind]![p] = nil }
                if kind == .persistentRecursive { recursiveCount -= 1 }
            }
        }
    }

    /// The watchers to notify of `t`, each once; one-shot watches are consumed.
    public mutating func trigger(_ t: WatchTrigger) -> Set<WatcherID> {
        var out = Set<WatcherID>()
        func takeAll(_ kind: Kind, _ path: String) {
            guard let ws = byPath[kind]![path] else { return }
            byPath[kind]![path] = nil
            for w in ws { byWatcher[w]?[kind]?.remove(path) }
            out.formUnion(ws)
        }
        switch t.type {
        case .nodeCreated, .nodeDataChanged:
            takeAll(.data, t.path)
        case .nodeDeleted:
            takeAll(.data, t.path)
            takeAll(.child, t.path)
        case .nodeChildrenChanged:
            takeAll(.child, t.path)
        default:
            break
        }
        if let ws = byPath[.persistent]![t.path] { out.formUnion(ws) }
        if recursiveCount > 0 && t.type != .nodeChildrenChanged {
            var p = t.path
            while true {
                if let ws = byPath[.persistentRecursive]![p] { out.formUnion(ws) }
                if p == "/" { break }
                p = PathUtils.parent(of: p)
            }
        }
        return out
    }

    // MARK: - Reports for wchs / wchc / wchp

    /// What Apache's data watch manager holds (wchs/wchc/wchp list only that one).
    public static let dataManagerKinds: Set<Kind> = [.data, .persistent, .persistentRecursive]

    public func totalWatches(kinds: Set<Kind> = Set(Kind.allCases)) -> Int {
        byPath.filter { kinds.contains($0.key) }.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }
    }
    public func watchedPaths(kinds: Set<Kind> = Set(Kind.allCases)) -> Int {
        var s = Set<String>()
        for (k, m) in byPath where kinds.contains(k) { s.formUnion(m.keys) }
        return s.count
    }
    public func pathsByWatcher(kinds: Set<Kind> = Set(Kind.allCases)) -> [WatcherID: [String]] {
        var out: [WatcherID: [String]] = [:]
        for (w, byKind) in byWatcher {
            let all = byKind.filter { kinds.contains($0.key) }.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            if !all.isEmpty { out[w] = all.sorted() }
        }
        return out
    }
    public func watchersByPath(kinds: Set<Kind> = Set(Kind.allCases)) -> [String: [WatcherID]] {
        var out: [String: Set<WatcherID>] = [:]
        for (k, m) in byPath where kinds.contains(k) { for (p, ws) in m { out[p, default: []].formUnion(ws) } }
        return out.mapValues { $0.sorted() }
    }
}
