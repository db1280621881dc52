import Foundation
import ZKSSH

/// A failure on one host: which host, which step, and the remote stderr if any.
public struct OpsError: Error, CustomStringConvertible, Sendable, Codable {
    public var host: String
    public var step: String
    public var message: String
    /// Remote stderr or a log tail, when there is one.
    public var detail: String?

    public init(host: String, step: String, _ message: String, detail: String? = nil) {
        self.host = host; self.step = step; self.message = message; self.detail = detail
    }

    public var description: String {
        var s = "\(host): \(step): \(message)"
        if let d = detail?.trimmingCharacters(in: .whitespacesAndNewlines), !d.isEmpty {
            s += "\n" + d.split(separator: "\n", omittingEmptySubsequences: false).map { "    | " + $0 }.joined(separator: "\n")
        }
        return s
    }

    /// Wraps any error (SSHError keeps its own step) for `host`.
    public static func wrap(_ error: any Error, host: String, step: String) -> OpsError {
        if let e = error as? OpsError { return e }
        if let e = error as? SSHError { return OpsError(host: host, step: e.step, "\(e.message)") }
        return OpsError(host: host, step: step, "\(error)")
    }
}

/// What deploy needs from a host: run a command, write a file atomically.
/// One connection belongs to one thread.
public protocol HostConnection: AnyObject {
    /// Runs `command` with /bin/sh semantics; returns status, stdout and stderr.
    func exec(_ command: String, timeout: Double?) throws -> ExecResult
    /// Runs `command` with `stdin` as its standard input (deploy streams a ustar archive).
    func exec(_ command: String, stdin: Data, timeout: Double?) throws -> ExecResult
    /// Writes bytes to `path` with `mode`, atomically (temp name + rename).
    func write(_ data: Data, to path: String, mode: Int32) throws
    func close()
}

extension HostConnection {
    /// Runs a command; a non-zero exit throws `OpsError` with the remote stderr.
    @discardableResult
    public func run(_ command: String, stdin: Data? = nil, host: String, step: String, timeout: Double? = nil) throws -> ExecResult {
        let r: ExecResult
        do {
            if let stdin { r = try exec(command, stdin: stdin, timeout: timeout) } else { r = try exec(command, timeout: timeout) }
        } catch { throw OpsError.wrap(error, host: host, step: step) }
        guard r.status == 0 else {
            let err = r.stderrString.isEmpty ? r.stdoutString : r.stderrString
            throw OpsError(host: host, step: step, "exit status \(r.status)", detail: String(err.suffix(2000)))
        }
        return r
    }
}

/// Opens connections; injected so tests can use fakes.
public protocol ConnectionFactory: Sendable {
    func connect(_ host: HostSpec) throws -> any HostConnection
}

/// SSH (libssh2) for `connection: ssh` hosts, this machine for `connection: local`.
public struct DefaultConnectionFactory: ConnectionFactory {
    public var hostKeyPolicy: HostKeyPolicy
    public var timeout: Double

    public init(hostKeyPolicy: HostKeyPolicy = .strict, timeout: Double = 10) {
        self.hostKeyPolicy = hostKeyPolicy
        self.timeout = timeout
    }

    public func connect(_ host: HostSpec) throws -> any HostConnection {
        switch host.connection {
        case .local:
            return LocalConnection()
        case .ssh:
            let t = SSHTarget(address: host.address, port: host.ssh.port, user: host.ssh.user,
                              auth: SSHAuth(identityFile: host.ssh.identityFile, passphraseEnv: host.ssh.passphraseEnv),
                              knownHosts: host.ssh.knownHosts, hostKeyPolicy: hostKeyPolicy, timeout: timeout)
            do {
                let start = Date()
                let c = SSHConnection(try SSHSession(t), label: host.name)
                trace(host.name, "connect", start)
                return c
            } catch {
                throw OpsError.wrap(error, host: host.name, step: "connect")
            }
        }
    }
}

/// A libssh2 session as a `HostConnection`.
public final class SSHConnection: HostConnection {
    let session: SSHSession
    let label: String
    public init(_ session: SSHSession, label: String = "") { self.session = session; self.label = label }
    public func exec(_ command: String, timeout: Double?) throws -> ExecResult {
        let start = Date()
        defer { trace(label, Self.traced(command), start) }
        return try session.exec(command, timeout: timeout)
    }
    public func exec(_ command: String, stdin: Data, timeout: Double?) throws -> ExecResult {
        let start = Date()
        defer { trace(label, Self.traced(command) + " (stdin \(stdin.count) bytes)", start) }
        return try session.exec(command, stdin: stdin, timeout: timeout)
    }
    /// A command as a trace line shows it: whole with ZKOPS_TRACE=2, else its start on one line.
    static func traced(_ command: String) -> String {
        "exec " + (traceFull ? command : command.prefix(60).replacingOccurrences(of: "\n", with: " "))
    }
    public func write(_ data: Data, to path: String, mode: Int32) throws {
        let start = Date()
        defer { trace(label, "write \(path) (\(data.count) bytes)", start) }
        try session.upload(data, to: path, mode: mode)
    }
    public func close() { session.close() }
}

/// This machine, for `connection: local`.
public final class LocalConnection: HostConnection {
    public init() {}

    public func exec(_ command: String, timeout: Double?) throws -> ExecResult {
        try exec(command, stdinFile: "/dev/null", timeout: timeout)
    }

    public func exec(_ command: String, stdin: Data, timeout: Double?) throws -> ExecResult {
        let path = NSTemporaryDirectory() + "zkops-stdin-\(getpid())-\(UUID().uuidString.prefix(8))"
        let err = createFileCloseOnExec(path, stdin, mode: 0o600)
        defer { unlink(path) }
        guard err == 0 else {
            throw OpsError(host: "local", step: command, "cannot create \(path): \(String(cString: strerror(err)))")
        }
        return try exec(command, stdinFile: path, timeout: timeout)
    }

    private func exec(_ command: String, stdinFile: String, timeout: Double?) throws -> ExecResult {
        // Output goes to temporary files, not pipes: a server the command starts in the
        // background may inherit a pipe's write end and we would wait for EOF forever.
        let base = NSTemporaryDirectory() + "zkops-local-\(getpid())-\(UUID().uuidString.prefix(8))"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer { unlink(base + ".out"); unlink(base + ".err") }
        // posix_spawn + waitpid rather than Foundation.Process: Process notices the exit
        // through a descriptor the child inherits, which a detached server keeps open.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinFile, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_TRUNC, 0o600)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard rc == 0 else { throw OpsError(host: "local", step: command, "spawn failed: \(String(cString: strerror(rc)))") }
        let deadline = Date().addingTimeInterval(timeout ?? 300)
        var status: Int32 = 0
        while true {
            let w = waitpid(pid, &status, WNOHANG)
            if w == pid { break }
            if w < 0 && errno != EINTR { throw OpsError(host: "local", step: command, "waitpid failed") }
            if Date() > deadline {
                kill(pid, SIGTERM)
                _ = waitpid(pid, &status, 0)
                throw OpsError(host: "local", step: command, "timed out after \(Int(timeout ?? 300))s")
            }
            usleep(5000)
        }
        // WIFEXITED/WEXITSTATUS are macros: decode by hand.
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let o = FileManager.default.contents(atPath: base + ".out") ?? Data()
        let e = FileManager.default.contents(atPath: base + ".err") ?? Data()
        return ExecResult(status: exitStatus, stdout: o, stderr: e)
    }

    public func write(_ data: Data, to path: String, mode: Int32) throws {
        let tmp = "\(path).zkops-tmp.\(getpid())"
        // O_CLOEXEC: hosts are deployed on parallel threads, and a server another thread
        // starts meanwhile (posix_spawn above) must not inherit this descriptor. It would keep
        // it open as long as it runs, and exec of this file (the zkserver binary of another
        // local host) would then fail with "Text file busy". FileManager.createFile does not
        // set the flag.
        let err = createFileCloseOnExec(tmp, data, mode: mode_t(mode))
        guard err == 0 else {
            unlink(tmp)
            throw OpsError(host: "local", step: "write \(path)", "cannot create \(tmp): \(String(cString: strerror(err)))")
        }
        chmod(tmp, mode_t(mode))
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw OpsError(host: "local", step: "write \(path)", String(cString: strerror(errno)))
        }
    }

    public func close() {}
}

/// Creates (truncates) `path` with O_CLOEXEC and writes `data`; returns 0 or the errno.
private func createFileCloseOnExec(_ path: String, _ data: Data, mode: mode_t) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return errno }
    var err: Int32 = 0
    data.withUnsafeBytes { buf in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                err = errno
                return
            }
            off += n
        }
    }
    if close(fd) != 0 && err == 0 { err = errno }
    return err
}

/// Runs `body` for every item on its own thread (libssh2: one session per host per
/// thread) and returns the results in input order. Never throws: bodies return results.
public func inParallel<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) -> R) -> [R] {
    let slots = _Slots<R>(items.count)
    let group = DispatchGroup()
    for (i, item) in items.enumerated() {
        group.enter()
        let t = Thread {
            let r = body(item)
            slots.lock.withLock { slots.values[i] = r }
            group.leave()
        }
        t.stackSize = 4 << 20
        t.start()
    }
    group.wait()
    return slots.values.map { $0! }
}

final class _Slots<R>: @unchecked Sendable {
    let lock = NSLock()
    var values: [R?]
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
}

/// `ZKOPS_TRACE=1`: one stderr line per SSH action with its duration, to see where time goes.
let traceEnabled = ["1", "2"].contains(ProcessInfo.processInfo.environment["ZKOPS_TRACE"] ?? "")
let traceFull = ProcessInfo.processInfo.environment["ZKOPS_TRACE"] == "2"
private let traceStart = Date()

func trace(_ host: String, _ what: @autoclosure () -> String, _ since: Date) {
    guard traceEnabled else { return }
    let now = Date()
    let line = String(format: "trace %7.3f %@ %@ (%.3fs)\n", now.timeIntervalSince(traceStart), host, what(), now.timeIntervalSince(since))
    FileHandle.standardError.write(Data(line.utf8))
}
