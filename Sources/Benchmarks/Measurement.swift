import Foundation

/// One figure of a benchmark report: the median of its repetitions.
public struct Figure: Codable, Sendable, Equatable {
    /// The report section, e.g. `lmdb`.
    public var section: String
    /// What was measured, e.g. `raw C API puts`.
    public var name: String
    /// The median over the repetitions.
    public var median: Double
    /// The unit, e.g. `puts/s`.
    public var unit: String
    /// Every repetition's value, in run order.
    public var samples: [Double]
    /// Context: sizes, ratios to the baseline, targets.
    public var note: String

    public init(section: String, name: String, samples: [Double], unit: String, note: String = "") {
        self.section = section
        self.name = name
        self.samples = samples
        self.median = Figure.median(samples)
        self.unit = unit
        self.note = note
    }

    /// The median of `values` (the mean of the middle two for an even count); 0 when empty.
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Wall-clock timing for benchmarks (never used inside the state machine).
public enum Stopwatch {
    /// Runs `body` and returns its result with the elapsed seconds.
    public static func time<R>(_ body: () throws -> R) rethrows -> (R, Double) {
        let clock = ContinuousClock()
        var result: R?
        let elapsed = try clock.measure { result = try body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (result!, seconds)
    }
}

/// Renders figures as an aligned text table.
public func renderTable(_ figures: [Figure]) -> String {
    let rows = figures.map { f in
        [f.section, f.name, formatNumber(f.median), f.unit, f.note]
    }
    let header = ["section", "measurement", "median", "unit", "note"]
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            i == 2
                ? String(repeating: " ", count: widths[i] - cell.count) + cell
                : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(
        separator: "\n")
}

/// A number with thousands separators and sensible precision.
public func formatNumber(_ value: Double) -> String {
    if value >= 100 {
        let rounded = Int(value.rounded())
        var digits = Array(String(rounded))
        var i = digits.count - 3
        while i > 0 {
            digits.insert(",", at: i)
            i -= 3
        }
        return String(digits)
    }
    if value >= 10 { return String(format: "%.1f", value) }
    return String(format: "%.2f", value)
}

/// The `p`-quantile (0…1) of `values` by nearest rank; 0 when empty.
public func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}
