import API
import Chain
import Config
import Foundation
import Primitives
import RPC
import Rollup
import StateMachine
import StateTree

/// Application error codes of the rollup RPC (docs/rpc.md); the standard ones are -32700…-32603.
public enum RollupErrorCode {
    public static let badSignature = -32001
    public static let wrongRollup = -32002
    public static let nonceTooLow = -32003
    public static let nonceTooHigh = -32004
    public static let cannotPayFee = -32005
    public static let alreadyKnown = -32006
    public static let nonceTaken = -32007
    public static let senderFull = -32008
    public static let mempoolFull = -32009
    public static let tooLarge = -32010
    public static let notFound = -32011
    public static let followOnly = -32012
    /// The fee is below the mempool's price (`mempool.minFeePerByte` × the signed size).
    public static let feeTooLow = -32013
    /// The sender already holds the most transactions waiting behind a nonce gap.
    public static let tooManyNotReady = -32014
}

/// A rollup node's implementation of the `rollup_*` methods (`RollupAPI`, docs/rpc.md) over its
/// store and mempool; the message methods are in MessagesRPC.swift.
public struct RollupRPC: RollupAPI {
    public let store: ChainStore
    public let mempool: Mempool

    /// Set on a following node: transactions go to the rollup's sequencer, not here.
    public var followOnly = false
    /// For message status: the devnet and the L1.
    public var genesis: Genesis?
    public var l1: L1Client?
    /// The node's view of the L1 for `rollup_status` (nil: a standalone node).
    public var l1View: @Sendable () -> RollupNodeStatus.L1View? = { nil }

    public init(store: ChainStore, mempool: Mempool) {
        self.store = store
        self.mempool = mempool
    }

    var rollup: RollupParameters { store.rollup }

    /// Serves the `rollup_*` methods (the `RollupAPI` binding): a transaction longer than the
    /// mempool's limit is refused before it is decoded.
    public func register(into d: inout RPCDispatcher) {
        register(into: &d, maxTransactionBytes: mempool.limits.maxTransactionBytes) { size in
            Self.rpcError(.tooLarge(size: size, limit: mempool.limits.maxTransactionBytes))
        }
    }

    public func blockNumber() throws -> UInt64 { try store.head().height }

    // MARK: Transactions

    public func sendTransaction(_ tx: SignedTransaction) throws -> Hash {
        if followOnly {
            throw RPCError(
                code: RollupErrorCode.followOnly,
                message:
                    "this node follows \(rollup.name) from the L1 and takes no transactions; send them to its sequencer at \(rollup.rpc)"
            )
        }
        let sender = tx.transaction.senderAddress
        do {
            try mempool.add(tx, encodedSize: tx.canonicalBytes.count) {
                try store.withState { view in
                    (
                        nonce: try view.accounts.nonce(of: sender),
                        nativeBalance: try view.accounts.balance(of: sender, rollup.nativeAsset)
                    )
                }
            }
        } catch let error as MempoolError {
            throw Self.rpcError(error)
        }
        return tx.id
    }

    static func rpcError(_ error: MempoolError) -> RPCError {
        let code: Int
        switch error {
        case .tooLarge: code = RollupErrorCode.tooLarge
        case .wrongRollup: code = RollupErrorCode.wrongRollup
        case .badSignature: code = RollupErrorCode.badSignature
        case .nonceTooLow: code = RollupErrorCode.nonceTooLow
        case .nonceTooHigh: code = RollupErrorCode.nonceTooHigh
        case .cannotPayFee: code = RollupErrorCode.cannotPayFee
        case .alreadyKnown: code = RollupErrorCode.alreadyKnown
        case .nonceTaken: code = RollupErrorCode.nonceTaken
        case .senderFull: code = RollupErrorCode.senderFull
        case .full: code = RollupErrorCode.mempoolFull
        case .feeTooLow: code = RollupErrorCode.feeTooLow
        case .tooManyNotReady: code = RollupErrorCode.tooManyNotReady
        }
        return RPCError(code: code, message: error.description)
    }

    public func transaction(_ id: Hash) throws -> TransactionLookup? {
        if let found = try store.inclusion(of: id) {
            return .included(
                found.transaction, blockHeight: found.location.height, blockHash: found.header.hash,
                index: UInt64(found.location.index))
        }
        switch mempool.status(of: id) {
        case .pending: return .pending(id)
        case .dropped(let reason): return .dropped(id, reason: reason)
        case .unknown: return nil
        }
    }

    public func receipt(_ id: Hash) throws -> TransactionReceipt? {
        guard let found = try store.inclusion(of: id) else { return nil }
        let r = found.receipt
        return TransactionReceipt(
            transaction: r.transaction, status: r.status, feePaid: r.feePaid,
            message: r.message == .zero ? nil : r.message, returnMessage: r.returnMessage == .zero ? nil : r.returnMessage,
            blockHeight: found.location.height, blockHash: found.header.hash, index: UInt64(found.location.index))
    }

    // MARK: Blocks

    public func block(_ selector: BlockSelector?, full: Bool) throws -> RollupBlock? {
        let height: UInt64?
        switch selector ?? .latest {
        case .latest: height = try store.head().height
        case .height(let h): height = h
        case .hash(let hash): height = try store.height(ofBlock: hash)
        }
        guard let height, let block = try store.block(at: height) else { return nil }
        return RollupBlock(block, full: full)
    }

    // MARK: Accounts

    public func account(_ address: Address, assets: [AssetName]?, proof withProof: Bool) throws -> Account {
        let assets = assets ?? [rollup.nativeAsset]
        return try store.withState { view in
            let accounts = view.accounts
            var balances: [AssetName: UInt64] = [:]
            for asset in assets { balances[asset] = try accounts.balance(of: address, asset) }
            let nonce = try accounts.nonce(of: address)
            var proofs: [String: [UInt8]]?
            if withProof {
                var p = ["nonce": try view.proof(of: StateKey.nonce(address)).proof.canonicalBytes]
                for asset in assets {
                    p["balance:" + asset.rawValue] = try view.proof(of: StateKey.balance(address, asset)).proof.canonicalBytes
                }
                proofs = p
            }
            return Account(
                address: address, nonce: nonce, pendingNonce: mempool.pendingNonce(of: address) ?? nonce,
                balances: balances, height: view.height, stateRoot: view.header.stateRoot, proofs: proofs)
        }
    }

    public func nonce(of address: Address) throws -> AccountNonces {
        let nonce = try store.withState { try $0.accounts.nonce(of: address) }
        return AccountNonces(nonce: nonce, pending: mempool.pendingNonce(of: address) ?? nonce)
    }

    public func status() throws -> RollupNodeStatus {
        RollupNodeStatus(
            rollup: rollup.id, name: rollup.name, nativeAsset: rollup.nativeAsset, genesisHash: store.genesisHash,
            head: try store.head(), mempool: UInt64(mempool.count), sequencer: rollup.sequencer.publicKey.address,
            mode: followOnly ? .follower : .sequencer, minFeePerByte: mempool.limits.minFeePerByte, l1: l1View())
    }
}
