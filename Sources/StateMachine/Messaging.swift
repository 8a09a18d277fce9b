import Primitives
import Storage

/// The rollups of a devnet as the state machine needs them: who is home to which asset. Fixed by
/// the genesis; only looked up, never iterated into results.
public struct Network: Sendable {
    public struct Member: Hashable, Sendable {
        public var id: RollupID
        public var name: String
        public var nativeAsset: AssetName

        public init(id: RollupID, name: String, nativeAsset: AssetName) {
            self.id = id
            self.name = name
            self.nativeAsset = nativeAsset
        }
    }

    let byID: [RollupID: Member]
    let byAsset: [AssetName: Member]

    public init(_ members: [Member]) {
        var byID: [RollupID: Member] = [:], byAsset: [AssetName: Member] = [:]
        for m in members {
            byID[m.id] = m
            byAsset[m.nativeAsset] = m
        }
        self.byID = byID
        self.byAsset = byAsset
    }

    public static let empty = Network([])

    public func member(_ id: RollupID) -> Member? { byID[id] }

    /// Every member, by id.
    public var members: [Member] { byID.keys.sorted().map { byID[$0]! } }

    /// Where an asset (named by its home's native asset name) lives, or nil when no rollup issues it.
    public func home(of asset: AssetName) -> Member? { byAsset[asset] }

    /// What `asset` is called on rollup `here`: the native name at home, `home/NAME` elsewhere.
    public func localName(of asset: AssetName, on here: RollupID) -> AssetName? {
        guard let home = byAsset[asset] else { return nil }
        return home.id == here ? asset : AssetName(rawValue: "\(home.name)/\(asset.rawValue)")
    }
}

/// What the L1 records about one output, as a rollup's state machine may ask it.
public struct L1OutputFact: Hashable, Sendable, CanonicalCodable {
    public var outboxRoot: Hash
    public var l2Height: UInt64
    /// The first L1 height at which the output is final (unless invalidated).
    public var windowEnd: UInt64
    public var invalidated: Bool

    public init(outboxRoot: Hash, l2Height: UInt64, windowEnd: UInt64, invalidated: Bool) {
        self.outboxRoot = outboxRoot
        self.l2Height = l2Height
        self.windowEnd = windowEnd
        self.invalidated = invalidated
    }

    /// Final as of L1 height `height`. An output can only be invalidated inside its window, so the
    /// answer for a height at or above the window's end never changes.
    public func isFinalized(asOf height: UInt64) -> Bool { !invalidated && windowEnd <= height }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(outboxRoot)
        encoder.write(l2Height)
        encoder.write(windowEnd)
        encoder.write(invalidated)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        outboxRoot = try decoder.read(Hash.self)
        l2Height = try decoder.read(UInt64.self)
        windowEnd = try decoder.read(UInt64.self)
        invalidated = try decoder.read(Bool.self)
    }
}

/// The L1 facts a block's relays depend on. Implementations: the L1's own store (adjudication), a
/// node's cache of the L1 (sequencing, derivation), the facts recorded with each block (verify).
public protocol L1View: Sendable {
    func output(rollup: RollupID, index: UInt64) -> L1OutputFact?
}

/// An L1 that knows no outputs.
public struct NoL1: L1View {
    public init() {}
    public func output(rollup: RollupID, index: UInt64) -> L1OutputFact? { nil }
}

/// A fixed set of facts.
public struct L1Facts: L1View {
    public var facts: [RollupIndex: L1OutputFact]
    public init(_ facts: [RollupIndex: L1OutputFact] = [:]) { self.facts = facts }
    public func output(rollup: RollupID, index: UInt64) -> L1OutputFact? { facts[RollupIndex(rollup, index)] }
}

/// `rollup (u32) ‖ index (u64)`.
public struct RollupIndex: Hashable, Sendable, Comparable, CanonicalCodable {
    public var rollup: RollupID
    public var index: UInt64
    public init(_ rollup: RollupID, _ index: UInt64) {
        self.rollup = rollup
        self.index = index
    }
    public static func < (a: RollupIndex, b: RollupIndex) -> Bool {
        (a.rollup.rawValue, a.index) < (b.rollup.rawValue, b.index)
    }
    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(index)
    }
    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        index = try decoder.read(UInt64.self)
    }
}

/// Accounts of the built-in modules: addresses no key controls.
public enum ModuleAccount {
    static func address(_ name: String) -> Address {
        Address(bytes: Hash.sha256(Array("tributary/module/\(name)".utf8)).bytes.prefix(20))!
    }
    /// Holds native assets that left for other rollups (released when they come home).
    public static let bridge = address("bridge")
    /// Holds locked escrow value.
    public static let escrow = address("escrow")
}

/// An escrow lock: `sender's rollup ‖ sender ‖ beneficiary ‖ value ‖ hash lock ‖ timeout (L1 height)`.
public struct EscrowLock: Hashable, Sendable, CanonicalCodable {
    public var source: RollupID
    public var sender: Address
    public var beneficiary: Address
    public var value: [AssetAmount]
    public var hashLock: Hash
    public var timeout: UInt64

    public init(
        source: RollupID, sender: Address, beneficiary: Address, value: [AssetAmount], hashLock: Hash, timeout: UInt64
    ) {
        self.source = source
        self.sender = sender
        self.beneficiary = beneficiary
        self.value = value
        self.hashLock = hashLock
        self.timeout = timeout
    }

    /// The payload that asks the escrow module for a lock: `hash lock (32) ‖ timeout (u64)`.
    public static func payload(hashLock: Hash, timeout: UInt64) -> [UInt8] { hashLock.bytes + timeout.canonicalBytes }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(source)
        encoder.write(sender)
        encoder.write(beneficiary)
        encoder.write(value)
        encoder.write(hashLock)
        encoder.write(timeout)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        source = try decoder.read(RollupID.self)
        sender = try decoder.read(Address.self)
        beneficiary = try decoder.read(Address.self)
        value = try Message.readValue(&decoder)
        hashLock = try decoder.read(Hash.self)
        timeout = try decoder.read(UInt64.self)
    }
}

/// What became of a relayed message: `status (u8) ‖ return message id (zero: none)`.
public struct RelayRecord: Hashable, Sendable, CanonicalCodable {
    public var status: ReceiptStatus
    public var bounce: Hash

    public init(status: ReceiptStatus, bounce: Hash) {
        self.status = status
        self.bounce = bounce
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(status.rawValue)
        encoder.write(bounce)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        let raw = try decoder.read(UInt8.self)
        guard let s = ReceiptStatus(rawValue: raw) else { throw .invalidValue("relay status \(raw)") }
        status = s
        bounce = try decoder.read(Hash.self)
    }
}

extension StateKey {
    static func tagged(_ tag: UInt8, _ build: (inout CanonicalEncoder) -> Void) -> Hash {
        var e = CanonicalEncoder(reservingCapacity: 64)
        e.write(tag)
        build(&e)
        return Hash.sha256(e.bytes)
    }

    /// `SHA-256(0x03 ‖ message id)` → RelayRecord: the message was relayed here.
    public static func consumed(_ id: Hash) -> Hash { tagged(0x03) { $0.write(id) } }

    /// `SHA-256(0x04 ‖ recipient ‖ source rollup ‖ sender)` → the latest mailbox payload.
    public static func mailbox(recipient: Address, source: RollupID, sender: Address) -> Hash {
        tagged(0x04) {
            $0.write(recipient)
            $0.write(source)
            $0.write(sender)
        }
    }

    /// `SHA-256(0x05)` → the outbox accumulator (`OutboxFrontier`).
    public static let outbox = tagged(0x05) { _ in }

    /// `SHA-256(0x06 ‖ lock id)` → EscrowLock.
    public static func escrow(_ id: Hash) -> Hash { tagged(0x06) { $0.write(id) } }
}

/// Stored as its canonical bytes: the key of the L1's blob and output tables and of `l1_facts`.
extension RollupIndex: StorageCodable {}
