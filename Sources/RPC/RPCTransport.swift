import Config
import Foundation

/// How a JSON-RPC call reaches its server: over HTTP (`RPCClient`) or in process (`RPCDispatcher`,
/// for unit tests of the services against a real L1 or node without sockets). Both carry the same
/// request bytes and read the answer with the same rule (`RPCClient.result(of:)`), so a typed client
/// built on a transport behaves alike over either.
public protocol RPCTransport: Sendable {
    /// Where calls go, for logs and status ("in process" for a dispatcher).
    var endpoint: String { get }
    /// Calls `method` with positional `params`; throws `RPCError` for an error answer.
    func call(_ method: String, _ params: [JSONValue]) async throws -> JSONValue
}

extension RPCClient: RPCTransport {
    public var endpoint: String { url }
}

extension RPCDispatcher: RPCTransport {
    public var endpoint: String { "in process" }

    /// Serves the call as an HTTP body would be served: the request serialized, handled, the
    /// response parsed.
    public func call(_ method: String, _ params: [JSONValue]) async throws -> JSONValue {
        let body = try RPCClient.request(method, params).serialized()
        guard let answer = await handle(body) else {
            throw RPCClient.TransportError.malformedResponse("no answer to a call with an id")
        }
        let response: JSONValue
        do { response = try JSONValue.parse(answer) } catch {
            throw RPCClient.TransportError.malformedResponse(String(decoding: answer.prefix(200), as: UTF8.self))
        }
        return try RPCClient.result(of: response)
    }
}

extension RPCTransport {
    /// Calls `method` without parameters.
    public func call(_ method: String) async throws -> JSONValue { try await call(method, []) }

    /// Calls a method named by an API's method enum.
    public func call<M: RawRepresentable>(_ method: M, _ params: [JSONValue] = []) async throws -> JSONValue
    where M.RawValue == String {
        try await call(method.rawValue, params)
    }
}
