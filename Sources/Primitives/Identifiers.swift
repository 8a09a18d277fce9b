/// The numeric identifier of a rollup, fixed in genesis and part of every signed transaction.
public struct RollupID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, CanonicalCodable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    public static func < (lhs: RollupID, rhs: RollupID) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(rawValue) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rawValue = try decoder.read(UInt32.self)
    }
}

/// A 20-byte account address: the first 20 bytes of SHA-256 of an Ed25519 public key.
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible, CanonicalCodable {
    /// Bytes 0...7 and 8...15 big-endian, then bytes 16...19 big-endian.
    public let high: UInt64, middle: UInt64, low: UInt32

    /// The number of bytes in an address.
    public static let byteCount = 20

    /// The address of a public key.
    public init(publicKey: PublicKey) {
        let digest = publicKey.withUnsafeBytes { Hash.sha256($0) }
        high = digest.w0
        middle = digest.w1
        low = UInt32(truncatingIfNeeded: digest.w2 >> 32)
    }

    /// Reads an address from exactly 20 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        let a = Array(bytes)
        var h: UInt64 = 0, m: UInt64 = 0, l: UInt32 = 0
        for i in 0..<8 { h = h << 8 | UInt64(a[i]) }
        for i in 8..<16 { m = m << 8 | UInt64(a[i]) }
        for i in 16..<20 { l = l << 8 | UInt32(a[i]) }
        high = h
        middle = m
        low = l
    }

    /// Parses `0x`-prefixed or bare hex of exactly 20 bytes.
    public init(hex: some StringProtocol) throws(Hex.ParseError) {
        let bytes = try Hex.decode(hex, count: 20)
        self.init(bytes: bytes)!
    }

    /// The 20 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20)
        withUnsafeBytes(of: high.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: middle.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// `0x`-prefixed lower-case hex.
    public var hex: String { "0x" + Hex.encode(bytes) }

    public var description: String { hex }

    public static func < (lhs: Address, rhs: Address) -> Bool {
        (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(high)
        encoder.write(middle)
        encoder.write(low)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        high = try decoder.read(UInt64.self)
        middle = try decoder.read(UInt64.self)
        low = try decoder.read(UInt32.self)
    }
}
