/// The L1 block a rollup block builds on (zero until the rollup follows an L1).
public struct L1Origin: Hashable, Sendable, CanonicalCodable {
    public var height: UInt64
    public var hash: Hash

    public static let none = L1Origin(height: 0, hash: .zero)

    public init(height: UInt64, hash: Hash) {
        self.height = height
        self.hash = hash
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(height)
        encoder.write(hash)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        height = try decoder.read(UInt64.self)
        hash = try decoder.read(Hash.self)
    }
}

/// A rollup block header (DESIGN §3). Its hash is SHA-256 of its canonical encoding, fields in the
/// order below.
public struct BlockHeader: Hashable, Sendable, CanonicalCodable {
    public var rollup: RollupID
    public var height: UInt64
    /// The previous block's hash; zero for the genesis block.
    public var parent: Hash
    public var l1Origin: L1Origin
    /// Milliseconds since the Unix epoch, set by the sequencer; never read by the state machine.
    public var timestamp: UInt64
    /// `MerkleList.root` of the transactions' ids.
    public var transactionsRoot: Hash
    /// The state root after the block.
    public var stateRoot: Hash
    /// The outbox accumulator's root after the block (zero while the outbox is empty).
    public var outboxRoot: Hash
    /// `MerkleList.root` of the receipts' encodings.
    public var receiptsRoot: Hash

    public init(
        rollup: RollupID, height: UInt64, parent: Hash, l1Origin: L1Origin, timestamp: UInt64, transactionsRoot: Hash,
        stateRoot: Hash, outboxRoot: Hash, receiptsRoot: Hash
    ) {
        self.rollup = rollup
        self.height = height
        self.parent = parent
        self.l1Origin = l1Origin
        self.timestamp = timestamp
        self.transactionsRoot = transactionsRoot
        self.stateRoot = stateRoot
        self.outboxRoot = outboxRoot
        self.receiptsRoot = receiptsRoot
    }

    /// The block's hash.
    public var hash: Hash { Hash.sha256(canonicalBytes) }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(rollup)
        encoder.write(height)
        encoder.write(parent)
        encoder.write(l1Origin)
        encoder.write(timestamp)
        encoder.write(transactionsRoot)
        encoder.write(stateRoot)
        encoder.write(outboxRoot)
        encoder.write(receiptsRoot)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        rollup = try decoder.read(RollupID.self)
        height = try decoder.read(UInt64.self)
        parent = try decoder.read(Hash.self)
        l1Origin = try decoder.read(L1Origin.self)
        timestamp = try decoder.read(UInt64.self)
        transactionsRoot = try decoder.read(Hash.self)
        stateRoot = try decoder.read(Hash.self)
        outboxRoot = try decoder.read(Hash.self)
        receiptsRoot = try decoder.read(Hash.self)
    }
}

/// A block: header and transactions.
public struct Block: Hashable, Sendable, CanonicalCodable {
    public var header: BlockHeader
    public var transactions: [SignedTransaction]

    public init(header: BlockHeader, transactions: [SignedTransaction]) {
        self.header = header
        self.transactions = transactions
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(header)
        encoder.write(transactions)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        header = try decoder.read(BlockHeader.self)
        transactions = try decoder.readArray(SignedTransaction.self)
    }

    /// The fewest bytes any block encodes to: a header (every field fixed-width) and an empty
    /// transaction list (its `u32` count). 224 bytes; computed from the encoding so it follows any change to it.
    /// The L1 bounds a batch's block count with it (docs/protocol.md, `postBlob`).
    public static let minimumEncodedBytes: Int = Block(
        header: BlockHeader(
            rollup: RollupID(0), height: 0, parent: .zero, l1Origin: .none, timestamp: 0, transactionsRoot: .zero,
            stateRoot: .zero, outboxRoot: .zero, receiptsRoot: .zero),
        transactions: []
    ).canonicalBytes.count
}

/// The Merkle root of a list (RFC 6962's tree shape): a leaf is `SHA-256(0x00 ‖ item hash)`, an
/// inner node `SHA-256(0x01 ‖ left ‖ right)`, a list of `n > 1` items splits at the largest power of
/// two below `n`, and the empty list's root is 32 zero bytes.
public enum MerkleList {
    public static func root(_ items: [Hash]) -> Hash {
        items.isEmpty ? .zero : root(items[...])
    }

    /// A leaf: `SHA-256(0x00 ‖ item)`.
    public static func leafHash(_ item: Hash) -> Hash { item.withUnsafeBytes { Hash.sha256([0] + Array($0)) } }

    static func root(_ items: ArraySlice<Hash>) -> Hash {
        if items.count == 1 { return leafHash(items.first!) }
        var split = 1
        while split * 2 < items.count { split *= 2 }
        let mid = items.startIndex + split
        return Hash.sha256(tag: 0x01, root(items[..<mid]), root(items[mid...]))
    }
}
