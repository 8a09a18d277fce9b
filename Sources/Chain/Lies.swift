import Foundation
import Primitives

/// The catalog of lies a sequencer can be told to tell (`tributary node --fault KIND@H`): each one
/// a way a rollup's own sequencer — who holds its batcher and proposer keys — can try to cheat the
/// fraud-proof protocol, from height `H` on. A TESTING KNOB: an honest node never sets one.
/// docs/reliability.md ("The catalog of lies") says, for each, what a user will watch happen.
///
/// Header lies change what the sequencer's own chain claims (it serves, posts and proposes the
/// false headers; its state tree stays right, so its next blocks link to the lie). Body and batch
/// lies change only what the batcher posts. Output lies change only what the proposer proposes.
public enum Lie: String, CaseIterable, Hashable, Sendable, Comparable {
    /// Headers claim a wrong state root.
    case stateRoot = "state-root"
    /// Headers claim the outbox root of a forged outbox holding one message (`Lies.forgedMessage`)
    /// that mints the native asset to an attacker elsewhere: the message proves against the claim.
    case outboxRoot = "outbox-root"
    /// Headers claim a wrong receipts root.
    case receiptsRoot = "receipts-root"
    /// Block H names a parent that is not block H−1 (the chain after it links to H).
    case parentBreak = "parent-break"
    /// Block H claims L1 origin 0, older than its parent's.
    case originRegression = "origin-regression"
    /// The posted body of block H carries an extra transaction that is invalid in its turn (its
    /// header is the honest one): derivation leaves it out, so this is junk, not a fault.
    case invalidTransaction = "invalid-tx"
    /// The blob covering H is a valid zstd frame whose payload is not a batch.
    case undecodablePayload = "undecodable"
    /// The blob covering H says batch version 2.
    case batchVersion = "batch-version"
    /// The blob covering H claims blocks H … 2^64 − 1 in its header.
    case absurdHeights = "absurd-heights"
    /// Blocks from H on are never posted.
    case withheldBlob = "withhold"
    /// Blocks from H on take transactions past `maxBlockBytes`.
    case oversizeBlock = "oversize-block"
    /// Outputs from H on claim a block hash and roots the posted chain never had.
    case nonAdoptingOutput = "non-adopting-output"
    /// The proposer proposes nothing for outputs at H … H + `Lies.silence` − 1 (the posted chain
    /// goes on), then proposes again: a fallback proposer takes over meanwhile.
    case silentProposer = "silent"

    public static func < (a: Lie, b: Lie) -> Bool { a.rawValue < b.rawValue }

    /// Whether the lie changes the sequencer's own headers.
    public var isHeaderLie: Bool {
        switch self {
        case .stateRoot, .outboxRoot, .receiptsRoot, .parentBreak, .originRegression, .oversizeBlock: true
        default: false
        }
    }
}

/// A set of lies, each from its height on. Empty for an honest node.
public struct Lies: Hashable, Sendable, CustomStringConvertible {
    public private(set) var from: [Lie: UInt64] = [:]

    public init() {}

    public init(_ lies: [(Lie, UInt64)]) {
        for (lie, height) in lies { from[lie] = min(from[lie] ?? height, height) }
    }

    /// Parses `KIND@H[,KIND@H…]` (also the older `state-root-at=H`).
    public init(parsing spec: String) throws(LieSpecError) {
        for part in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if part.hasPrefix("state-root-at=") {
                guard let h = UInt64(part.dropFirst("state-root-at=".count)), h >= 1 else { throw LieSpecError(part) }
                from[.stateRoot] = h
                continue
            }
            let pieces = part.split(separator: "@", maxSplits: 1)
            guard pieces.count == 2, let lie = Lie(rawValue: String(pieces[0])), let h = UInt64(pieces[1]), h >= 1
            else { throw LieSpecError(part) }
            from[lie] = min(from[lie] ?? h, h)
        }
    }

    public var isEmpty: Bool { from.isEmpty }

    /// Whether `lie` applies at `height`.
    public func tells(_ lie: Lie, at height: UInt64) -> Bool {
        guard let start = from[lie] else { return false }
        return height >= start
    }

    /// The lowest height from which `lie` is told, or nil.
    public func start(of lie: Lie) -> UInt64? { from[lie] }

    public var description: String {
        from.keys.sorted().map { "\($0.rawValue)@\(from[$0]!)" }.joined(separator: ",")
    }

    /// How many blocks a `silent` proposer stays silent.
    public static let silence: UInt64 = 100

    /// Whether a `silent` proposer proposes nothing at `height`.
    public func silent(at height: UInt64) -> Bool {
        guard let start = from[.silentProposer] else { return false }
        return height >= start && height - start < Self.silence
    }

    /// Who a forged message pays: a key anyone can derive.
    public static let attacker = DevKeys.key(named: "tributary/fault/attacker")

    /// The message an `outbox-root` lie claims its outbox holds (as its only entry, nonce 0): it
    /// pays `attacker` 400,000,000,000,000 of the source's native asset on `destination`.
    public static func forgedMessage(source: RollupID, nativeAsset: AssetName, destination: RollupID) -> Message {
        Message(
            source: source, nonce: 0, sender: attacker.publicKey.address, destination: destination, target: "bank",
            recipient: attacker.publicKey.address,
            value: [AssetAmount(nativeAsset, 400_000_000_000_000)], payload: [])
    }

    /// The header a lying sequencer stores, serves and posts instead of `honest` (whose parent
    /// link is already the stored chain's, so a lie once told is linked to by every later block).
    /// `forged` is the message an `outbox-root` lie claims (nil: no other rollup to forge for).
    public func falsify(_ honest: BlockHeader, forged: Message? = nil) -> BlockHeader {
        var h = honest
        let height = h.height
        if tells(.stateRoot, at: height) { h.stateRoot = Self.falseHash("state-root", h.stateRoot) }
        if tells(.outboxRoot, at: height) {
            h.outboxRoot = forged.map { MerkleList.root([$0.id]) } ?? Self.falseHash("outbox-root", h.outboxRoot)
        }
        if tells(.receiptsRoot, at: height) { h.receiptsRoot = Self.falseHash("receipts-root", h.receiptsRoot) }
        if from[.parentBreak] == height { h.parent = Self.falseHash("parent", h.parent) }
        if from[.originRegression] == height { h.l1Origin = .none }
        return h
    }

    /// A deterministic false value in place of `honest`.
    public static func falseHash(_ what: String, _ honest: Hash) -> Hash {
        Hash.sha256(Array("tributary/fault/\(what)".utf8) + honest.bytes)
    }
}

/// A `--fault` value that does not parse.
public struct LieSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var part: String
    init(_ part: some StringProtocol) { self.part = String(part) }

    public var description: String {
        "unknown lie \"\(part)\": use KIND@H with H >= 1 and KIND one of "
            + Lie.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
