import Chain
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Progress of long work on standard error: a line redrawn in place (rate and ETA) on a terminal,
/// plain periodic lines when not a TTY (logs, pipes). Silent when disabled.
public final class Progress: @unchecked Sendable {
    public let isTerminal: Bool
    let enabled: Bool
    let interval: Double
    let start = Date()
    var lastPrint = Date.distantPast
    var drewLine = false

    /// `interval`: seconds between plain lines (a terminal redraws at most every 0.2 s).
    public init(enabled: Bool = true, interval: Double = 5) {
        self.enabled = enabled
        self.interval = interval
        isTerminal = isatty(2) == 1
    }

    /// Reports `done` of `total` units (0: unknown) of `phase`, with optional transactions.
    public func update(_ phase: String, done: UInt64, total: UInt64, transactions: UInt64? = nil, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        let gap = now.timeIntervalSince(lastPrint)
        guard force || gap >= (isTerminal ? 0.2 : interval) else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        var text = "\(phase): \(done)" + (total > 0 ? "/\(total)" : "")
        if phase == "blocks" || phase == "replay" {
            text += String(format: ", %.1f blocks/s", Double(done) / elapsed)
            if let transactions { text += String(format: ", %.1f txs/s", Double(transactions) / elapsed) }
        } else {
            text += String(format: ", %.1f/s", Double(done) / elapsed)
        }
        if total > done, done > 0 {
            let eta = Double(total - done) / (Double(done) / elapsed)
            text += ", ETA " + Self.duration(eta)
        }
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
            drewLine = true
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Ends the in-place line, if one was drawn.
    public func finish() {
        guard enabled, isTerminal, drewLine else { return }
        FileHandle.standardError.write(Data("\n".utf8))
        drewLine = false
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }

    /// A sink for `verify` and other phases.
    public var sink: ProgressSink { { [self] phase, done, total in update(phase, done: done, total: total) } }
}
