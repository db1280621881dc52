#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a server process's CPU time and resident memory from /proc (Linux only).
enum ProcStats {
    /// utime + stime of all the process's threads, in seconds; nil when unreadable.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = readFile("/proc/\(pid)/stat"),
              let paren = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: paren)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (utime + stime) / (ticks > 0 ? ticks : 100)
    }

    /// VmRSS in KiB; nil when unreadable.
    static func rssKiB(pid: Int32) -> Int? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:\t  123456 kB"
            let parts = line.dropFirst(6).split(whereSeparator: { (c: Character) -> Bool in c == " " || c == "\t" })
            guard let first = parts.first else { return nil }
            return Int(String(first))
        }
        return nil
    }

    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
