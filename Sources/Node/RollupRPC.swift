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

/// The `rollup_*` methods of a rollup node.
public struct RollupRPC: Sendable {
    public let store: ChainStore
    public let mempool: Mempool

    /// Set on a following node: transactions go to the rollup's sequencer, not here.
    public var followOnly = false
    /// For message status: the devnet and the L1.
    public var genesis: Genesis?
    public var l1: L1Client?
    /// Extra fields of `rollup_status` (the node's view of the L1).
    public var statusExtras: @Sendable () -> [String: JSONValue] = { [:] }

    public init(store: ChainStore, mempool: Mempool) {
        self.store = store
        self.mempool = mempool
    }

    var rollup: RollupParameters { store.rollup }

    public func register(into d: inout RPCDispatcher) {
        d.register(RollupMethod.sendTransaction) { try await self.sendTransaction($0) }
        d.register(RollupMethod.getTransaction) { try self.getTransaction($0) }
        d.register(RollupMethod.getReceipt) { try self.getReceipt($0) }
        d.register(RollupMethod.getBlock) { try self.getBlock($0) }
        d.register(RollupMethod.blockNumber) { params in
            try params.expect(atMost: 0)
            return .number(try self.store.head().height)
        }
        d.register(RollupMethod.getAccount) { try self.getAccount($0) }
        d.register(RollupMethod.getNonce) { try self.getNonce($0) }
        d.register(RollupMethod.status) { _ in try self.status() }
        MessagesRPC(store: store, genesis: genesis, l1: l1).register(into: &d)
    }

    // MARK: Transactions

    func sendTransaction(_ params: RPCParams) async throws -> JSONValue {
        if followOnly {
            throw RPCError(
                code: RollupErrorCode.followOnly,
                message:
                    "this node follows \(rollup.name) from the L1 and takes no transactions; send them to its sequencer at \(rollup.rpc)"
            )
        }
        try params.expect(atMost: 1)
        let raw = try params.hex(0, "signed transaction")
        // Size first: the bytes are refused before any decoding work, by the mempool's own limit.
        if raw.count > mempool.limits.maxTransactionBytes {
            throw Self.rpcError(.tooLarge(size: raw.count, limit: mempool.limits.maxTransactionBytes))
        }
        let tx: SignedTransaction
        do {
            // The type's own limits bound every field (docs/protocol.md); nothing looser is needed.
            tx = try SignedTransaction(canonicalBytes: raw)
        } catch {
            throw RPCError.invalidParams("parameter 0 is not a canonical signed transaction: \(error)")
        }
        let sender = tx.transaction.senderAddress
        do {
            try mempool.add(tx, encodedSize: raw.count) {
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
        return .string(tx.id.hex)
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

    func transactionID(_ params: RPCParams) throws -> Hash {
        try params.expect(atMost: 1)
        let text = try params.string(0, "transaction id")
        guard let id = try? Hash(hex: text) else {
            throw RPCError.invalidParams("parameter 0 (transaction id) must be 32 bytes of hex")
        }
        return id
    }

    func getTransaction(_ params: RPCParams) throws -> JSONValue {
        let id = try transactionID(params)
        if let found = try store.inclusion(of: id) {
            var json = JSONForm.json(found.transaction)
            json["status"] = .string("included")
            json["blockHeight"] = .number(found.location.height)
            json["blockHash"] = .string(found.header.hash.hex)
            json["index"] = .number(found.location.index)
            return .object(json)
        }
        switch mempool.status(of: id) {
        case .pending: return .object(["id": .string(id.hex), "status": .string("pending")])
        case .dropped(let reason):
            return .object(["id": .string(id.hex), "status": .string("dropped"), "reason": .string(reason)])
        case .unknown: return .null
        }
    }

    func getReceipt(_ params: RPCParams) throws -> JSONValue {
        let id = try transactionID(params)
        guard let found = try store.inclusion(of: id) else { return .null }
        let receipt = found.receipt
        return .object([
            "transaction": .string(receipt.transaction.hex), "status": .string(Self.name(receipt.status)),
            "success": .bool(receipt.status == .success), "feePaid": .number(receipt.feePaid),
            "message": receipt.message == .zero ? .null : .string(receipt.message.hex),
            "returnMessage": receipt.returnMessage == .zero ? .null : .string(receipt.returnMessage.hex),
            "blockHeight": .number(found.location.height), "blockHash": .string(found.header.hash.hex),
            "index": .number(found.location.index),
        ])
    }

    static func name(_ status: ReceiptStatus) -> String { "\(status)" }

    // MARK: Blocks

    func getBlock(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 2)
        let height: UInt64?
        switch params.optional(0) {
        case nil, .string("latest")?: height = try store.head().height
        case .string(let text)?:
            guard let hash = try? Hash(hex: text) else {
                throw RPCError.invalidParams("parameter 0 must be a height, \"latest\" or a 32-byte block hash")
            }
            height = try store.height(ofBlock: hash)
        case let value?:
            guard let h = value.unsignedValue else {
                throw RPCError.invalidParams("parameter 0 must be a height, \"latest\" or a block hash")
            }
            height = h
        }
        let full = params.optional(1)?.boolValue ?? false
        guard let height, let block = try store.block(at: height) else { return .null }
        return .object(JSONForm.json(block, full: full))
    }

    // MARK: Accounts

    func address(_ params: RPCParams) throws -> Address {
        let text = try params.string(0, "address")
        guard let address = try? Address(hex: text) else {
            throw RPCError.invalidParams("parameter 0 (address) must be 20 bytes of hex")
        }
        return address
    }

    func getAccount(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 2)
        let address = try address(params)
        let options = params.optional(1)
        var assets = [rollup.nativeAsset]
        if let list = options?["assets"] {
            guard case .array(let names) = list else {
                throw RPCError.invalidParams("assets must be an array of asset names")
            }
            assets = try names.map { value in
                guard let name = value.stringValue.flatMap(AssetName.init(rawValue:)) else {
                    throw RPCError.invalidParams("\(value) is not an asset name")
                }
                return name
            }
        }
        let withProof = options?["proof"]?.boolValue ?? false
        return try store.withState { view in
            let accounts = view.accounts
            var balances: [String: JSONValue] = [:]
            for asset in assets { balances[asset.rawValue] = .number(try accounts.balance(of: address, asset)) }
            let nonce = try accounts.nonce(of: address)
            var json: [String: JSONValue] = [
                "address": .string(address.hex), "nonce": .number(nonce), "balances": .object(balances),
                "height": .number(view.height), "stateRoot": .string(view.header.stateRoot.hex),
                "pendingNonce": .number(mempool.pendingNonce(of: address) ?? nonce),
            ]
            if withProof {
                var proofs: [String: JSONValue] = [:]
                proofs["nonce"] = .string(
                    "0x" + Hex.encode(try view.proof(of: StateKey.nonce(address)).proof.canonicalBytes))
                for asset in assets {
                    let p = try view.proof(of: StateKey.balance(address, asset)).proof
                    proofs["balance:" + asset.rawValue] = .string("0x" + Hex.encode(p.canonicalBytes))
                }
                json["proofs"] = .object(proofs)
            }
            return .object(json)
        }
    }

    func getNonce(_ params: RPCParams) throws -> JSONValue {
        try params.expect(atMost: 1)
        let address = try address(params)
        let nonce = try store.withState { try $0.accounts.nonce(of: address) }
        return .object(["nonce": .number(nonce), "pending": .number(mempool.pendingNonce(of: address) ?? nonce)])
    }

    func status() throws -> JSONValue {
        let head = try store.head()
        var json: [String: JSONValue] = [
            "rollup": .number(rollup.id.rawValue), "name": .string(rollup.name),
            "nativeAsset": .string(rollup.nativeAsset.rawValue),
            "genesisHash": .string(store.genesisHash.hex), "head": .object(JSONForm.json(head)),
            "mempool": .number(mempool.count), "sequencer": .string(rollup.sequencer.publicKey.address.hex),
            "mode": .string(followOnly ? "follower" : "sequencer"),
            "minFeePerByte": .number(mempool.limits.minFeePerByte),
        ]
        for (k, v) in statusExtras() { json[k] = v }
        return .object(json)
    }
}
