import Primitives
import Settlement
import StateMachine
import Testing

/// The decoding rules docs/protocol.md states for stored state values, receipts, batch headers and
/// L1 entries, pinned at the limit and one past it with the error the specification names.
/// (DecodingLimitTests in PrimitivesTests pins the transaction and message rules.)
@Suite struct ConsensusDecodingTests {
    let key = DevKeys.account(0)

    func lock(_ value: [AssetAmount]) -> EscrowLock {
        EscrowLock(
            source: RollupID(1), sender: key.address, beneficiary: key.address, value: value,
            hashLock: Hash.sha256(utf8: "h"), timeout: 9)
    }

    func values(_ n: Int) -> [AssetAmount] { (0..<n).map { AssetAmount(AssetName(rawValue: "A\($0)")!, 1) } }

    @Test func anEscrowLockFollowsTheMessageValueRule() throws {
        let four = lock(values(4))
        #expect(try EscrowLock(canonicalBytes: four.canonicalBytes) == four)
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 5, limit: 4)) {
            _ = try EscrowLock(canonicalBytes: lock(values(5)).canonicalBytes)
        }
        #expect(throws: CanonicalDecodingError.invalidValue("a zero amount in a message's value")) {
            _ = try EscrowLock(canonicalBytes: lock([AssetAmount(AssetName(rawValue: "A")!, 0)]).canonicalBytes)
        }
    }

    @Test func statusBytesAreZeroToThirteen() throws {
        let receipt = Receipt(transaction: Hash.sha256(utf8: "t"), status: .escrowNotExpired, feePaid: 1)
        var bytes = receipt.canonicalBytes
        #expect(try Receipt(canonicalBytes: bytes).status == .escrowNotExpired)
        bytes[32] = 14
        #expect(throws: CanonicalDecodingError.invalidValue("receipt status 14")) { _ = try Receipt(canonicalBytes: bytes) }
        var record = RelayRecord(status: .escrowNotExpired, bounce: .zero).canonicalBytes
        #expect(try RelayRecord(canonicalBytes: record).status == .escrowNotExpired)
        record[0] = 14
        #expect(throws: CanonicalDecodingError.invalidValue("relay status 14")) { _ = try RelayRecord(canonicalBytes: record) }
        #expect(ReceiptStatus.allCases.map(\.rawValue) == Array(0...13))
    }

    @Test func anOutboxAccumulatorHasOnePeakPerOneBitOfItsCount() throws {
        var frontier = OutboxFrontier()
        for i in 0..<5 { frontier.append(Hash.sha256(utf8: "m\(i)")) }
        #expect(frontier.peaks.count == 2)
        #expect(try OutboxFrontier(canonicalBytes: frontier.canonicalBytes) == frontier)
        var encoder = CanonicalEncoder()
        encoder.write(UInt64(5))
        encoder.write(frontier.peaks + [Hash.sha256(utf8: "extra")])
        #expect(throws: CanonicalDecodingError.invalidValue("outbox frontier peaks")) {
            _ = try OutboxFrontier(canonicalBytes: encoder.bytes)
        }
    }

    @Test func aBatchHeaderNamesOneToManyHeightsFromOne() throws {
        _ = try BatchHeader(canonicalBytes: BatchHeader(rollup: RollupID(1), seq: 0, firstHeight: 1, lastHeight: 1).canonicalBytes)
        for (first, last) in [(UInt64(0), UInt64(3)), (5, 4)] {
            var encoder = CanonicalEncoder()
            encoder.write(RollupID(1))
            encoder.write(UInt64(0))
            encoder.write(first)
            encoder.write(last)
            #expect(throws: CanonicalDecodingError.invalidValue("batch heights \(first)…\(last)")) {
                _ = try BatchHeader(canonicalBytes: encoder.bytes)
            }
        }
    }

    @Test func anL1EntryKindIsAtMostSixteenBytesAndItsTagZeroToThree() throws {
        func entry(kind: String) -> [UInt8] {
            L1Entry.challenge(
                id: Hash.sha256(utf8: "c"), rollup: RollupID(1), outputIndex: 0, kind: kind, challenger: key.publicKey,
                invalidated: 1
            ).canonicalBytes
        }
        _ = try L1Entry(canonicalBytes: entry(kind: String(repeating: "k", count: 16)))
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 17, limit: 16)) {
            _ = try L1Entry(canonicalBytes: entry(kind: String(repeating: "k", count: 17)))
        }
        var bytes = entry(kind: "block")
        bytes[0] = 4
        #expect(throws: CanonicalDecodingError.invalidValue("L1 entry kind 4")) { _ = try L1Entry(canonicalBytes: bytes) }
    }
}
