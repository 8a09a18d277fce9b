import Primitives
import Testing

/// Every decoding limit and rule docs/protocol.md states for transactions and messages, pinned:
/// accepted at the limit, refused one past it, with the error the specification names. The
/// encoder writes whatever it is given, so each case encodes a value that breaks a rule and
/// decodes it the way every node decodes a transaction in a posted block.
@Suite struct DecodingLimitTests {
    let key = DevKeys.account(0)
    let alpha = AssetName(rawValue: "ALPHA")!

    func asset(_ name: String) -> AssetName { AssetName(rawValue: name)! }

    func message(
        target: String = "bank", value: [AssetAmount]? = nil, payload: [UInt8] = []
    ) -> Message {
        Message(
            source: RollupID(1), nonce: 0, sender: key.address, destination: RollupID(2), target: target,
            recipient: key.address, value: value ?? [AssetAmount(alpha, 1)], payload: payload)
    }

    /// A signed transaction with `call`, decoded from its canonical bytes with the default limits.
    func roundTrip(_ call: Call) throws(CanonicalDecodingError) -> SignedTransaction {
        let tx = Transaction(rollup: RollupID(1), nonce: 0, sender: key.publicKey, fee: 1, call: call).signed(by: key)
        return try SignedTransaction(canonicalBytes: tx.canonicalBytes)
    }

    func send(target: String = "bank", value: [AssetAmount]? = nil, payload: [UInt8] = []) -> Call {
        .sendMessage(
            destination: RollupID(2), target: target, recipient: key.address,
            value: value ?? [AssetAmount(alpha, 1)], payload: payload)
    }

    /// `n` entries of distinct, ordered names.
    func values(_ n: Int) -> [AssetAmount] { (0..<n).map { AssetAmount(asset("A\($0)"), 1) } }

    func relay(_ message: Message, path: Int = 0) -> Call {
        .relayMessage(
            message: message,
            proof: OutboxProof(index: 0, treeSize: 1, path: Array(repeating: Hash.sha256(utf8: "p"), count: path)),
            outputIndex: 0)
    }

    // MARK: Strings

    @Test func anAssetNameIsOneToThirtyTwoBytesOfItsAlphabet() throws {
        let longest = String(repeating: "A", count: 32)
        #expect(try AssetName(canonicalBytes: longest.canonicalBytes).rawValue == longest)
        #expect(try AssetName(canonicalBytes: "a-Z_0.9/x".canonicalBytes).rawValue == "a-Z_0.9/x")
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 33, limit: 32)) {
            _ = try AssetName(canonicalBytes: (longest + "A").canonicalBytes)
        }
        for bad in ["", "AL PHA", "ALPHA!", "ÄLPHA"] {
            #expect(throws: CanonicalDecodingError.invalidValue("asset name \"\(bad)\" is not 1-32 of A-Z a-z 0-9 / . _ -")) {
                _ = try AssetName(canonicalBytes: bad.canonicalBytes)
            }
        }
        // In a transfer the same rule makes the whole transaction non-canonical.
        var encoder = CanonicalEncoder()
        encoder.write(UInt8(1))
        encoder.write(key.address)
        encoder.write("AL PHA")
        encoder.write(UInt64(5))
        #expect(throws: CanonicalDecodingError.invalidValue("asset name \"AL PHA\" is not 1-32 of A-Z a-z 0-9 / . _ -")) {
            _ = try Call(canonicalBytes: encoder.bytes)
        }
    }

    @Test func aTargetIsAtMostThirtyTwoBytes() throws {
        let longest = String(repeating: "t", count: 32)
        _ = try roundTrip(send(target: longest))
        _ = try roundTrip(relay(message(target: longest)))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 33, limit: 32)) {
            _ = try roundTrip(send(target: longest + "t"))
        }
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 33, limit: 32)) {
            _ = try roundTrip(relay(message(target: longest + "t")))
        }
        // The limit counts UTF-8 bytes: 16 two-byte characters fit, 17 do not.
        _ = try roundTrip(send(target: String(repeating: "é", count: 16)))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 34, limit: 32)) {
            _ = try roundTrip(send(target: String(repeating: "é", count: 17)))
        }
        // A target naming no module decodes: it fails at execution, not here.
        _ = try roundTrip(send(target: "nobody"))
    }

    @Test func aPayloadIsAtMost1024BytesAndAPreimageAtMost64() throws {
        let most = [UInt8](repeating: 7, count: 1024)
        _ = try roundTrip(send(payload: most))
        _ = try roundTrip(relay(message(payload: most)))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 1025, limit: 1024)) {
            _ = try roundTrip(send(payload: most + [7]))
        }
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 1025, limit: 1024)) {
            _ = try roundTrip(relay(message(payload: most + [7])))
        }
        let lock = Hash.sha256(utf8: "lock")
        _ = try roundTrip(.escrowClaim(id: lock, preimage: [UInt8](repeating: 1, count: 64)))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 65, limit: 64)) {
            _ = try roundTrip(.escrowClaim(id: lock, preimage: [UInt8](repeating: 1, count: 65)))
        }
    }

    // MARK: Values

    @Test func aValueHoldsAtMostFourAssets() throws {
        _ = try roundTrip(send(value: values(4)))
        _ = try roundTrip(relay(message(value: values(4))))
        _ = try roundTrip(send(value: []))
        for n in [5, 65, 700] {
            #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: UInt64(n), limit: 4)) {
                _ = try roundTrip(send(value: values(n)))
            }
            #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: UInt64(n), limit: 4)) {
                _ = try roundTrip(relay(message(value: values(n))))
            }
        }
    }

    @Test func aValueHasNoZeroAmountAndIsStrictlyOrderedByAsset() throws {
        let zero = [AssetAmount(alpha, 0)]
        let unordered = [AssetAmount(asset("BETA"), 1), AssetAmount(alpha, 1)]
        let repeated = [AssetAmount(alpha, 1), AssetAmount(alpha, 2)]
        let cases: [([AssetAmount], String)] = [
            (zero, "a zero amount in a message's value"),
            (unordered, "message value not strictly ordered by asset"),
            (repeated, "message value not strictly ordered by asset"),
        ]
        for (value, why) in cases {
            #expect(throws: CanonicalDecodingError.invalidValue(why)) { _ = try roundTrip(send(value: value)) }
            #expect(throws: CanonicalDecodingError.invalidValue(why)) {
                _ = try roundTrip(relay(message(value: value)))
            }
            #expect(throws: CanonicalDecodingError.invalidValue(why)) {
                _ = try Message(canonicalBytes: message(value: value).canonicalBytes)
            }
        }
        // Ordered by the names' bytes: "ALPHA" < "BETA" < "alpha/ALPHA".
        let ordered = [AssetAmount(alpha, 1), AssetAmount(asset("BETA"), 1), AssetAmount(asset("alpha/ALPHA"), 1)]
        _ = try roundTrip(send(value: ordered))
    }

    // MARK: Proofs, tags, sizes

    @Test func anOutboxPathHoldsAtMost64Hashes() throws {
        _ = try roundTrip(relay(message(), path: 64))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 65, limit: 64)) {
            _ = try roundTrip(relay(message(), path: 65))
        }
    }

    @Test func aCallTagIsOneToFive() throws {
        for tag: UInt8 in [0, 6, 255] {
            #expect(throws: CanonicalDecodingError.invalidValue("unknown call tag \(tag)")) {
                _ = try Call(canonicalBytes: [tag] + Hash.sha256(utf8: "x").bytes)
            }
        }
    }

    /// The largest canonical transaction (a relay with a 64-hash path, four values of 32-byte
    /// names, a 32-byte target and a full payload) is 3,493 bytes: under the 8,192-byte cap.
    @Test func theLargestCanonicalTransactionIs3493Bytes() throws {
        let names = ["A", "B", "C", "D"].map { AssetAmount(asset(String(repeating: $0, count: 32)), 1) }
        let largest = relay(
            message(target: String(repeating: "t", count: 32), value: names, payload: [UInt8](repeating: 0, count: 1024)),
            path: 64)
        let tx = try roundTrip(largest)
        #expect(tx.canonicalBytes.count == 3493)
    }
}
