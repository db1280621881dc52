#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FourLetterEnvironment {
    /// The values `envi` reports for this process: host, OS (uname), user (passwd), working
    /// directory, executable and memory figures.
    public static func current() -> FourLetterEnvironment {
        var e = FourLetterEnvironment()
        var host = [CChar](repeating: 0, count: 256)
        if gethostname(&host, host.count - 1) == 0 { e.hostName = _cString(host) }
        #if compiler(>=6.3)
        e.runtimeVersion = "Swift 6.3"
        #elseif compiler(>=6.2)
        e.runtimeVersion = "Swift 6.2"
        #elseif compiler(>=6.1)
        e.runtimeVersion = "Swift 6.1"
        #else
        e.runtimeVersion = "Swift 6"
        #endif
        var u = utsname()
        if uname(&u) == 0 {
            e.osName = withUnsafeBytes(of: u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            e.osVersion = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let machine = withUnsafeBytes(of: u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            e.osArch = machine == "x86_64" ? "amd64" : machine
        }
        if let pw = getpwuid(geteuid()) {
            e.userName = String(cString: pw.pointee.pw_name)
            e.userHome = String(cString: pw.pointee.pw_dir)
        }
        var cwd = [CChar](repeating: 0, count: 4096)
        if getcwd(&cwd, cwd.count) != nil { e.userDir = _cString(cwd) }
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        if n > 0 {
            let path = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            e.classPath = path
            e.runtimeHome = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        }
        if let lib = getenv("LD_LIBRARY_PATH") { e.libraryPath = String(cString: lib) }
        if let tmp = getenv("TMPDIR") { e.tmpDir = String(cString: tmp) }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let phys = Int64(sysconf(Int32(_SC_PHYS_PAGES)))
        e.memoryMaxMB = page * phys / (1024 * 1024)
        #if os(Linux)
        let avail = Int64(sysconf(Int32(_SC_AVPHYS_PAGES)))
        e.memoryFreeMB = page * avail / (1024 * 1024)
        if let statm = _ConfigFiles.read("/proc/self/statm") {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let rss = Int64(fields[1]) { e.memoryTotalMB = rss * page / (1024 * 1024) }
        }
        #endif
        return e
    }

    private static func _cString(_ buf: [CChar]) -> String {
        String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
