import Crypto

/// A 32-byte SHA-256 digest, the hash of all consensus data.
///
/// Stored as four big-endian words so that comparison is the lexicographic order of the bytes and
/// no heap allocation is needed. Bits are numbered from the most significant bit of the first byte
/// (bit 0) to the least significant bit of the last byte (bit 255); nibbles likewise (0...63).
public struct Hash: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The four 64-bit words, most significant first (word 0 holds bytes 0...7 big-endian).
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The all-zero hash.
    public static let zero = Hash(w0: 0, w1: 0, w2: 0, w3: 0)

    /// The number of bytes in a hash.
    public static let byteCount = 32

    @inlinable
    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Reads a hash from exactly 32 bytes; the caller guarantees the length.
    @inlinable
    public init(unchecked raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32)
        w0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Reads a hash from a 32-byte array; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { Hash(unchecked: $0) }
    }

    /// Parses `0x`-prefixed or bare hex of exactly 32 bytes.
    public init(hex: some StringProtocol) throws(Hex.ParseError) {
        let bytes = try Hex.decode(hex, count: 32)
        self = bytes.withUnsafeBytes { Hash(unchecked: $0) }
    }

    /// Calls `body` with the 32 bytes of the hash, without allocating.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: &words) { try body($0) }
    }

    /// Writes the 32 bytes at `destination`, which must have room for them.
    @inlinable
    public func store(to destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
        destination.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
        destination.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt64.self)
        destination.storeBytes(of: w3.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// `0x`-prefixed lower-case hex.
    public var hex: String { "0x" + Hex.encode(bytes) }

    public var description: String { hex }

    @inlinable
    func word(_ i: Int) -> UInt64 {
        switch i {
        case 0: return w0
        case 1: return w1
        case 2: return w2
        default: return w3
        }
    }

    /// Bit `index` (0 is the most significant bit of the first byte).
    @inlinable
    public func bit(_ index: Int) -> Bool {
        (word(index >> 6) >> (63 - UInt64(index & 63))) & 1 == 1
    }

    /// Nibble `index` (0...63; 0 is the high half of the first byte).
    @inlinable
    public func nibble(_ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: word(index >> 4) >> (60 - UInt64(index & 15) * 4)) & 0x0f
    }

    /// The number of leading bits `self` and `other` share (256 when equal).
    @inlinable
    public func commonPrefixBits(with other: Hash) -> Int {
        let x0 = w0 ^ other.w0
        if x0 != 0 { return x0.leadingZeroBitCount }
        let x1 = w1 ^ other.w1
        if x1 != 0 { return 64 + x1.leadingZeroBitCount }
        let x2 = w2 ^ other.w2
        if x2 != 0 { return 128 + x2.leadingZeroBitCount }
        let x3 = w3 ^ other.w3
        if x3 != 0 { return 192 + x3.leadingZeroBitCount }
        return 256
    }

    @inlinable
    public static func < (lhs: Hash, rhs: Hash) -> Bool {
        if lhs.w0 != rhs.w0 { return lhs.w0 < rhs.w0 }
        if lhs.w1 != rhs.w1 { return lhs.w1 < rhs.w1 }
        if lhs.w2 != rhs.w2 { return lhs.w2 < rhs.w2 }
        return lhs.w3 < rhs.w3
    }
}

extension Hash {
    /// SHA-256 of raw bytes.
    @inlinable
    public static func sha256(_ data: UnsafeRawBufferPointer) -> Hash {
        var hasher = SHA256()
        hasher.update(bufferPointer: data)
        return hasher.finalize().withUnsafeBytes { Hash(unchecked: $0) }
    }

    /// SHA-256 of a byte array.
    public static func sha256(_ bytes: [UInt8]) -> Hash {
        bytes.withUnsafeBytes { sha256($0) }
    }

    /// SHA-256 of the UTF-8 bytes of a string.
    public static func sha256(utf8 text: String) -> Hash {
        sha256(Array(text.utf8))
    }

    /// SHA-256 of `tag || a || b`, the shape of every tree node hash, computed without allocating.
    @inlinable
    public static func sha256(tag: UInt8, _ a: Hash, _ b: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            let base = buffer.baseAddress!
            base.storeBytes(of: tag, as: UInt8.self)
            a.store(to: base + 1)
            b.store(to: base + 33)
            return sha256(UnsafeRawBufferPointer(buffer))
        }
    }
}
