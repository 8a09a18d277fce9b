import Foundation

/// What Linux's `/proc` says about a running process: its resident memory now and at its peak, and
/// the CPU time it has used. Benchmarks read it for their child processes and for themselves.
struct ProcessStats: Sendable {
    /// Resident set size now (`VmRSS`), bytes.
    var residentBytes: Int
    /// The largest resident set size so far (`VmHWM`), bytes.
    var peakResidentBytes: Int
    /// User plus system CPU time (`utime` + `stime` of `/proc/<pid>/stat`), seconds.
    var cpuSeconds: Double

    /// The statistics of process `pid`, or nil when `/proc` cannot tell (the process is gone, or
    /// this is not Linux).
    static func read(pid: Int32) -> ProcessStats? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        func kilobytes(_ field: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else {
                return nil
            }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
        // Counting from field 3 (the state), utime and stime are fields 14 and 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard let rss = kilobytes("VmRSS"), let peak = kilobytes("VmHWM"), fields.count > 12,
            let user = Double(fields[11]), let system = Double(fields[12])
        else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessStats(
            residentBytes: rss * 1024, peakResidentBytes: peak * 1024, cpuSeconds: (user + system) / ticks)
    }

    /// The statistics of the calling process.
    static func current() -> ProcessStats? { read(pid: getpid()) }
}

/// The size in bytes of the file at `path`, or nil when it does not exist.
func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
}
