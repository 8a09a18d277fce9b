import Foundation
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How many connections one server keeps and for how long (docs/security.md, "Connection limits").
///
/// A connection is idle from its accept, and from the end of each response, until the head of its
/// next request is complete: `idleTimeout` is also the header-read timeout. A request's body must
/// arrive within `bodyTimeout` of its head. Past `maxConnections` in all, or `maxPerAddress` from one
/// remote address, the longest-idle connection (of that address, for the per-address cap) is closed
/// to make room; when every one is busy the new connection is closed instead.
public struct ConnectionLimits: Sendable, Equatable {
    public var maxConnections: Int
    public var maxPerAddress: Int
    public var idleTimeout: Duration
    public var bodyTimeout: Duration

    public init(
        maxConnections: Int = 512, maxPerAddress: Int = 256, idleTimeout: Duration = .seconds(30),
        bodyTimeout: Duration = .seconds(30)
    ) {
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
    }

    /// The defaults: a devnet's clients (up to 64 rollup nodes with their connection pools, all on
    /// loopback, so one address) fit; a flood of idle sockets sheds itself.
    public static let devnet = ConnectionLimits()

    /// Raises the process's soft descriptor limit to its hard limit and returns the soft limit then
    /// in force, so the connection cap, not the descriptor table, decides who is refused.
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// These limits with the total cap lowered, if needed, to leave `reserve` descriptors (stores,
    /// logs, outgoing clients) below the soft limit `descriptors`.
    public func fitted(toDescriptors descriptors: Int, reserve: Int = 128) -> ConnectionLimits {
        var fitted = self
        fitted.maxConnections = max(1, min(maxConnections, descriptors - reserve))
        fitted.maxPerAddress = min(maxPerAddress, fitted.maxConnections)
        return fitted
    }
}

/// The connections of one server, by admission order, with when each became idle.
final class ConnectionRegistry: Sendable {
    struct Entry {
        var address: String
        var channel: any Channel
        /// Nil while a request is in flight.
        var idleSince: ContinuousClock.Instant?
    }

    struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perAddress: [String: Int] = [:]
    }

    let limits: ConnectionLimits
    let logger: Logger
    private let state = Mutex(State())

    init(limits: ConnectionLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Admits a new connection, closing the longest-idle one (or the new one) when a cap is passed.
    func admit(_ id: ObjectIdentifier, address: String, channel: any Channel) {
        let victims: [(any Channel, String)] = state.withLock { state in
            state.entries[id] = Entry(address: address, channel: channel, idleSince: .now)
            state.perAddress[address, default: 0] += 1
            var victims: [(any Channel, String)] = []
            if state.perAddress[address, default: 0] > limits.maxPerAddress {
                victims.append(Self.shed(&state, from: address, sparing: id, reason: "per-address cap"))
            }
            if state.entries.count > limits.maxConnections {
                victims.append(Self.shed(&state, from: nil, sparing: id, reason: "connection cap"))
            }
            return victims
        }
        for (victim, reason) in victims {
            logger.debug("connection shed", metadata: ["rpc.reason": "\(reason)", "rpc.address": "\(address)"])
            victim.close(promise: nil)
        }
    }

    /// Takes the longest-idle connection (of `address`, when given) out of the registry; the new one
    /// when none but it is idle.
    private static func shed(
        _ state: inout State, from address: String?, sparing id: ObjectIdentifier, reason: String
    ) -> (any Channel, String) {
        var oldest: (ObjectIdentifier, ContinuousClock.Instant)?
        for (key, entry) in state.entries where key != id && (address == nil || entry.address == address) {
            guard let since = entry.idleSince else { continue }
            if oldest == nil || since < oldest!.1 { oldest = (key, since) }
        }
        let victim = oldest?.0 ?? id
        let entry = remove(&state, victim)!
        return (entry.channel, oldest == nil ? "\(reason), every connection busy: the new one is refused" : reason)
    }

    @discardableResult
    private static func remove(_ state: inout State, _ id: ObjectIdentifier) -> Entry? {
        guard let entry = state.entries.removeValue(forKey: id) else { return nil }
        let left = state.perAddress[entry.address, default: 1] - 1
        state.perAddress[entry.address] = left > 0 ? left : nil
        return entry
    }

    func busy(_ id: ObjectIdentifier) { state.withLock { $0.entries[id]?.idleSince = nil } }
    func idle(_ id: ObjectIdentifier) { state.withLock { $0.entries[id]?.idleSince = .now } }
    func closed(_ id: ObjectIdentifier) { state.withLock { _ = Self.remove(&$0, id) } }
}

/// Registers its connection with the server's `ConnectionRegistry` and tells it when a request
/// starts and its response ends. One per connection, after HTTP decoding.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let registry: ConnectionRegistry
    var registered = false

    init(registry: ConnectionRegistry) { self.registry = registry }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        registry.admit(ObjectIdentifier(context.channel), address: address, channel: context.channel)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.closed(ObjectIdentifier(context.channel))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        registry.closed(ObjectIdentifier(context.channel))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { registry.busy(ObjectIdentifier(context.channel)) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { registry.idle(ObjectIdentifier(context.channel)) }
        context.write(data, promise: promise)
    }
}
