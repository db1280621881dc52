import Foundation
@testable import ZKStorage

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "zkstorage-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func sub(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

func payloadFor(_ zxid: Int64, size: Int = 40) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: Int64($0) &+ zxid &* 31) }
}

/// Writes records with a fresh writer and closes it.
func writeLog(_ dir: String, zxids: [Int64], size: Int = 40, forceSync: Bool = false,
              preallocate: Int = 64 << 10, roll: Int = 64 << 20, flushEach: Bool = false,
              lastZxid: Int64? = nil) throws {
    let w = try TxnLogWriter(directory: dir, forceSync: forceSync, preallocateBytes: preallocate,
                             rollBytes: roll, lastZxid: lastZxid, onDurable: { _ in })
    for z in zxids {
        w.append(zxid: z, payload: payloadFor(z, size: size))
        if flushEach { try w.flushAndWait() }
    }
    try w.flushAndWait()
    w.close()
}

func fileBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path)!) }
func setFileBytes(_ path: String, _ bytes: [UInt8]) { try! Data(bytes).write(to: URL(fileURLWithPath: path)) }
func listDir(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

/// Offset of record `i` (0-based) in a single log file of fixed-size payloads.
func recordOffset(_ i: Int, size: Int = 40) -> Int { 16 + i * (16 + size) }

/// Collects warnings from a `warn` callback.
final class Warnings: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
