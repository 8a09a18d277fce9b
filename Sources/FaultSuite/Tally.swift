import Foundation

/// What the fault suite did and found: faults injected, operations checked, violations.
///
/// A check is one claim about the devnet that could have been false (an acknowledged transaction is
/// still in its block, a store verifies, an asset adds up). A violation is a check that failed; the
/// suite's verdict is the number of violations, which must be 0.
actor Tally {
    private(set) var injected: [String: Int] = [:]
    private(set) var checked = 0
    private(set) var violations: [String] = []
    let started = ContinuousClock.now

    /// Records one injected fault of `kind` (e.g. `kill -9 alpha`).
    func inject(_ kind: String, _ detail: String? = nil) {
        injected[kind, default: 0] += 1
        if let detail { log("fault: \(detail)") }
    }

    /// Records `count` injected faults of `kind` at once (the chaos proxy's tallies).
    func inject(_ kind: String, count: Int) { injected[kind, default: 0] += count }

    /// Records one check; a failed one is a violation, printed at once.
    func check(_ ok: Bool, _ claim: @autoclosure () -> String) {
        checked += 1
        if !ok { violate(claim()) }
    }

    /// Records `count` checks that all held.
    func passed(_ count: Int) { checked += count }

    /// Records a violation found outside a single check (a process that died, a timeout).
    func violate(_ what: String) {
        violations.append(what)
        log("VIOLATION: \(what)")
    }

    var injectedTotal: Int { injected.values.reduce(0, +) }

    /// Seconds since the suite started.
    nonisolated func elapsed() -> Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// A progress line on standard output, stamped with the seconds since the start.
    nonisolated func log(_ line: String) {
        FileHandle.standardOutput.write(Data((String(format: "[%7.1fs] ", elapsed()) + line + "\n").utf8))
    }

    /// The one line a script reads: `faults: injected=N checked=N violations=N seconds=N`, then the
    /// injected faults by kind.
    func summary() -> String {
        let kinds = injected.keys.sorted().map { "\($0)=\(injected[$0]!)" }.joined(separator: " ")
        return "faults: injected=\(injectedTotal) checked=\(checked) violations=\(violations.count) "
            + String(format: "seconds=%.0f", elapsed()) + (kinds.isEmpty ? "" : " | \(kinds)")
    }
}
