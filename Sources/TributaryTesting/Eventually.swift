import Foundation

/// Polls `condition` every `interval` until it holds or `seconds` pass, then asks once more: true
/// when it held. THE wait of the tests and the fault suite.
public func eventually(
    _ seconds: Double, every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
