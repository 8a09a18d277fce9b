import Primitives
import Testing

/// RFC 8032 §7.1 test vectors for Ed25519.
struct RFC8032Vector: Sendable, CustomStringConvertible {
    let secret: String, publicKey: String, message: String, signature: String
    var description: String { "message of \(message.count / 2) bytes" }
}

let rfc8032Vectors = [
    RFC8032Vector(
        secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        message: "",
        signature:
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
    RFC8032Vector(
        secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        message: "72",
        signature:
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ),
    RFC8032Vector(
        secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        message: "af82",
        signature:
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
    ),
    RFC8032Vector(
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        message:
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        signature:
            "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
    ),
]

@Suite struct KeysTests {
    @Test(arguments: rfc8032Vectors)
    func rfc8032VectorsSignAndVerify(vector: RFC8032Vector) throws {
        let key = try #require(SigningKey(seed: try Hex.decode(vector.secret)))
        #expect(key.publicKey == (try PublicKey(hex: vector.publicKey)))
        let message = try Hex.decode(vector.message)
        let signature = key.sign(message)
        #expect(signature == (try Signature(hex: vector.signature)))
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
        var tampered = signature.bytes
        tampered[10] ^= 0x01
        #expect(!key.publicKey.isValidSignature(try #require(Signature(bytes: tampered)), for: message))
    }

    @Test func sha256MatchesKnownAnswers() {
        #expect(Hash.sha256([]).hex == "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hash.sha256(utf8: "abc").hex == "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let a = Hash.sha256(utf8: "a"), b = Hash.sha256(utf8: "b")
        #expect(Hash.sha256(tag: 7, a, b) == Hash.sha256([7] + a.bytes + b.bytes))
    }

    @Test func addressIsTheFirstTwentyBytesOfTheKeyHash() throws {
        let key = DevKeys.account(0)
        let address = key.address
        #expect(address.bytes == Array(Hash.sha256(key.publicKey.bytes).bytes.prefix(20)))
        #expect(try Address(hex: address.hex) == address)
        #expect(try Address(canonicalBytes: address.canonicalBytes) == address)
        #expect(address.hex.count == 42)
    }

    @Test func devKeysAreDeterministicAndDistinctPerName() {
        #expect(DevKeys.account(0).publicKey == DevKeys.account(0).publicKey)
        #expect(DevKeys.account(0).publicKey != DevKeys.account(1).publicKey)
        #expect(DevKeys.key(named: "alpha/batcher").publicKey != DevKeys.key(named: "beta/batcher").publicKey)
        #expect(DevKeys.account(0, seed: "other seed").publicKey != DevKeys.account(0).publicKey)
        // Pinned: the published seed's dev0 must never change, or every devnet guide goes stale.
        let expected = Hash.sha256(
            Array("tributary/dev-key/v1".utf8) + [0] + Array(DevKeys.publishedSeed.utf8) + [0] + Array("dev0".utf8))
        #expect(DevKeys.account(0).seed == expected.bytes)
        #expect(!"\(DevKeys.account(0))".contains(Hex.encode(DevKeys.account(0).seed)))
    }

    @Test func hexParsingRejectsBadInputClearly() {
        #expect(throws: Hex.ParseError.oddLength(3)) { _ = try Hex.decode("abc") }
        #expect(throws: Hex.ParseError.invalidCharacter("g", offset: 1)) { _ = try Hex.decode("0g") }
        #expect(throws: Hex.ParseError.wrongLength(expected: 20, actual: 2)) { _ = try Address(hex: "0xabcd") }
        #expect((try? Hex.decode("0xABcd")) == [0xab, 0xcd])
        #expect(Hex.encode([0, 255, 16]) == "00ff10")
    }

    @Test func hashBitsAndNibblesFollowByteOrder() throws {
        let h = try Hash(hex: "0x8" + String(repeating: "0", count: 61) + "1f")
        #expect(h.bit(0))
        #expect(!h.bit(1))
        #expect(h.bit(255))
        #expect(h.nibble(0) == 8)
        #expect(h.nibble(62) == 1)
        #expect(h.nibble(63) == 0xf)
        #expect(h.commonPrefixBits(with: h) == 256)
        #expect(h.commonPrefixBits(with: .zero) == 0)
        #expect(Hash.zero < h)
    }
}

/// Small-order keys and signatures (issue 13, finding 8c).
extension KeysTests {
    /// Known answer: the identity point as public key (0x01 then 31 zero bytes) with the signature
    /// R = identity, S = 0 satisfies the verification equation [S]B = R + [k]A for every message, because
    /// [k]·identity = identity. Plain RFC 8032 verification accepts it; Tributary refuses it.
    @Test func theIdentityKeyWithTheIdentitySignatureIsRefusedForAnyMessage() throws {
        let identity = [UInt8(1)] + [UInt8](repeating: 0, count: 31)
        let key = try #require(PublicKey(bytes: identity))
        let signature = try #require(Signature(bytes: identity + [UInt8](repeating: 0, count: 32)))
        for message in [[], Array("tributary/tx/v1".utf8), [UInt8](repeating: 0xa5, count: 1000)] as [[UInt8]] {
            #expect(!key.isValidSignature(signature, for: message), "message of \(message.count) bytes")
        }
    }

    /// Every listed small-order encoding is refused as a key and as a signature's R, while the RFC
    /// 8032 keys above are not on the list (their vectors still verify: `rfc8032VectorsSignAndVerify`).
    @Test func smallOrderKeysAndNoncesAreRefused() throws {
        #expect(Ed25519SmallOrder.all.count == 14)
        let signer = try #require(SigningKey(seed: try Hex.decode(rfc8032Vectors[0].secret)))
        let message = Array("any message".utf8)
        let good = signer.sign(message)
        #expect(signer.publicKey.isValidSignature(good, for: message))
        for point in Ed25519SmallOrder.all {
            let key = try #require(PublicKey(bytes: point))
            let signature = try #require(Signature(bytes: point + [UInt8](repeating: 0, count: 32)))
            #expect(!key.isValidSignature(signature, for: message), "key \(key)")
            // A valid key with a small-order R and the real S fails too (R is checked before the curve math).
            let withSmallR = try #require(Signature(bytes: point + Array(good.bytes[32...])))
            #expect(!signer.publicKey.isValidSignature(withSmallR, for: message), "R \(key)")
        }
        for vector in rfc8032Vectors {
            #expect(!Ed25519SmallOrder.contains(try Hash(hex: vector.publicKey)))
        }
    }
}
