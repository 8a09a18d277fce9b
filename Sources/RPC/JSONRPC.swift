import Config
import Foundation
import Primitives

/// A JSON-RPC 2.0 error: a code, a message that says what to do, optional data.
public struct RPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "JSON-RPC error \(code): \(message)" }

    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: -32700, message: "parse error: \(detail)")
    }
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: -32600, message: "invalid request: \(detail)")
    }
    public static func methodNotFound(_ name: String) -> RPCError {
        RPCError(code: -32601, message: "method not found: \(name)")
    }
    public static func invalidParams(_ detail: String) -> RPCError {
        RPCError(code: -32602, message: "invalid params: \(detail)")
    }
    public static func internalError(_ detail: String) -> RPCError {
        RPCError(code: -32603, message: "internal error: \(detail)")
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["code": .integer(Int64(code)), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }
}

/// A method's parameters: positional (`[a, b]`) and read with typed accessors that throw
/// `invalidParams` naming the parameter.
public struct RPCParams: Sendable {
    public let values: [JSONValue]

    public init(_ values: [JSONValue]) { self.values = values }

    /// Parameter `index`, or nil when absent or null.
    public func optional(_ index: Int) -> JSONValue? {
        guard index < values.count, values[index] != .null else { return nil }
        return values[index]
    }

    public func string(_ index: Int, _ name: String) throws(RPCError) -> String {
        guard let s = optional(index)?.stringValue else {
            throw .invalidParams("parameter \(index) (\(name)) must be a string")
        }
        return s
    }

    public func hex(_ index: Int, _ name: String) throws(RPCError) -> [UInt8] {
        let text = try string(index, name)
        do { return try Hex.decode(text) } catch { throw .invalidParams("parameter \(index) (\(name)): \(error)") }
    }

    /// Parameter `index` as an unsigned integer; `value` when absent (required without a default).
    public func unsigned(_ index: Int, _ name: String, default value: UInt64? = nil) throws(RPCError) -> UInt64 {
        guard let v = optional(index) else {
            if let value { return value }
            throw .invalidParams("parameter \(index) (\(name)) is required")
        }
        guard let n = v.unsignedValue else {
            throw .invalidParams("parameter \(index) (\(name)) must be an unsigned integer")
        }
        return n
    }

    /// Refuses more parameters than the method takes.
    public func expect(atMost count: Int) throws(RPCError) {
        guard values.count <= count else {
            throw .invalidParams("expected at most \(count) parameters, got \(values.count)")
        }
    }
}

/// A method handler.
public typealias RPCHandler = @Sendable (RPCParams) async throws -> JSONValue

/// Dispatches JSON-RPC 2.0 requests (single or batch) to registered methods.
public struct RPCDispatcher: Sendable {
    public private(set) var methods: [String: RPCHandler] = [:]
    /// The most requests one batch may hold.
    public var maxBatch = 1000
    /// The most bytes of JSON one HTTP request (a whole batch) may make the node serialise
    /// (`ResponseBudget`); 64 MiB, room for two of the largest `l1_getBlobs` answers.
    public var maxResponseBytes = 64 << 20

    public init() {}

    public mutating func register(_ name: String, _ handler: @escaping RPCHandler) { methods[name] = handler }

    /// Registers a method named by an API's method enum.
    public mutating func register<M: RawRepresentable>(_ method: M, _ handler: @escaping RPCHandler)
    where M.RawValue == String {
        register(method.rawValue, handler)
    }

    /// Handles one HTTP body; returns the response body, or nil when every request was a
    /// notification (no id) and nothing is to be returned.
    public func handle(_ body: Data) async -> Data? {
        await ResponseBudget.$current.withValue(ResponseBudget(limit: maxResponseBytes)) { await handleBudgeted(body) }
    }

    func handleBudgeted(_ body: Data) async -> Data? {
        let document: JSONValue
        do { document = try JSONValue.parse(body) } catch {
            return encode(response(id: .null, .failure(.parseError("the body is not JSON"))))
        }
        switch document {
        case .array(let requests):
            guard !requests.isEmpty else {
                return encode(response(id: .null, .failure(.invalidRequest("empty batch"))))
            }
            guard requests.count <= maxBatch else {
                return encode(
                    response(id: .null, .failure(.invalidRequest("batch of \(requests.count) exceeds \(maxBatch)"))))
            }
            var responses: [JSONValue] = []
            for request in requests { if let r = await handleOne(request) { responses.append(r) } }
            return responses.isEmpty ? nil : encode(.array(responses))
        default:
            return await handleOne(document).map(encode)
        }
    }

    func handleOne(_ request: JSONValue) async -> JSONValue? {
        guard case .object(let fields) = request else {
            return response(id: .null, .failure(.invalidRequest("a request must be an object")))
        }
        let id = fields["id"]
        if let id {
            switch id {
            case .string, .integer, .unsigned, .null: break
            default: return response(id: .null, .failure(.invalidRequest("id must be a string, an integer or null")))
            }
        }
        guard fields["jsonrpc"] == .string("2.0") else {
            return response(id: id ?? .null, .failure(.invalidRequest("jsonrpc must be \"2.0\"")))
        }
        guard let method = fields["method"]?.stringValue else {
            return response(id: id ?? .null, .failure(.invalidRequest("method must be a string")))
        }
        let params: RPCParams
        switch fields["params"] {
        case nil: params = RPCParams([])
        case .array(let values)?: params = RPCParams(values)
        default: return response(id: id ?? .null, .failure(.invalidParams("params must be an array")))
        }
        var result: Result<JSONValue, RPCError>
        let budget = ResponseBudget.current
        if let handler = methods[method] {
            if let budget, budget.remaining <= 0 {
                result = .failure(.responseTooLarge(limit: budget.limit))
            } else {
                do { result = .success(try await handler(params)) } catch let error as RPCError {
                    result = .failure(error)
                } catch {
                    result = .failure(.internalError("\(error)"))
                }
            }
        } else {
            result = .failure(.methodNotFound(method))
        }
        // Charge the answer (notifications too: the node built it). One over the budget is dropped
        // here, before it joins the batch's answers, and every later call finds the budget spent.
        if let budget, case .success(let value) = result, !budget.charge(value.serializedSizeEstimate + 64) {
            _ = budget.charge(budget.remaining)
            result = .failure(.responseTooLarge(limit: budget.limit))
        }
        guard let id else { return nil }
        return response(id: id, result)
    }

    /// The response object answering request `id` with `result` (also for errors a server finds before
    /// dispatching, such as an oversized body).
    public func response(id: JSONValue, _ result: Result<JSONValue, RPCError>) -> JSONValue {
        switch result {
        case .success(let value): return .object(["jsonrpc": .string("2.0"), "id": id, "result": value])
        case .failure(let error): return .object(["jsonrpc": .string("2.0"), "id": id, "error": error.json])
        }
    }

    func encode(_ value: JSONValue) -> Data { (try? value.serialized()) ?? Data("{}".utf8) }
}
