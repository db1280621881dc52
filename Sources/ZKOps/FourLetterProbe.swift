import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The parsed answer to `srvr`.
public struct SrvrInfo: Sendable, Equatable, Codable {
    public var version: String
    public var latencyMin: Double
    public var latencyAvg: Double
    public var latencyMax: Double
    public var connections: Int
    public var outstanding: Int
    public var zxid: UInt64
    public var mode: String
    public var nodeCount: Int
    /// The leader epoch: the high 32 bits of the zxid.
    public var epoch: UInt64 { zxid >> 32 }

    /// Parses Apache's `srvr` (and `stat`) text; nil if it has no Mode line.
    public static func parse(_ text: String) -> SrvrInfo? {
        var info = SrvrInfo(version: "", latencyMin: 0, latencyAvg: 0, latencyMax: 0, connections: 0,
                            outstanding: 0, zxid: 0, mode: "", nodeCount: 0)
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "Zookeeper version": info.version = String(value.split(separator: ",").first ?? "")
            case "Latency min/avg/max":
                let p = value.split(separator: "/").compactMap { Double($0) }
                if p.count == 3 { (info.latencyMin, info.latencyAvg, info.latencyMax) = (p[0], p[1], p[2]) }
            case "Connections": info.connections = Int(value) ?? 0
            case "Outstanding": info.outstanding = Int(value) ?? 0
            case "Zxid":
                let hex = value.hasPrefix("0x") ? String(value.dropFirst(2)) : value
                info.zxid = UInt64(hex, radix: 16) ?? 0
            case "Mode": info.mode = value
            case "Node count": info.nodeCount = Int(value) ?? 0
            default: break
            }
        }
        return info.mode.isEmpty ? nil : info
    }
}

/// `mntr` output as a map (`zk_key\tvalue` lines).
public func parseMntr(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    for raw in text.split(whereSeparator: \.isNewline) {
        let parts = raw.split(separator: "\t", maxSplits: 1)
        if parts.count == 2 { out[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespaces) }
    }
    return out
}

/// Sends four-letter words; a protocol so tests can answer for servers.
public protocol FourLetterClient: Sendable {
    /// Sends `word` to address:port and returns everything read until EOF.
    func send(_ word: String, address: String, port: Int, timeout: Double) throws -> String
}

/// Why a probe failed.
public struct ProbeError: Error, CustomStringConvertible, Sendable {
    public var endpoint: String
    public var message: String
    public var description: String { "\(endpoint): \(message)" }
}

/// Plain TCP four-letter-word client with connect and read timeouts.
public struct TCPFourLetterClient: FourLetterClient {
    public init() {}

    public func send(_ word: String, address: String, port: Int, timeout: Double) throws -> String {
        let ep = "\(address):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, String(port), &hints, &res) == 0, let ai = res else {
            throw ProbeError(endpoint: ep, message: "cannot resolve")
        }
        defer { freeaddrinfo(ai) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw ProbeError(endpoint: ep, message: "socket failed") }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let deadline = Date().addingTimeInterval(timeout)
        func wait(_ events: Int32) throws {
            let ms = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            if ms == 0 || poll(&p, 1, ms) <= 0 { throw ProbeError(endpoint: ep, message: "timed out") }
        }
        if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw ProbeError(endpoint: ep, message: String(cString: strerror(errno))) }
            try wait(POLLOUT)
            var err: Int32 = 0
            var len = socklen_t(4)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { throw ProbeError(endpoint: ep, message: String(cString: strerror(err))) }
        }
        let bytes = Array(word.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if errno == EAGAIN { try wait(POLLOUT); continue }
            throw ProbeError(endpoint: ep, message: String(cString: strerror(errno)))
        }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBufferPointer { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += buf[0..<n]; continue }
            if n == 0 { break }
            if errno == EAGAIN { try wait(POLLIN); continue }
            if errno == ECONNRESET && !out.isEmpty { break }
            throw ProbeError(endpoint: ep, message: String(cString: strerror(errno)))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
