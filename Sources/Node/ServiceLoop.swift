import Logging
import ServiceLifecycle
import Storage

/// THE loop of the node's background services (batcher, proposer, challenger, relayer, watcher,
/// derivation): runs a step until shutdown and classifies every error in one place. A fatal
/// storage error (the disk is full, the store is damaged) ends the loop by being thrown, which
/// stops the process; a call cut short by shutdown ends it quietly; anything else (the L1 or a
/// peer unreachable, a refused call) is logged once per distinct message and retried — after the
/// interval, or after an exponential backoff when the service asks for one.
struct ServiceLoop: Sendable {
    /// How long to wait before the next step.
    enum Pace: Sendable {
        /// Always the same interval.
        case every(Duration)
        /// `idle` after a step that found nothing to do, at once after one that did; after a
        /// failure, 100 ms doubling up to `maxBackoff`, reset by the next success.
        case backoff(idle: Duration, maxBackoff: Duration)
        /// After each update of `stream` (the L1 watcher's): the service consumes events.
        case updates(AsyncStream<Void>)
    }

    let name: String
    let pace: Pace
    let logger: Logger
    /// The level failures are logged at (a challenger's misses are routine: debug).
    var failureLevel: Logger.Level = .warning

    /// Runs `step` (true: it did something) until shutdown; `failed` sees every non-fatal error
    /// first (for a service's own counters and status). Cancelled at graceful shutdown, so a call
    /// in flight to another process is not waited for.
    func run(
        failed: @escaping @Sendable (any Error) -> Void = { _ in }, succeeded: @escaping @Sendable () -> Void = {},
        _ step: @escaping @Sendable () async throws -> Bool
    ) async throws {
        try await cancelWhenGracefulShutdown { try await self.loop(failed: failed, succeeded: succeeded, step) }
    }

    func loop(
        failed: @Sendable (any Error) -> Void, succeeded: @Sendable () -> Void,
        _ step: @Sendable () async throws -> Bool
    ) async throws {
        var lastError = ""
        var backoff: Duration = .milliseconds(100)
        var events: AsyncStream<Void>.AsyncIterator?
        if case .updates(let stream) = pace {
            events = stream.makeAsyncIterator()
            // The first step waits for the first update too.
            guard await events?.next() != nil else { return }
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let wait: Duration
            do {
                let worked = try await step()
                lastError = ""
                succeeded()
                switch pace {
                case .every(let interval): wait = interval
                case .backoff(let idle, _):
                    backoff = .milliseconds(100)
                    wait = worked ? .zero : idle
                case .updates: wait = .zero
                }
            } catch {
                if let fatal = StorageError.fatal(error) { throw fatal }
                // A call cut short by shutdown is no failure.
                if Task.isCancelled { break }
                failed(error)
                switch pace {
                case .every(let interval): wait = interval
                case .backoff(_, let maxBackoff):
                    wait = backoff
                    backoff = min(backoff * 2, maxBackoff)
                case .updates: wait = .zero
                }
                let text = "\(error)"
                if text != lastError {
                    logger.log(
                        level: failureLevel, "\(name) failed; retrying",
                        metadata: ["error": "\(text)", "retry.in": "\(events == nil ? "\(wait)" : "the next L1 update")"])
                }
                lastError = text
            }
            if wait > .zero { try? await Task.sleep(for: wait) }
            if events != nil, await events?.next() == nil { break }
        }
    }
}
