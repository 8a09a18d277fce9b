/// An amount of one asset. Assets in messages are named by their home rollup's native asset name
/// (`ALPHA`), whatever they are called where they are held (`alpha/ALPHA` on beta).
public struct AssetAmount: Hashable, Sendable, CanonicalCodable {
    public var asset: AssetName
    public var amount: UInt64

    public init(_ asset: AssetName, _ amount: UInt64) {
        self.asset = asset
        self.amount = amount
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(asset)
        encoder.write(amount)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        asset = try decoder.read(AssetName.self)
        amount = try decoder.read(UInt64.self)
    }
}

/// A cross-rollup message (DESIGN §7): `source (u32) ‖ nonce (u64) ‖ sender (address) ‖
/// destination (u32) ‖ target (string) ‖ recipient (address) ‖ value (array of AssetAmount) ‖
/// payload (bytes)`. The nonce is the message's index in the source's outbox. Its id is
/// `SHA-256("tributary/msg/v1" ‖ 0x00 ‖ encoding)`.
public struct Message: Hashable, Sendable, CanonicalCodable {
    public static let maxPayload = 1024
    public static let maxAssets = 4
    public static let maxTargetLength = 32

    public var source: RollupID
    public var nonce: UInt64
    public var sender: Address
    public var destination: RollupID
    /// The built-in module that receives it: `bank`, `mailbox` or `escrow`.
    public var target: String
    /// The account the message is for (credited by `bank`, addressed by `mailbox`, the
    /// beneficiary of an `escrow` lock).
    public var recipient: Address
    /// Strictly ordered by asset name, amounts above zero.
    public var value: [AssetAmount]
    public var payload: [UInt8]

    public init(
        source: RollupID, nonce: UInt64, sender: Address, destination: RollupID, target: String, recipient: Address,
        value: [AssetAmount], payload: [UInt8]
    ) {
        self.source = source
        self.nonce = nonce
        self.sender = sender
        self.destination = destination
        self.target = target
        self.recipient = recipient
        self.value = value
        self.payload = payload
    }

    public var id: Hash { Hash.sha256(Array("tributary/msg/v1".utf8) + [0] + canonicalBytes) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(source)
        encoder.write(nonce)
        encoder.write(sender)
        encoder.write(destination)
        encoder.write(target)
        encoder.write(recipient)
        encoder.write(value)
        encoder.writeBytes(payload)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        source = try decoder.read(RollupID.self)
        nonce = try decoder.read(UInt64.self)
        sender = try decoder.read(Address.self)
        destination = try decoder.read(RollupID.self)
        target = try decoder.read(String.self, maxLength: Self.maxTargetLength)
        recipient = try decoder.read(Address.self)
        value = try Self.readValue(&decoder)
        payload = try decoder.readBytes(maxLength: Self.maxPayload)
    }

    /// Reads a value list by the one rule every value list follows (a message's, a `sendMessage`
    /// call's, an escrow lock's): at most `maxAssets` entries (`lengthExceedsLimit` past it, before
    /// any entry is read), each amount above zero and the assets strictly increasing (`invalidValue`).
    public static func readValue(_ decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) -> [AssetAmount] {
        let value = try decoder.readArray(AssetAmount.self, maxCount: maxAssets)
        for (i, v) in value.enumerated() {
            guard v.amount > 0 else { throw .invalidValue("a zero amount in a message's value") }
            if i > 0, !(value[i - 1].asset < v.asset) {
                throw .invalidValue("message value not strictly ordered by asset")
            }
        }
        return value
    }
}

/// An inclusion proof of an outbox entry (RFC 6962 audit path): `index (u64) ‖ tree size (u64) ‖
/// path (array of hashes, at most 64)`.
public struct OutboxProof: Hashable, Sendable, CanonicalCodable {
    /// The longest path: a tree of at most 2^64 entries.
    public static let maxPath = 64

    public var index: UInt64
    public var treeSize: UInt64
    public var path: [Hash]

    public init(index: UInt64, treeSize: UInt64, path: [Hash]) {
        self.index = index
        self.treeSize = treeSize
        self.path = path
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(index)
        encoder.write(treeSize)
        encoder.write(path)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        index = try decoder.read(UInt64.self)
        treeSize = try decoder.read(UInt64.self)
        path = try decoder.readArray(Hash.self, maxCount: Self.maxPath)
    }

    /// The root this proof gives for `leaf` (the message id), or nil when the shape is impossible
    /// (RFC 9162 §2.1.3.2).
    public func root(for leaf: Hash) -> Hash? {
        guard index < treeSize else { return nil }
        var fn = index, sn = treeSize - 1
        var r = MerkleList.leafHash(leaf)
        for p in path {
            guard sn > 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = Hash.sha256(tag: 0x01, p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = Hash.sha256(tag: 0x01, r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }
}

/// The outbox accumulator's compact state: the number of entries and the roots of the perfect
/// subtrees of the binary decomposition of that number (RFC 6962 shape), largest first. Its root
/// is the `MerkleList` root of all entries, computed from the peaks alone; appending is O(log n).
/// Encoding: `count (u64) ‖ peaks (array of hashes)`.
public struct OutboxFrontier: Hashable, Sendable, CanonicalCodable {
    public private(set) var count: UInt64
    public private(set) var peaks: [Hash]

    public init() {
        count = 0
        peaks = []
    }

    /// The perfect subtrees completed by this append, as `(level, index)` with their hashes: what a
    /// node stores to answer proofs in O(log n).
    @discardableResult
    public mutating func append(_ leaf: Hash) -> [(level: Int, index: UInt64, hash: Hash)] {
        var node = MerkleList.leafHash(leaf)
        var formed: [(Int, UInt64, Hash)] = [(0, count, node)]
        var level = 0
        var n = count
        while n & 1 == 1 {
            node = Hash.sha256(tag: 0x01, peaks.removeLast(), node)
            level += 1
            n >>= 1
            formed.append((level, n, node))
        }
        peaks.append(node)
        count += 1
        return formed
    }

    /// The root of all entries (zero when empty).
    public var root: Hash {
        guard var r = peaks.last else { return .zero }
        for p in peaks.dropLast().reversed() { r = Hash.sha256(tag: 0x01, p, r) }
        return r
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(count)
        encoder.write(peaks)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        count = try decoder.read(UInt64.self)
        peaks = try decoder.readArray(Hash.self)
        guard peaks.count == count.nonzeroBitCount else { throw .invalidValue("outbox frontier peaks") }
    }
}
