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
