import Foundation

/// A parsed JSON document that keeps integers exact (a genesis supply does not fit a Double) and
/// remembers which numbers had a fraction, so validation can refuse them.
public indirect enum JSONValue: Equatable, Sendable, Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case fraction(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Strings first: they are most of a JSON-RPC body, and every failed attempt costs a thrown error.
        if c.decodeNil() {
            self = .null
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let u = try? c.decode(UInt64.self) {
            self = .unsigned(u)
        } else if let d = try? c.decode(Double.self) {
            self = .fraction(d)
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON text.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// A short name of the value's kind, for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .unsigned: return "an integer"
        case .fraction: return "a number with a fraction"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// One problem in a configuration document, at its JSON path (`$.rollups[1].blockTimeMs`).
public struct ConfigProblem: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}

/// Every problem found in a configuration document (validation does not stop at the first).
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var source: String
    public var problems: [ConfigProblem]

    public var description: String {
        (["\(source): \(problems.count) problem\(problems.count == 1 ? "" : "s")"] + problems.map { "  \($0)" })
            .joined(separator: "\n")
    }
}

/// Walks a JSON document, collecting problems with their paths instead of stopping at the first.
final class JSONReader {
    private(set) var problems: [ConfigProblem] = []

    func problem(_ path: String, _ message: String) { problems.append(ConfigProblem(path: path, message: message)) }

    /// The object at `path`, with unknown fields reported (a misspelt knob must not be ignored).
    func object(_ value: JSONValue?, _ path: String, allowed: Set<String>) -> [String: JSONValue]? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        guard case .object(let fields) = value else {
            problem(path, "must be an object, not \(value.kind)")
            return nil
        }
        for name in fields.keys.sorted() where !allowed.contains(name) {
            problem("\(path).\(name)", "is not a known field (known: \(allowed.sorted().joined(separator: ", ")))")
        }
        return fields
    }

    func array(_ value: JSONValue?, _ path: String) -> [JSONValue]? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        guard case .array(let items) = value else {
            problem(path, "must be an array, not \(value.kind)")
            return nil
        }
        return items
    }

    func string(_ value: JSONValue?, _ path: String) -> String? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        guard case .string(let s) = value else {
            problem(path, "must be a string, not \(value.kind)")
            return nil
        }
        return s
    }

    func integer(_ value: JSONValue?, _ path: String, in range: ClosedRange<UInt64>, default fallback: UInt64? = nil)
        -> UInt64?
    {
        guard let value else {
            if let fallback { return fallback }
            problem(path, "is required")
            return nil
        }
        let n: UInt64
        switch value {
        case .integer(let i) where i >= 0: n = UInt64(i)
        case .unsigned(let u): n = u
        case .integer:
            problem(path, "must not be negative")
            return nil
        default:
            problem(path, "must be a whole number, not \(value.kind)")
            return nil
        }
        guard range.contains(n) else {
            problem(path, "must be between \(range.lowerBound) and \(range.upperBound), got \(n)")
            return nil
        }
        return n
    }
}

extension JSONValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .unsigned(let u): try c.encode(u)
        case .fraction(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The JSON text (object keys sorted, so equal values print equally).
    public func serialized() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// An unsigned integer, kept exact.
    public static func number(_ value: some BinaryInteger) -> JSONValue {
        if let i = Int64(exactly: value) { return .integer(i) }
        return .unsigned(UInt64(value))
    }

    /// The value as an unsigned integer, if it is one.
    public var unsignedValue: UInt64? {
        switch self {
        case .integer(let i) where i >= 0: return UInt64(i)
        case .unsigned(let u): return u
        default: return nil
        }
    }

    /// The value as a string, if it is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as a boolean, if it is one.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
