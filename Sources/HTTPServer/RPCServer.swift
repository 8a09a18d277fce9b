import Config
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import RPC

/// The HTTP side of a node: `POST /` for JSON-RPC 2.0, `GET /health`, `GET /metrics`.
public struct RPCServer: Sendable {
    /// The largest request body accepted (larger ones get HTTP 413 and a JSON-RPC error).
    public var maxBodyBytes = 1 << 20
    /// Connection caps and timeouts (`ConnectionLimits`).
    public var limits = ConnectionLimits.devnet

    public let dispatcher: RPCDispatcher
    public let health: @Sendable () async -> (ok: Bool, body: JSONValue)
    public let metrics: @Sendable () -> [UInt8]

    public init(
        dispatcher: RPCDispatcher, health: @escaping @Sendable () async -> (ok: Bool, body: JSONValue),
        metrics: @escaping @Sendable () -> [UInt8]
    ) {
        self.dispatcher = dispatcher
        self.health = health
        self.metrics = metrics
    }

    /// A Hummingbird application serving on `host:port` (0: any free port); `onListening` is told
    /// the bound port.
    public func application(
        host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        let server = self
        router.post("/") { request, _ -> Response in
            let body: ByteBuffer
            do {
                guard let collected = try await Self.collect(request, upTo: server.maxBodyBytes, within: server.limits.bodyTimeout)
                else {
                    let error = RPCError.invalidRequest(
                        "the request body did not arrive within \(server.limits.bodyTimeout) of its head")
                    var response = Self.json(server.dispatcher.response(id: .null, .failure(error)), status: .requestTimeout)
                    response.headers[.connection] = "close"
                    return response
                }
                body = collected
            } catch {
                let error = RPCError.invalidRequest("the request body exceeds \(server.maxBodyBytes) bytes")
                return Self.json(server.dispatcher.response(id: .null, .failure(error)), status: .contentTooLarge)
            }
            guard let reply = await server.dispatcher.handle(Data(buffer: body)) else {
                return Response(status: .noContent)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: reply)))
        }
        router.get("/health") { _, _ -> Response in
            let (ok, body) = await server.health()
            return Self.json(body, status: ok ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: server.metrics())))
        }
        let registry = ConnectionRegistry(limits: limits, logger: logger)
        let idle = limits.idleTimeout.components
        let http = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuardHandler(registry: registry)],
            idleTimeout: TimeAmount.nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000))
        return Application(
            router: router, server: .http1(configuration: http),
            configuration: .init(address: .hostname(host, port: port), serverName: "tributary"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// The request's body, or nil when it has not all arrived within `timeout`; throws when it
    /// exceeds `limit` bytes.
    static func collect(_ request: Request, upTo limit: Int, within timeout: Duration) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var request = request
                return try await request.collectBody(upTo: limit)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        let data = (try? value.serialized()) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data))
        )
    }
}
