import AsyncHTTPClient
import Config
import Foundation
import NIOCore
import NIOFoundationCompat

/// A JSON-RPC 2.0 client over HTTP (AsyncHTTPClient).
public struct RPCClient: Sendable {
    public let url: String
    let client: HTTPClient
    public var timeout: TimeAmount = .seconds(30)

    /// A client of `url`, sharing the process-wide HTTP client.
    public init(url: String, client: HTTPClient = .shared) {
        self.url = url
        self.client = client
    }

    /// What a call can fail with besides a JSON-RPC error.
    public enum TransportError: Error, CustomStringConvertible {
        case http(status: Int, body: String)
        case malformedResponse(String)

        public var description: String {
            switch self {
            case .http(let status, let body): return "HTTP \(status): \(body.prefix(200))"
            case .malformedResponse(let why): return "malformed JSON-RPC response: \(why)"
            }
        }
    }

    /// Calls `method` with positional `params`; throws `RPCError` for an error response.
    public func call(_ method: String, _ params: [JSONValue] = []) async throws -> JSONValue {
        try Self.result(of: try await post(try Self.request(method, params).serialized()))
    }

    /// The request object of a call.
    static func request(_ method: String, _ params: [JSONValue]) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": .integer(1), "method": .string(method), "params": .array(params)])
    }

    /// The result of a response object, or the `RPCError` it carries.
    static func result(of response: JSONValue) throws -> JSONValue {
        guard case .object(let fields) = response else { throw TransportError.malformedResponse("not an object") }
        if let error = fields["error"] {
            throw RPCError(
                code: error["code"].flatMap { (value: JSONValue) -> Int? in
                    if case .integer(let i) = value { return Int(i) }
                    return nil
                } ?? -32603,
                message: error["message"]?.stringValue ?? "", data: error["data"])
        }
        guard let result = fields["result"] else { throw TransportError.malformedResponse("neither result nor error") }
        return result
    }

    /// Calls `method` once per parameter list in one JSON-RPC batch request; the results in order.
    /// Throws the first error answer, or when an answer is missing.
    public func batch(_ method: String, _ params: [[JSONValue]]) async throws -> [JSONValue] {
        let body = JSONValue.array(
            params.enumerated().map { i, p in
                .object(["jsonrpc": .string("2.0"), "id": .number(i), "method": .string(method), "params": .array(p)])
            })
        guard case .array(let replies) = try await post(try body.serialized()) else {
            throw TransportError.malformedResponse("a batch's answer is not an array")
        }
        var results = [JSONValue?](repeating: nil, count: params.count)
        for reply in replies {
            guard let i = reply["id"]?.unsignedValue.map(Int.init), i < results.count else { continue }
            if let error = reply["error"] {
                throw RPCError(code: -32603, message: "\(method) answered \(error)")
            }
            results[i] = reply["result"]
        }
        return try results.map { result in
            guard let result else { throw TransportError.malformedResponse("\(method): an answer is missing") }
            return result
        }
    }

    /// `batch` of a method named by an API's method enum.
    public func batch<M: RawRepresentable>(_ method: M, _ params: [[JSONValue]]) async throws -> [JSONValue]
    where M.RawValue == String {
        try await batch(method.rawValue, params)
    }

    /// Posts a raw body and parses the JSON reply (for tests of malformed requests too).
    public func post(_ body: Data) async throws -> JSONValue {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: body))
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let data = Data(buffer: bytes)
        guard (200..<300).contains(Int(response.status.code)) || response.status.code == 413 else {
            throw TransportError.http(status: Int(response.status.code), body: String(decoding: data, as: UTF8.self))
        }
        do { return try JSONValue.parse(data) } catch {
            throw TransportError.malformedResponse(String(decoding: data.prefix(200), as: UTF8.self))
        }
    }
}
