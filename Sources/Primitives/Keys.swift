import Crypto
import Foundation

/// An Ed25519 public key (RFC 8032), 32 bytes.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible, CanonicalCodable {
    /// The key bytes, held as a `Hash`-shaped value so the type needs no heap storage.
    @usableFromInline let raw: Hash

    /// The number of bytes in a public key.
    public static let byteCount = 32

    /// Wraps 32 key bytes; nil for any other length. The bytes are not checked to be a curve point
    /// here: verification fails for keys that are not.
    public init?(bytes: some Collection<UInt8>) {
        guard let raw = Hash(bytes: bytes) else { return nil }
        self.raw = raw
    }

    /// Parses `0x`-prefixed or bare hex of exactly 32 bytes.
    public init(hex: some StringProtocol) throws(Hex.ParseError) {
        raw = try Hash(hex: hex)
    }

    init(raw: Hash) { self.raw = raw }

    /// Calls `body` with the 32 key bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try raw.withUnsafeBytes(body)
    }

    /// The 32 key bytes.
    public var bytes: [UInt8] { raw.bytes }

    /// `0x`-prefixed lower-case hex.
    public var hex: String { raw.hex }

    public var description: String { hex }

    /// The account address of this key.
    public var address: Address { Address(publicKey: self) }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key.
    ///
    /// Beyond RFC 8032's check, refuses a key or a signature `R` that is a small-order point
    /// (`Ed25519SmallOrder`): with the identity as key, the signature (identity, 0) verifies for every
    /// message, so such a key would let anyone sign as its address.
    public func isValidSignature(_ signature: Signature, for message: some DataProtocol) -> Bool {
        guard !Ed25519SmallOrder.contains(raw), !Ed25519SmallOrder.contains(signature.r) else { return false }
        guard let key = try? raw.withUnsafeBytes({ try Curve25519.Signing.PublicKey(rawRepresentation: $0) }) else {
            return false
        }
        return signature.withUnsafeBytes { key.isValidSignature($0, for: message) }
    }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(raw) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        raw = try decoder.read(Hash.self)
    }
}

/// The encodings of Ed25519's small-order points: the 8 points whose order divides 8 (the curve's
/// cofactor), in every 32-byte form a decoder might take for them.
///
/// Derived, not copied (worked out with the curve equation `−x² + y² = 1 + d·x²·y²` over
/// p = 2^255 − 19, d = −121665/121666, and each point's order checked by repeated addition):
/// * order 1, the identity (0, 1); order 2, (0, −1);
/// * order 4, (±√−1, 0);
/// * order 8, the four points with y² = (−1 ± √(1 + d)) / d that are squares: y = y₈ or −y₈, each
///   with both signs of x (y₈ = 0x7a03ac92…706a17c7, −y₈ = 0x05fc536d…8f95e826).
///
/// An encoding is y in 255 bits little-endian with x's parity in the top bit. Listed for each of the
/// five y values: both top bits (for x = 0 the set bit is a non-canonical "negative zero"; for x ≠ 0
/// the other bit is the negated point, small-order too), and y + p where that is below 2^255 (only for
/// y = 0 and y = 1): 14 encodings. Bytes compare exactly; nothing is masked.
public enum Ed25519SmallOrder {
    static let encodings: Set<Hash> = Set(
        [
            // (0, 1), the identity: y = 1, and y = p + 1
            "0100000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000080",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            // (0, −1), order 2: y = p − 1
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            // (±√−1, 0), order 4: y = 0, and y = p
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            // order 8: y = y₈ and y = −y₈, each with both signs of x
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        ].map { try! Hash(hex: $0) })

    /// Whether the 32 bytes are one of the listed encodings.
    public static func contains(_ bytes: Hash) -> Bool { encodings.contains(bytes) }

    /// The listed encodings, for tests.
    public static var all: [[UInt8]] { encodings.map(\.bytes) }
}

/// An Ed25519 signature, 64 bytes.
public struct Signature: Hashable, Sendable, CustomStringConvertible, CanonicalCodable {
    @usableFromInline let r: Hash, s: Hash

    /// The number of bytes in a signature.
    public static let byteCount = 64

    /// Wraps 64 signature bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 64 else { return nil }
        let a = Array(bytes)
        r = Hash(bytes: a[0..<32])!
        s = Hash(bytes: a[32..<64])!
    }

    /// Parses `0x`-prefixed or bare hex of exactly 64 bytes.
    public init(hex: some StringProtocol) throws(Hex.ParseError) {
        self.init(bytes: try Hex.decode(hex, count: 64))!
    }

    /// Calls `body` with the 64 signature bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var words = (
            r.w0.bigEndian, r.w1.bigEndian, r.w2.bigEndian, r.w3.bigEndian,
            s.w0.bigEndian, s.w1.bigEndian, s.w2.bigEndian, s.w3.bigEndian
        )
        return try Swift.withUnsafeBytes(of: &words) { try body($0) }
    }

    /// The 64 signature bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// `0x`-prefixed lower-case hex.
    public var hex: String { "0x" + Hex.encode(bytes) }

    public var description: String { hex }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(r)
        encoder.write(s)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        r = try decoder.read(Hash.self)
        s = try decoder.read(Hash.self)
    }
}

/// An Ed25519 private key that signs messages.
///
/// The key's 32-byte seed (RFC 8032's private key) never appears in a description, so logging a
/// `SigningKey` does not leak it.
public struct SigningKey: Sendable, CustomStringConvertible {
    private let key: Curve25519.Signing.PrivateKey

    /// The public half.
    public let publicKey: PublicKey

    /// A key from its 32-byte RFC 8032 seed; nil for any other length.
    public init?(seed: some Collection<UInt8>) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: Array(seed)) else {
            return nil
        }
        self.key = key
        self.publicKey = PublicKey(raw: key.publicKey.rawRepresentation.withUnsafeBytes { Hash(unchecked: $0) })
    }

    /// A fresh random key.
    public static func generate() -> SigningKey {
        SigningKey(seed: Array(Curve25519.Signing.PrivateKey().rawRepresentation))!
    }

    /// The 32-byte seed. Handle with care: whoever has it can sign as this key.
    public var seed: [UInt8] { Array(key.rawRepresentation) }

    /// The account address of the public key.
    public var address: Address { publicKey.address }

    /// Signs `message` (deterministic Ed25519, RFC 8032).
    public func sign(_ message: some DataProtocol) -> Signature {
        // BoringSSL's Ed25519 signing cannot fail for a valid key; a failure here is a broken build.
        guard let raw = try? key.signature(for: message), let signature = Signature(bytes: raw) else {
            preconditionFailure("Ed25519 signing failed")
        }
        return signature
    }

    public var description: String { "SigningKey(\(publicKey.hex))" }
}

/// Deterministic, **insecure** development keys derived from a published seed string.
///
/// Anyone who knows the seed (it is printed in the docs and by the devnet) knows every key derived
/// from it, exactly like anvil's well-known mnemonic. Use them for local devnets and tests only.
///
/// Derivation: the 32-byte Ed25519 seed of the key named `name` is
/// `SHA-256("tributary/dev-key/v1" || 0x00 || seed || 0x00 || name)` over UTF-8 bytes.
public enum DevKeys {
    /// The published devnet seed.
    public static let publishedSeed = "tributary insecure devnet seed"

    /// The domain-separation prefix of the derivation.
    public static let domain = "tributary/dev-key/v1"

    /// The key named `name` (for example `dev0` or `alpha/batcher`) under `seed`.
    public static func key(named name: String, seed: String = publishedSeed) -> SigningKey {
        let input = Array(domain.utf8) + [0] + Array(seed.utf8) + [0] + Array(name.utf8)
        return SigningKey(seed: Hash.sha256(input).bytes)!
    }

    /// The prefunded development account `dev<index>`.
    public static func account(_ index: Int, seed: String = publishedSeed) -> SigningKey {
        key(named: "dev\(index)", seed: seed)
    }
}
