import Config
import Primitives
import RPC

/// A value of the RPC API with its one JSON form: the server writes `json`, every client reads it
/// back with `init(json:)`, and the two are written side by side in one type (docs/rpc.md describes
/// the same fields). A missing or malformed field throws `RPCClient.TransportError.malformedResponse`
/// naming the value and the field.
public protocol APIValue: Sendable {
    init(json: JSONValue) throws
    var json: JSONValue { get }
}

/// Byte values that travel as `0x` hex strings.
public protocol HexForm {
    init(hex: String) throws
    var hex: String { get }
}

extension Hash: HexForm {
    public init(hex: String) throws { try self.init(hex: Substring(hex)) }
}
extension PublicKey: HexForm {
    public init(hex: String) throws { try self.init(hex: Substring(hex)) }
}
extension Signature: HexForm {
    public init(hex: String) throws { try self.init(hex: Substring(hex)) }
}
extension Address: HexForm {
    public init(hex: String) throws { try self.init(hex: Substring(hex)) }
}

extension JSONValue {
    /// The value as an unsigned integer, or a malformed-response error naming `what`.
    func unsigned(_ what: String) throws -> UInt64 {
        guard let n = unsignedValue else {
            throw RPCClient.TransportError.malformedResponse("\(what) is not an unsigned integer: \(self)")
        }
        return n
    }
}

/// Reads the fields of one JSON object of the API, each failure naming `what` and the field.
public struct JSONFields {
    public let json: JSONValue
    public let what: String

    public init(_ json: JSONValue, _ what: String) throws {
        guard case .object = json else {
            throw RPCClient.TransportError.malformedResponse("\(what) is not an object: \(json)")
        }
        self.json = json
        self.what = what
    }

    func malformed(_ key: String) -> RPCClient.TransportError {
        .malformedResponse("\(what): field \(key) missing or malformed")
    }

    /// Whether the field is absent or null.
    public func isAbsent(_ key: String) -> Bool { json[key] == nil || json[key] == .null }

    public func unsigned(_ key: String) throws -> UInt64 {
        guard let n = json[key]?.unsignedValue else { throw malformed(key) }
        return n
    }

    public func optionalUnsigned(_ key: String) throws -> UInt64? {
        isAbsent(key) ? nil : try unsigned(key)
    }

    public func uint32(_ key: String) throws -> UInt32 {
        guard let n = UInt32(exactly: try unsigned(key)) else { throw malformed(key) }
        return n
    }

    public func string(_ key: String) throws -> String {
        guard let s = json[key]?.stringValue else { throw malformed(key) }
        return s
    }

    public func bool(_ key: String) throws -> Bool {
        guard let b = json[key]?.boolValue else { throw malformed(key) }
        return b
    }

    public func hex<T: HexForm>(_ key: String, as type: T.Type = T.self) throws -> T {
        do { return try T(hex: try string(key)) } catch { throw malformed(key) }
    }

    public func optionalHex<T: HexForm>(_ key: String, as type: T.Type = T.self) throws -> T? {
        isAbsent(key) ? nil : try hex(key, as: type)
    }

    /// `0x` hex of raw bytes.
    public func bytes(_ key: String) throws -> [UInt8] {
        do { return try Hex.decode(try string(key)) } catch { throw malformed(key) }
    }

    /// A field holding the canonical encoding of `T` as hex.
    public func canonical<T: CanonicalDecodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        do { return try T(canonicalBytes: try bytes(key)) } catch { throw malformed(key) }
    }

    public func value<T: APIValue>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let v = json[key] else { throw malformed(key) }
        return try T(json: v)
    }

    public func array(_ key: String) throws -> [JSONValue] {
        guard case .array(let items)? = json[key] else { throw malformed(key) }
        return items
    }

    public func rollup(_ key: String) throws -> RollupID { RollupID(try uint32(key)) }
}

extension Array where Element: APIValue {
    /// Reads a JSON array of API values.
    public init(json: JSONValue, _ what: String) throws {
        guard case .array(let items) = json else {
            throw RPCClient.TransportError.malformedResponse("\(what) is not an array")
        }
        self = try items.map(Element.init(json:))
    }

    public var json: JSONValue { .array(map(\.json)) }
}

extension Optional where Wrapped: APIValue {
    /// Reads a value the server answers `null` for when there is none.
    public init(json: JSONValue) throws {
        self = json == .null ? nil : try Wrapped(json: json)
    }

    public var json: JSONValue { self?.json ?? .null }
}

/// A rollup named in a request: by its id or by its genesis name (every method that takes a rollup
/// accepts both).
public enum RollupSelector: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    case id(RollupID)
    case name(String)

    public init(stringLiteral value: String) { self = .name(value) }

    public var json: JSONValue {
        switch self {
        case .id(let id): return .number(id.rawValue)
        case .name(let name): return .string(name)
        }
    }

    /// Reads parameter `index` of a request.
    public init(_ params: RPCParams, _ index: Int) throws {
        switch params.optional(index) {
        case .string(let name)?: self = .name(name)
        case let value?:
            guard let n = value.unsignedValue, let id = UInt32(exactly: n) else {
                throw RPCError.invalidParams("parameter \(index) (rollup) must be a rollup name or id")
            }
            self = .id(RollupID(id))
        case nil: throw RPCError.invalidParams("parameter \(index) (rollup) is required")
        }
    }

    public var description: String {
        switch self {
        case .id(let id): return "\(id.rawValue)"
        case .name(let name): return name
        }
    }
}

/// The request parameters every method of the API reads, with their one error message each.
extension RPCParams {
    /// Parameter `index` as a 32-byte id.
    public func id(_ index: Int, _ name: String) throws -> Hash {
        guard let id = try? Hash(hex: try string(index, name)) else {
            throw RPCError.invalidParams("parameter \(index) (\(name)) must be 32 bytes of hex")
        }
        return id
    }

    /// Parameter `index` as a 20-byte address.
    public func address(_ index: Int, _ name: String) throws -> Address {
        guard let address = try? Address(hex: try string(index, name)) else {
            throw RPCError.invalidParams("parameter \(index) (\(name)) must be 20 bytes of hex")
        }
        return address
    }

    /// The only parameter, the `0x` hex of a canonical `T` of at most `maxLength` bytes.
    public func canonical<T: CanonicalDecodable>(_ type: T.Type, _ name: String, maxLength: Int) throws -> T {
        try expect(atMost: 1)
        let raw = try hex(0, name)
        do {
            return try T(canonicalBytes: raw, limits: DecodingLimits(maxLength: maxLength, maxCount: 1 << 20))
        } catch {
            throw RPCError.invalidParams("parameter 0 is not a canonical \(name): \(error)")
        }
    }
}
