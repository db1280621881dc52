import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What to do with a host key that is not in known_hosts.
public enum HostKeyPolicy: String, Sendable, CaseIterable {
    /// Refuse unknown and changed keys (the default, like StrictHostKeyChecking=yes).
    case strict
    /// Add unknown keys to known_hosts, refuse changed ones (StrictHostKeyChecking=accept-new).
    case acceptNew = "accept-new"
}

/// How to authenticate.
public struct SSHAuth: Sendable {
    /// A private key file; nil means use ssh-agent ($SSH_AUTH_SOCK).
    public var identityFile: String?
    /// Name of the environment variable holding the key's passphrase (never argv).
    public var passphraseEnv: String

    public init(identityFile: String?, passphraseEnv: String = "ZKOPS_SSH_PASSPHRASE") {
        self.identityFile = identityFile
        self.passphraseEnv = passphraseEnv
    }
}

/// Everything needed to open one SSH connection.
public struct SSHTarget: Sendable {
    public var address: String
    public var port: Int
    public var user: String
    public var auth: SSHAuth
    /// Path of the OpenSSH known_hosts file.
    public var knownHosts: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Seconds allowed for the TCP connect and for each blocking libssh2 step.
    public var timeout: Double

    public init(address: String, port: Int = 22, user: String, auth: SSHAuth, knownHosts: String,
                hostKeyPolicy: HostKeyPolicy = .strict, timeout: Double = 10) {
        self.address = address
        self.port = port
        self.user = user
        self.auth = auth
        self.knownHosts = knownHosts
        self.hostKeyPolicy = hostKeyPolicy
        self.timeout = timeout
    }

    /// "address:port", used in error messages.
    public var label: String { "\(address):\(port)" }
}

/// The result of a remote command.
public struct ExecResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrString: String { String(decoding: stderr, as: UTF8.self) }

    public init(status: Int32, stdout: Data, stderr: Data) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// `libssh2_init` exactly once per process, before any session exists.
private let libssh2Initialised: Bool = {
    libssh2_init(0) == 0
}()

/// One SSH connection to one host. Not thread-safe by design: libssh2 forbids sharing a
/// session (or its channels) between threads, so each host's work runs on one thread
/// that owns its session.
///
/// The session runs in non-blocking mode and every call is driven by `poll(2)` on the
/// socket with a deadline: that gives real timeouts, and lets `exec` drain stdout and
/// stderr together so a chatty stderr cannot stall the channel window.
public final class SSHSession {
    public let target: SSHTarget
    private var fd: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: OpaquePointer?

    /// Connects, verifies the host key and authenticates. Throws `SSHError` naming the step.
    public init(_ target: SSHTarget) throws {
        self.target = target
        guard libssh2Initialised else {
            throw SSHError(.local, host: target.label, step: "init", "libssh2_init failed")
        }
        do {
            try connectSocket()
            guard let s = libssh2_session_init_ex(nil, nil, nil, nil) else {
                throw SSHError(.local, host: target.label, step: "session", "libssh2_session_init_ex failed")
            }
            session = s
            libssh2_session_set_blocking(s, 0)
            try drive("handshake", .connect) { libssh2_session_handshake(s, self.fd) }
            try verifyHostKey()
            try authenticate()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Ends the session and closes the socket (idempotent).
    public func close() {
        if let sftp { _ = libssh2_sftp_shutdown(sftp) }
        sftp = nil
        if let session {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, 2000)
            _ = libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "bye", "")
            _ = libssh2_session_free(session)
        }
        session = nil
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    // MARK: socket

    private func connectSocket() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.address, String(target.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SSHError(.connect, host: target.label, step: "connect", "cannot resolve \(target.address): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s < 0 { lastError = String(cString: strerror(errno)); continue }
            let flags = fcntl(s, F_GETFL)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            var r = Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                let pr = poll(&p, 1, Int32(target.timeout * 1000))
                if pr == 0 {
                    Glibc.close(s)
                    lastError = "connect timed out after \(target.timeout)s"
                    continue
                }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                r = err == 0 ? 0 : -1
                if err != 0 { errno = err }
            }
            if r == 0 {
                fd = s
                return
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(s)
        }
        throw SSHError(.connect, host: target.label, step: "connect", lastError)
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on.
    private func waitSocket(until deadline: Date) -> Bool {
        guard let session else { return false }
        let dirs = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if dirs & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        let ms = max(0, Int32(deadline.timeIntervalSinceNow * 1000))
        if ms == 0 { return false }
        var p = pollfd(fd: fd, events: events, revents: 0)
        return poll(&p, 1, min(ms, 1000)) >= 0
    }

    /// Repeats a libssh2 call while it says EAGAIN, bounded by the target timeout.
    @discardableResult
    private func drive(_ step: String, _ kind: SSHError.Kind, timeout: Double? = nil, _ call: () -> Int32) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout ?? target.timeout)
        while true {
            let rc = call()
            if rc != LIBSSH2_ERROR_EAGAIN {
                if rc < 0 { throw SSHError(kind, host: target.label, step: step, lastError(rc)) }
                return rc
            }
            if Date() >= deadline || !waitSocket(until: deadline) {
                throw SSHError(.timeout, host: target.label, step: step, "timed out after \(timeout ?? target.timeout)s")
            }
        }
    }

    /// Like `drive` for calls returning a pointer (nil + EAGAIN means retry).
    private func drivePointer(_ step: String, _ kind: SSHError.Kind, _ call: () -> OpaquePointer?) throws -> OpaquePointer {
        let deadline = Date().addingTimeInterval(target.timeout)
        while true {
            if let p = call() { return p }
            let code = libssh2_session_last_errno(session)
            if code != LIBSSH2_ERROR_EAGAIN {
                throw SSHError(kind, host: target.label, step: step, lastError(code))
            }
            if Date() >= deadline || !waitSocket(until: deadline) {
                throw SSHError(.timeout, host: target.label, step: step, "timed out after \(target.timeout)s")
            }
        }
    }

    private func lastError(_ rc: Int32) -> String {
        guard let session else { return "libssh2 error \(rc)" }
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        _ = libssh2_session_last_error(session, &msg, &len, 0)
        let text = msg.map { String(cString: $0) } ?? ""
        return text.isEmpty ? "libssh2 error \(rc)" : "\(text) (libssh2 \(rc))"
    }

    // MARK: host key

    /// The server's host key: OpenSSH type name, raw blob, and "SHA256:…" fingerprint.
    public struct HostKey: Sendable {
        public var typeName: String
        public var blob: Data
        public var fingerprint: String
        public var knownHostType: Int32
    }

    private func hostKey() throws -> HostKey {
        guard let session else { throw SSHError(.local, host: target.label, step: "host key", "no session") }
        var len = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &len, &type) else {
            throw SSHError(.hostKeyUnknown, host: target.label, step: "host key", "server sent no host key")
        }
        let blob = Data(bytes: raw, count: len)
        let (name, kh): (String, Int32)
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: (name, kh) = ("ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA)
        case LIBSSH2_HOSTKEY_TYPE_DSS: (name, kh) = ("ssh-dss", LIBSSH2_KNOWNHOST_KEY_SSHDSS)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: (name, kh) = ("ecdsa-sha2-nistp256", LIBSSH2_KNOWNHOST_KEY_ECDSA_256)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: (name, kh) = ("ecdsa-sha2-nistp384", LIBSSH2_KNOWNHOST_KEY_ECDSA_384)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: (name, kh) = ("ecdsa-sha2-nistp521", LIBSSH2_KNOWNHOST_KEY_ECDSA_521)
        case LIBSSH2_HOSTKEY_TYPE_ED25519: (name, kh) = ("ssh-ed25519", LIBSSH2_KNOWNHOST_KEY_ED25519)
        default: (name, kh) = ("unknown", LIBSSH2_KNOWNHOST_KEY_UNKNOWN)
        }
        // OpenSSH prints SHA256 fingerprints as unpadded base64.
        var fp = SHA256.hexToData(SHA256.hex(blob)).base64EncodedString()
        while fp.hasSuffix("=") { fp.removeLast() }
        return HostKey(typeName: name, blob: blob, fingerprint: "SHA256:" + fp, knownHostType: kh)
    }

    private func verifyHostKey() throws {
        guard let session else { return }
        let key = try hostKey()
        guard let kh = libssh2_knownhost_init(session) else {
            throw SSHError(.knownHosts, host: target.label, step: "host key", "libssh2_knownhost_init failed")
        }
        defer { libssh2_knownhost_free(kh) }
        if FileManager.default.fileExists(atPath: target.knownHosts) {
            if libssh2_knownhost_readfile(kh, target.knownHosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 {
                throw SSHError(.knownHosts, host: target.label, step: "host key", "cannot read known_hosts \(target.knownHosts)")
            }
        }
        let mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key.knownHostType
        let rc = key.blob.withUnsafeBytes { raw in
            libssh2_knownhost_checkp(kh, target.address, Int32(target.port),
                                     raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, mask, nil)
        }
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw SSHError(.hostKeyChanged, host: target.label, step: "host key",
                           "HOST KEY CHANGED: the server offers \(key.typeName) \(key.fingerprint), which does not match \(target.knownHosts); refusing (remove the old entry if the change is expected)")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            guard target.hostKeyPolicy == .acceptNew else {
                throw SSHError(.hostKeyUnknown, host: target.label, step: "host key",
                               "unknown host key \(key.typeName) \(key.fingerprint) (not in \(target.knownHosts)); verify it and add it, or pass --accept-new-host-keys")
            }
            try appendKnownHost(key)
        default:
            throw SSHError(.knownHosts, host: target.label, step: "host key", "known_hosts check failed")
        }
    }

    /// Appends one OpenSSH-format line; we append rather than rewrite so the user's
    /// file (comments, hashed entries, markers) is left as it was.
    private func appendKnownHost(_ key: HostKey) throws {
        let name = target.port == 22 ? target.address : "[\(target.address)]:\(target.port)"
        let line = "\(name) \(key.typeName) \(key.blob.base64EncodedString())\n"
        let path = target.knownHosts
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let f = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard f >= 0 else {
            throw SSHError(.knownHosts, host: target.label, step: "host key", "cannot append to \(path): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(f) }
        _ = line.withCString { write(f, $0, strlen($0)) }
    }

    // MARK: auth

    private func authenticate() throws {
        guard let session else { return }
        let user = target.user
        if let identity = target.auth.identityFile {
            let path = (identity as NSString).expandingTildeInPath
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SSHError(.auth, host: target.label, step: "auth", "identity file \(path) is missing or unreadable")
            }
            let pub = path + ".pub"
            let hasPub = FileManager.default.fileExists(atPath: pub)
            let passphrase = ProcessInfo.processInfo.environment[target.auth.passphraseEnv]
            do {
                try drive("auth", .auth) {
                    libssh2_userauth_publickey_fromfile_ex(session, user, UInt32(user.utf8.count),
                                                           hasPub ? pub : nil, path, passphrase)
                }
            } catch var e as SSHError {
                if e.kind == .auth {
                    e.message = "public key \(path) refused for user \(user): \(e.message)"
                    if passphrase == nil {
                        e.message += " (if the key has a passphrase, put it in $\(target.auth.passphraseEnv))"
                    }
                }
                throw e
            }
            return
        }
        try agentAuth(session)
    }

    private func agentAuth(_ session: OpaquePointer) throws {
        guard ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"] != nil else {
            throw SSHError(.auth, host: target.label, step: "auth", "no identityFile given and no ssh-agent ($SSH_AUTH_SOCK unset)")
        }
        // Agent calls are simple request/response over a unix socket: run them blocking.
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, Int(target.timeout * 1000))
        defer { libssh2_session_set_blocking(session, 0) }
        guard let agent = libssh2_agent_init(session) else {
            throw SSHError(.auth, host: target.label, step: "auth", "libssh2_agent_init failed")
        }
        defer { libssh2_agent_disconnect(agent); libssh2_agent_free(agent) }
        guard libssh2_agent_connect(agent) == 0, libssh2_agent_list_identities(agent) == 0 else {
            throw SSHError(.auth, host: target.label, step: "auth", "cannot talk to ssh-agent: \(lastError(-1))")
        }
        var prev: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        while libssh2_agent_get_identity(agent, &identity, prev) == 0 {
            if libssh2_agent_userauth(agent, target.user, identity) == 0 { return }
            prev = identity
        }
        throw SSHError(.auth, host: target.label, step: "auth", "no ssh-agent identity accepted for user \(target.user)")
    }

    // MARK: exec

    /// Runs a command (through the remote user's shell), optionally feeding stdin, and
    /// collects stdout, stderr and the exit status. `timeout` bounds the whole command.
    public func exec(_ command: String, stdin: Data? = nil, timeout: Double? = nil) throws -> ExecResult {
        guard let session else { throw SSHError(.local, host: target.label, step: "exec", "closed") }
        let step = "exec: " + (command.count > 80 ? String(command.prefix(77)) + "..." : command)
        let channel = try drivePointer(step, .channel) {
            libssh2_channel_open_ex(session, "session", 7, UInt32(2 * 1024 * 1024),
                                    UInt32(LIBSSH2_CHANNEL_PACKET_DEFAULT), nil, 0)
        }
        defer { _ = libssh2_channel_free(channel) }
        try drive(step, .exec) {
            libssh2_channel_process_startup(channel, "exec", 4, command, UInt32(command.utf8.count))
        }
        var out = Data(), err = Data()
        var buf = [CChar](repeating: 0, count: 32768)
        let limit = timeout ?? max(target.timeout, 60)
        let deadline = Date().addingTimeInterval(limit)
        // Reads what has arrived on stdout and stderr; true if anything did.
        func drain() throws -> Bool {
            var progressed = false
            for (stream, isErr) in [(Int32(0), false), (Int32(SSH_EXTENDED_DATA_STDERR), true)] {
                while true {
                    let n = buf.withUnsafeMutableBufferPointer { libssh2_channel_read_ex(channel, stream, $0.baseAddress, $0.count) }
                    if n > 0 {
                        let chunk = buf.withUnsafeBufferPointer { Data(bytes: $0.baseAddress!, count: n) }
                        if isErr { err.append(chunk) } else { out.append(chunk) }
                        progressed = true
                        continue
                    }
                    if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 { break }
                    throw SSHError(.exec, host: target.label, step: step, lastError(Int32(truncatingIfNeeded: n)))
                }
            }
            return progressed
        }
        // A command that stops reading (it failed) ends the stdin stream; its exit status and
        // stderr then say why, rather than a bare write error.
        var stdinFailure: String?
        if let stdin, !stdin.isEmpty {
            var offset = 0
            try stdin.withUnsafeBytes { raw in
                while offset < raw.count {
                    let n = libssh2_channel_write_ex(channel, 0,
                        raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), min(raw.count - offset, 1 << 20))
                    if n > 0 { offset += n; continue }
                    if n == Int(LIBSSH2_ERROR_EAGAIN) {
                        // Keep reading meanwhile: a command blocked on a full stdout would never read on.
                        if try drain() { continue }
                        if libssh2_channel_eof(channel) != 0 { stdinFailure = "the command stopped reading its input"; return }
                        if Date() >= deadline || !waitSocket(until: deadline) {
                            throw SSHError(.timeout, host: target.label, step: step + " (stdin)", "command did not finish within \(limit)s")
                        }
                        continue
                    }
                    stdinFailure = lastError(Int32(truncatingIfNeeded: n))
                    return
                }
            }
        }
        if stdinFailure == nil { try drive(step + " (eof)", .exec) { libssh2_channel_send_eof(channel) } }

        while true {
            let progressed = try drain()
            if libssh2_channel_eof(channel) != 0 { break }
            if progressed { continue }
            if Date() >= deadline || !waitSocket(until: deadline) {
                throw SSHError(.timeout, host: target.label, step: step, "command did not finish within \(limit)s")
            }
        }
        try drive(step + " (close)", .exec) { libssh2_channel_close(channel) }
        try drive(step + " (close)", .exec) { libssh2_channel_wait_closed(channel) }
        let status = libssh2_channel_get_exit_status(channel)
        if let stdinFailure, status == 0 {
            throw SSHError(.exec, host: target.label, step: step + " (stdin)", stdinFailure)
        }
        return ExecResult(status: status, stdout: out, stderr: err)
    }

    /// Runs a command and throws (with its stderr) unless it exits 0.
    @discardableResult
    public func run(_ command: String, stdin: Data? = nil, timeout: Double? = nil) throws -> ExecResult {
        let r = try exec(command, stdin: stdin, timeout: timeout)
        guard r.status == 0 else {
            let detail = r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines)
            throw SSHError(.exec, host: target.label, step: command,
                           "exit \(r.status)" + (detail.isEmpty ? "" : ": \(detail)"))
        }
        return r
    }

    // MARK: sftp

    private func sftpHandle() throws -> OpaquePointer {
        if let sftp { return sftp }
        guard let session else { throw SSHError(.local, host: target.label, step: "sftp", "closed") }
        let s = try drivePointer("sftp init", .sftp) { libssh2_sftp_init(session) }
        sftp = s
        return s
    }

    /// Writes `data` to `path` with `mode`, atomically: the bytes go to a temporary name
    /// in the same directory (by SFTP), which is then chmod-ed and renamed into place, so a
    /// reader sees the old file or the new one, never half of it.
    public func upload(_ data: Data, to path: String, mode: Int32 = 0o644, timeout: Double? = nil) throws {
        let tmp = "\(path).zkops-tmp.\(getpid())"
        do {
            try uploadViaTemp(data, tmp: tmp, to: path, mode: mode, timeout: timeout)
        } catch {
            // Leave no partial temp file behind (best effort; the target was never touched).
            _ = try? exec("rm -f \(shellQuote(tmp))", timeout: 10)
            throw error
        }
    }

    private func uploadViaTemp(_ data: Data, tmp: String, to path: String, mode: Int32, timeout: Double?) throws {
        let s = try sftpHandle()
        let step = "upload \(path)"
        let handle = try drivePointer(step, .sftp) {
            libssh2_sftp_open_ex(s, tmp, UInt32(tmp.utf8.count),
                                 UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC),
                                 Int(mode), LIBSSH2_SFTP_OPENFILE)
        }
        var closed = false
        defer { if !closed { _ = libssh2_sftp_close_handle(handle) } }
        let deadline = Date().addingTimeInterval(timeout ?? max(target.timeout, 300))
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = libssh2_sftp_write(handle, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                                           min(raw.count - offset, 1 << 20))
                if n > 0 { offset += n; continue }
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    if Date() >= deadline || !waitSocket(until: deadline) {
                        throw SSHError(.timeout, host: target.label, step: step, "upload timed out")
                    }
                    continue
                }
                throw SSHError(.sftp, host: target.label, step: step, "write failed: \(lastError(Int32(truncatingIfNeeded: n))) (sftp status \(libssh2_sftp_last_error(s)))")
            }
        }
        try drive(step + " (close)", .sftp) { libssh2_sftp_close_handle(handle) }
        closed = true
        // OpenSSH's SFTP v3 rename refuses to overwrite, so rename(2) through the shell.
        let m = String(mode, radix: 8)
        try run("chmod \(m) \(shellQuote(tmp)) && mv -f \(shellQuote(tmp)) \(shellQuote(path)) || { rm -f \(shellQuote(tmp)); exit 1; }")
    }

    /// Uploads a local file (read whole; our files are tens of MB at most).
    public func upload(file localPath: String, to path: String, mode: Int32) throws {
        guard let data = FileManager.default.contents(atPath: localPath) else {
            throw SSHError(.local, host: target.label, step: "upload \(path)", "cannot read \(localPath)")
        }
        try upload(data, to: path, mode: mode)
    }
}

/// Single-quotes a string for a POSIX shell.
public func shellQuote(_ s: String) -> String {
    if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@%".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

extension SHA256 {
    static func hexToData(_ hex: String) -> Data {
        var d = Data()
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() {
            d.append(UInt8(String([a, b]), radix: 16)!)
        }
        return d
    }
}
