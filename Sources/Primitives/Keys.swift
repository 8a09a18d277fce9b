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
    public func isValidSignature(_ signature: Signature, for message: some DataProtocol) -> Bool {
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
