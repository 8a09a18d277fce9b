/// The canonical binary encoding of consensus data (DESIGN §3).
///
/// Rules: integers are fixed-width big-endian; byte strings, strings and arrays carry a `UInt32`
/// big-endian length (or count) prefix; a `Bool` is one byte `0` or `1`; an optional is a tag byte
/// `0` (absent) or `1` (present) followed by the value. There are no maps, no variable-length
/// integers and no floats. Every value has exactly one encoding, so decoders reject
/// trailing bytes, truncation, lengths over a limit and every non-canonical form, each with its own
/// error.

/// Why a canonical decoding failed. Each kind of failure has its own case.
public enum CanonicalDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended while `needed` more bytes were expected.
    case truncated(needed: Int, remaining: Int)
    /// A complete value was decoded but `count` bytes were left over.
    case trailingBytes(count: Int)
    /// A length or count prefix is larger than the decoder's limit.
    case lengthExceedsLimit(length: UInt64, limit: Int)
    /// The bytes decode to a value that has a different, canonical encoding (a boolean byte other
    /// than 0 or 1, an optional tag other than 0 or 1, a stored zero that means absence).
    case nonCanonical(String)
    /// The bytes are well-formed but do not denote a valid value (an unknown enum tag, bad UTF-8,
    /// a rule a type states beside its fields: an asset name outside its alphabet, a zero amount,
    /// an unordered value list).
    case invalidValue(String)

    public var description: String {
        switch self {
        case .truncated(let needed, let remaining):
            return "input truncated: needed \(needed) more bytes, \(remaining) left"
        case .trailingBytes(let count): return "\(count) trailing bytes after the value"
        case .lengthExceedsLimit(let length, let limit): return "length \(length) exceeds the limit of \(limit)"
        case .nonCanonical(let why): return "non-canonical encoding: \(why)"
        case .invalidValue(let why): return "invalid value: \(why)"
        }
    }
}

/// Caps a decoder enforces on untrusted input before allocating.
public struct DecodingLimits: Sendable, Equatable {
    /// The largest byte-string or string length accepted.
    public var maxLength: Int
    /// The largest element count accepted for an array.
    public var maxCount: Int

    public init(maxLength: Int = 16 << 20, maxCount: Int = 1 << 20) {
        self.maxLength = maxLength
        self.maxCount = maxCount
    }

    /// The default limits: 16 MiB strings, 1,048,576 elements.
    public static let `default` = DecodingLimits()
}

/// A value with a canonical binary encoding.
public protocol CanonicalEncodable {
    /// Appends the canonical encoding of `self`.
    func encode(to encoder: inout CanonicalEncoder)
}

/// A value that can be read back from its canonical encoding.
public protocol CanonicalDecodable {
    /// Reads one value; throws on any malformed or non-canonical input.
    init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError)
}

/// Both directions of the canonical encoding.
public typealias CanonicalCodable = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The canonical encoding of `self`.
    public var canonicalBytes: [UInt8] {
        var encoder = CanonicalEncoder()
        encode(to: &encoder)
        return encoder.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes exactly one value from `bytes`; trailing bytes are an error.
    public init(canonicalBytes bytes: [UInt8], limits: DecodingLimits = .default) throws(CanonicalDecodingError) {
        var decoder = CanonicalDecoder(bytes, limits: limits)
        self = try Self(from: &decoder)
        try decoder.finish()
    }
}

/// Appends canonical encodings to a byte buffer.
public struct CanonicalEncoder: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: UInt16) { appendBigEndian(value) }

    public mutating func write(_ value: UInt32) { appendBigEndian(value) }

    public mutating func write(_ value: UInt64) { appendBigEndian(value) }

    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Writes a 32-byte hash with no prefix.
    public mutating func write(_ hash: Hash) {
        hash.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// Writes bytes with no length prefix; the reader must know the count.
    public mutating func writeFixed(_ raw: some Collection<UInt8>) { bytes.append(contentsOf: raw) }

    /// Writes a `UInt32` length prefix and the bytes.
    public mutating func writeBytes(_ raw: some Collection<UInt8>) {
        precondition(raw.count <= UInt32.max, "byte string too long for the canonical encoding")
        write(UInt32(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Writes a string as length-prefixed UTF-8.
    public mutating func write(_ string: String) { writeBytes(Array(string.utf8)) }

    public mutating func write<T: CanonicalEncodable>(_ value: T) { value.encode(to: &self) }

    /// Writes a presence tag (0 or 1) and, when present, the value.
    public mutating func write<T: CanonicalEncodable>(_ value: T?) {
        if let value {
            bytes.append(1)
            value.encode(to: &self)
        } else {
            bytes.append(0)
        }
    }

    /// Writes a `UInt32` element count and the elements in order.
    public mutating func write<T: CanonicalEncodable>(_ values: [T]) {
        precondition(values.count <= UInt32.max, "array too long for the canonical encoding")
        write(UInt32(values.count))
        for v in values { v.encode(to: &self) }
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads canonical encodings from a byte buffer, enforcing `DecodingLimits`.
public struct CanonicalDecoder: Sendable {
    @usableFromInline let bytes: [UInt8]
    /// The offset of the next unread byte.
    public private(set) var offset: Int
    /// The caps applied to length and count prefixes.
    public let limits: DecodingLimits

    public init(_ bytes: [UInt8], limits: DecodingLimits = .default) {
        self.bytes = bytes
        self.offset = 0
        self.limits = limits
    }

    /// The number of unread bytes.
    public var remaining: Int { bytes.count - offset }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws `trailingBytes` unless every byte has been read.
    public func finish() throws(CanonicalDecodingError) {
        if offset != bytes.count { throw .trailingBytes(count: bytes.count - offset) }
    }

    private mutating func take(_ count: Int) throws(CanonicalDecodingError) -> Range<Int> {
        guard count <= remaining else { throw .truncated(needed: count - remaining, remaining: remaining) }
        let range = offset..<(offset + count)
        offset += count
        return range
    }

    private mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type) throws(CanonicalDecodingError) -> T {
        let range = try take(MemoryLayout<T>.size)
        var value: T = 0
        for i in range { value = value << 8 | T(bytes[i]) }
        return value
    }

    public mutating func read(_: UInt8.Type) throws(CanonicalDecodingError) -> UInt8 {
        bytes[try take(1).lowerBound]
    }

    public mutating func read(_: UInt16.Type) throws(CanonicalDecodingError) -> UInt16 {
        try readBigEndian(UInt16.self)
    }

    public mutating func read(_: UInt32.Type) throws(CanonicalDecodingError) -> UInt32 {
        try readBigEndian(UInt32.self)
    }

    public mutating func read(_: UInt64.Type) throws(CanonicalDecodingError) -> UInt64 {
        try readBigEndian(UInt64.self)
    }

    /// Reads a boolean; any byte other than 0 or 1 is non-canonical.
    public mutating func read(_: Bool.Type) throws(CanonicalDecodingError) -> Bool {
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        case let b: throw .nonCanonical("boolean byte \(b) is not 0 or 1")
        }
    }

    /// Reads a 32-byte hash.
    public mutating func read(_: Hash.Type) throws(CanonicalDecodingError) -> Hash {
        let range = try take(32)
        return bytes.withUnsafeBytes { Hash(unchecked: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Reads exactly `count` bytes with no prefix.
    public mutating func readFixed(_ count: Int) throws(CanonicalDecodingError) -> [UInt8] {
        Array(bytes[try take(count)])
    }

    /// Reads a length-prefixed byte string of at most `maxLength` bytes (default: the limits').
    public mutating func readBytes(maxLength: Int? = nil) throws(CanonicalDecodingError) -> [UInt8] {
        let limit = min(maxLength ?? limits.maxLength, limits.maxLength)
        let length = try read(UInt32.self)
        guard Int(length) <= limit else { throw .lengthExceedsLimit(length: UInt64(length), limit: limit) }
        return try readFixed(Int(length))
    }

    /// Reads a length-prefixed UTF-8 string; invalid UTF-8 is an invalid value.
    public mutating func read(_: String.Type, maxLength: Int? = nil) throws(CanonicalDecodingError) -> String {
        let raw = try readBytes(maxLength: maxLength)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw .invalidValue("string is not valid UTF-8")
        }
        return string
    }

    public mutating func read<T: CanonicalDecodable>(_: T.Type) throws(CanonicalDecodingError) -> T {
        try T(from: &self)
    }

    /// Reads a presence tag and, when 1, the value; any other tag is non-canonical.
    public mutating func readOptional<T: CanonicalDecodable>(_: T.Type) throws(CanonicalDecodingError) -> T? {
        switch try read(UInt8.self) {
        case 0: return nil
        case 1: return try T(from: &self)
        case let tag: throw .nonCanonical("optional tag \(tag) is not 0 or 1")
        }
    }

    /// Reads a count-prefixed array of at most `maxCount` elements (default: the limits').
    public mutating func readArray<T: CanonicalDecodable>(
        _: T.Type, maxCount: Int? = nil
    ) throws(CanonicalDecodingError) -> [T] {
        let limit = min(maxCount ?? limits.maxCount, limits.maxCount)
        let count = try read(UInt32.self)
        guard Int(count) <= limit else { throw .lengthExceedsLimit(length: UInt64(count), limit: limit) }
        // Every element takes at least one byte, so a count past the remaining input is truncation;
        // checking first keeps a forged count from reserving memory.
        guard Int(count) <= remaining else { throw .truncated(needed: Int(count) - remaining, remaining: remaining) }
        var out = [T]()
        out.reserveCapacity(Int(count))
        for _ in 0..<count { out.append(try T(from: &self)) }
        return out
    }
}

extension UInt8: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(UInt8.self)
    }
}

extension UInt16: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(UInt16.self)
    }
}

extension UInt32: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(UInt32.self)
    }
}

extension UInt64: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(UInt64.self)
    }
}

extension Bool: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(Bool.self)
    }
}

extension String: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(String.self)
    }
}

extension Hash: CanonicalCodable {
    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(self) }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        self = try decoder.read(Hash.self)
    }
}
