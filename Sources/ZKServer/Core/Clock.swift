#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cheap clocks for the hot path (no Foundation).
enum Clock {
    /// Monotonic nanoseconds, for latencies and session expiry.
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
    static func monotonicMillis() -> Int64 { Int64(monotonicNanos() / 1_000_000) }
    /// Wall-clock milliseconds since the epoch, for ctime/mtime.
    static func wallMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
