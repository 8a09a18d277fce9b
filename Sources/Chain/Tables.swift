import Primitives
import StateMachine
import StateTree
import Storage

// A rollup node's tables (docs/architecture.md has the map of every table):
//
//   meta            name                  -> bytes       head height, genesis hash, rollup id
//   headers         height (u64 BE)       -> BlockHeader
//   block_hashes    block hash            -> height
//   bodies          height                -> BlockBody    the block's transactions
//   receipts        height                -> BlockReceipts
//   tx_index        transaction id        -> TransactionLocation
//   outbox          nonce (u64 BE)        -> Message      every message this rollup sent
//   outbox_nodes    level (u8) ‖ index    -> hash         perfect subtrees of the outbox (proofs)
//   message_index   message id            -> nonce (u64) ‖ 0 (u32)
//   outbox_counts   height                -> outbox size after the block (blocks that sent)
//   l1_facts        rollup ‖ output index -> L1OutputFact the L1 facts this chain's relays used
//   state_*         the state tree's tables (StateTree/LMDBTreeStore.swift)

/// Name -> bytes: the head pointer and the store's identity.
public enum Meta: Table {
    public static let name = "meta"
    public typealias Key = String
    public typealias Value = [UInt8]

    /// The height of the newest committed block (u64 BE).
    public static let head = "head"
    /// The genesis block's hash: a store opened with another genesis is refused.
    public static let genesis = "genesis"
}

/// Height -> header, the primary source for headers.
public enum Headers: Table {
    public static let name = "headers"
    public typealias Key = UInt64
    public typealias Value = BlockHeader
}

/// Block hash -> height.
public enum BlockHashes: Table {
    public static let name = "block_hashes"
    public typealias Key = Hash
    public typealias Value = UInt64
}

/// Height -> the block's transactions.
public enum Bodies: Table {
    public static let name = "bodies"
    public typealias Key = UInt64
    public typealias Value = BlockBody
}

/// Height -> the block's receipts, in transaction order.
public enum Receipts: Table {
    public static let name = "receipts"
    public typealias Key = UInt64
    public typealias Value = BlockReceipts
}

/// Transaction id -> where the transaction was included.
public enum TransactionIndex: Table {
    public static let name = "tx_index"
    public typealias Key = Hash
    public typealias Value = TransactionLocation
}

/// Nonce -> a message this rollup sent (its outbox, in order).
public enum Outbox: Table {
    public static let name = "outbox"
    public typealias Key = UInt64
    public typealias Value = Message
}

/// `level (u8) ‖ index (u64)` -> the root of the perfect subtree of 2^level outbox entries starting
/// at `index << level`: enough to prove any entry against any later outbox root in O(log n).
public enum OutboxNodes: Table {
    public static let name = "outbox_nodes"
    public typealias Key = [UInt8]
    public typealias Value = Hash

    public static func key(level: Int, index: UInt64) -> [UInt8] { [UInt8(level)] + index.canonicalBytes }
}

/// Message id -> where it is in the outbox: its nonce, stored as a `TransactionLocation` whose
/// height is the nonce and whose index is 0 (`nonce (u64) ‖ 0 (u32)`, 12 bytes); `outbox_heights`
/// maps the nonce to the block that sent it.
public enum MessageIndex: Table {
    public static let name = "message_index"
    public typealias Key = Hash
    public typealias Value = TransactionLocation
}

/// Nonce -> the height of the block that sent the message.
public enum MessageHeights: Table {
    public static let name = "message_heights"
    public typealias Key = UInt64
    public typealias Value = UInt64
}

/// Height -> the number of outbox entries after that block (only blocks that sent messages).
public enum OutboxCounts: Table {
    public static let name = "outbox_counts"
    public typealias Key = UInt64
    public typealias Value = UInt64
}

/// `rollup ‖ output index` -> what the L1 said of that output when a relay here checked it
/// (outputs final as of a block's L1 origin never change), so a store re-verifies offline.
public enum L1FactsTable: Table {
    public static let name = "l1_facts"
    public typealias Key = RollupIndex
    public typealias Value = L1OutputFact
}

extension Message: StorageCodable {}
extension L1OutputFact: StorageCodable {}

/// A block's transactions.
public struct BlockBody: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var transactions: [SignedTransaction]

    public init(_ transactions: [SignedTransaction]) { self.transactions = transactions }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(transactions) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        transactions = try decoder.readArray(SignedTransaction.self)
    }
}

/// A block's receipts.
public struct BlockReceipts: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var receipts: [Receipt]

    public init(_ receipts: [Receipt]) { self.receipts = receipts }

    public func encode(to encoder: inout CanonicalEncoder) { encoder.write(receipts) }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        receipts = try decoder.readArray(Receipt.self)
    }
}

/// Where a transaction was included: `height (u64) ‖ index (u32)`.
public struct TransactionLocation: Hashable, Sendable, CanonicalCodable, StorageCodable {
    public var height: UInt64
    public var index: UInt32

    public init(height: UInt64, index: UInt32) {
        self.height = height
        self.index = index
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(height)
        encoder.write(index)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        height = try decoder.read(UInt64.self)
        index = try decoder.read(UInt32.self)
    }
}

extension BlockHeader: StorageCodable {}

/// Every table of a rollup store, its chain's and its state tree's: what `db` must be able to
/// decode (each has a display codec, `OperatorUnitTests.everyTableOfBothStoresDecodes`).
public enum RollupStoreTables {
    public static let all: [any Table.Type] = [
        Meta.self, Headers.self, BlockHashes.self, Bodies.self, Receipts.self, TransactionIndex.self, Outbox.self,
        OutboxNodes.self, MessageIndex.self, MessageHeights.self, OutboxCounts.self, L1FactsTable.self,
        Batches.self, Claims.self, StateNodes.self, StateValues.self, StateStale.self, StateRoots.self,
    ]
}
