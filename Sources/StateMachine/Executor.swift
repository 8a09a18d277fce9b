import Primitives

/// What a block is executed against: fixed by the block and the genesis, never by a clock.
public struct BlockContext: Sendable {
    public var rollup: RollupID
    public var height: UInt64
    /// Receives every transaction's fee.
    public var sequencer: Address
    /// Fees are paid in this asset.
    public var nativeAsset: AssetName
    /// The height of the block's L1 origin: relays need their output final as of it, escrow
    /// timeouts are measured on it.
    public var l1Height: UInt64
    /// The devnet's rollups and their assets.
    public var network: Network
    /// The L1 facts relays are checked against.
    public var l1: any L1View

    public init(
        rollup: RollupID, height: UInt64, sequencer: Address, nativeAsset: AssetName, l1Height: UInt64 = 0,
        network: Network = .empty, l1: any L1View = NoL1()
    ) {
        self.rollup = rollup
        self.height = height
        self.sequencer = sequencer
        self.nativeAsset = nativeAsset
        self.l1Height = l1Height
        self.network = network
        self.l1 = l1
    }
}

/// A block's byte limits (docs/protocol.md, "The block rule").
public struct BlockBytes: Hashable, Sendable {
    /// The encoding of a block with no transactions: its header (220 bytes) and the transaction
    /// count (4).
    public static let base = 224
    /// The most bytes one transaction's encoding may take in any block.
    public static let maxTransaction = 8192

    /// The most bytes a block's encoding may take.
    public var block: Int
    /// The most bytes one transaction's encoding may take: `maxTransaction`, or less when a block
    /// could not hold one that large.
    public var perTransaction: Int { min(Self.maxTransaction, block - Self.base) }

    public init(block: Int) { self.block = max(block, Self.base) }
}

/// Why a transaction is invalid. Invalid transactions are never included in a block; a block that
/// includes one is itself invalid.
public enum InvalidTransaction: Error, Equatable, Sendable, CustomStringConvertible {
    /// Signed for another rollup.
    case wrongRollup(expected: RollupID, actual: RollupID)
    /// The nonce is not the sender's next nonce.
    case wrongNonce(expected: UInt64, actual: UInt64)
    /// The sender cannot pay the fee in the native asset.
    case cannotPayFee(fee: UInt64, balance: UInt64)
    /// The signature is not the sender's.
    case badSignature
    /// The transaction's encoding is over the per-transaction limit (docs/protocol.md, "The block rule").
    case tooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .wrongRollup(let expected, let actual):
            return "transaction is for rollup \(actual), this is rollup \(expected)"
        case .wrongNonce(let expected, let actual): return "nonce \(actual) is not the sender's next nonce \(expected)"
        case .cannotPayFee(let fee, let balance): return "fee \(fee) exceeds the sender's native balance \(balance)"
        case .badSignature: return "signature does not verify against the sender's key"
        case .tooLarge(let size, let limit):
            return "the transaction takes \(size) bytes; a block's transaction may take at most \(limit)"
        }
    }
}

/// The outcome of an included transaction.
public enum ReceiptStatus: UInt8, Hashable, Sendable, CaseIterable {
    case success = 0
    /// The sender's balance could not cover the amount (after the fee).
    case insufficientBalance = 1
    /// The recipient's balance would exceed 2^64 - 1.
    case balanceOverflow = 2
    /// `sendMessage` to a rollup that does not exist or to this one.
    case unknownDestination = 3
    /// `sendMessage` of an asset no rollup issues.
    case unknownAsset = 4
    /// `relayMessage` of a message for another rollup.
    case wrongDestination = 5
    /// `relayMessage` of a message already relayed here.
    case alreadyRelayed = 6
    /// `relayMessage` against an output that is unknown, pending or invalidated as of the block's L1 origin.
    case outputNotFinalized = 7
    /// `relayMessage` whose proof does not lead to the output's outbox root at the message's nonce.
    case badProof = 8
    /// The message's target refused it (unknown module, malformed payload): its value went back to
    /// the sender by a return message.
    case targetFailed = 9
    /// `escrowClaim`/`escrowRefund` of no such lock.
    case escrowNotFound = 10
    /// `escrowClaim` with a preimage that does not hash to the lock.
    case wrongPreimage = 11
    /// `escrowClaim` at or after the lock's timeout.
    case escrowExpired = 12
    /// `escrowRefund` before the lock's timeout.
    case escrowNotExpired = 13
}

/// What an included transaction did. Canonical encoding: `tx id ‖ status (u8) ‖ fee paid (u64) ‖
/// message (32) ‖ return message (32)`: the message a `sendMessage` emitted or a `relayMessage`
/// relayed, and the message that sent value back (a bounce or an escrow refund); zero when none.
public struct Receipt: Hashable, Sendable, CanonicalCodable {
    public var transaction: Hash
    public var status: ReceiptStatus
    public var feePaid: UInt64
    public var message: Hash
    public var returnMessage: Hash

    public init(
        transaction: Hash, status: ReceiptStatus, feePaid: UInt64, message: Hash = .zero, returnMessage: Hash = .zero
    ) {
        self.transaction = transaction
        self.status = status
        self.feePaid = feePaid
        self.message = message
        self.returnMessage = returnMessage
    }

    public func encode(to encoder: inout CanonicalEncoder) {
        encoder.write(transaction)
        encoder.write(status.rawValue)
        encoder.write(feePaid)
        encoder.write(message)
        encoder.write(returnMessage)
    }

    public init(from decoder: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        transaction = try decoder.read(Hash.self)
        let raw = try decoder.read(UInt8.self)
        guard let status = ReceiptStatus(rawValue: raw) else { throw .invalidValue("receipt status \(raw)") }
        self.status = status
        feePaid = try decoder.read(UInt64.self)
        message = try decoder.read(Hash.self)
        returnMessage = try decoder.read(Hash.self)
    }
}

/// A block's execution: its receipts, its writes in key order, every key it touched, the
/// messages it appended to the outbox, and the outbox root after it.
public struct BlockOutcome: Sendable {
    public var receipts: [Receipt]
    public var writes: [(key: Hash, value: [UInt8]?)]
    public var touchedKeys: [Hash]
    public var messages: [Message]
    public var outboxRoot: Hash
}

/// The rollup's state machine: pure, deterministic, no I/O and no clock. Runs the same on the
/// stored tree and on a witness.
public enum Executor {
    /// Checks that `tx` may be included next: right rollup, the sender's next nonce, a payable fee
    /// (and, with `checkSignature`, a valid signature). Changes nothing.
    public static func validate(
        _ tx: SignedTransaction, context: BlockContext, accounts: Accounts, checkSignature: Bool
    ) throws {
        let t = tx.transaction
        guard t.rollup == context.rollup else {
            throw InvalidTransaction.wrongRollup(expected: context.rollup, actual: t.rollup)
        }
        let sender = t.senderAddress
        let expected = try accounts.nonce(of: sender)
        guard t.nonce == expected else { throw InvalidTransaction.wrongNonce(expected: expected, actual: t.nonce) }
        let native = try accounts.balance(of: sender, context.nativeAsset)
        guard native >= t.fee else { throw InvalidTransaction.cannotPayFee(fee: t.fee, balance: native) }
        if checkSignature, !tx.hasValidSignature { throw InvalidTransaction.badSignature }
    }

    /// Applies a valid transaction: the fee goes to the sequencer and the nonce advances whatever
    /// the call does; a call that fails leaves every other balance as it was.
    public static func apply(_ tx: SignedTransaction, context: BlockContext, accounts: Accounts) throws -> Receipt {
        let t = tx.transaction
        let sender = t.senderAddress
        try move(t.fee, of: context.nativeAsset, from: sender, to: context.sequencer, accounts: accounts)
        accounts.setNonce(try accounts.nonce(of: sender) + 1, of: sender)
        switch t.call {
        case .transfer(let to, let asset, let amount):
            let status: ReceiptStatus
            let balance = try accounts.balance(of: sender, asset)
            if balance < amount {
                status = .insufficientBalance
            } else if sender != to, try accounts.balance(of: to, asset).addingReportingOverflow(amount).overflow {
                status = .balanceOverflow
            } else {
                try move(amount, of: asset, from: sender, to: to, accounts: accounts)
                status = .success
            }
            return Receipt(transaction: tx.id, status: status, feePaid: t.fee)
        case .sendMessage(let destination, let target, let recipient, let value, let payload):
            var receipt = try Messaging.send(
                from: sender, destination: destination, target: target, recipient: recipient, value: value,
                payload: payload, context: context, accounts: accounts)
            receipt.transaction = tx.id
            receipt.feePaid = t.fee
            return receipt
        case .relayMessage(let message, let proof, let outputIndex):
            var receipt = try Messaging.relay(
                message, proof: proof, outputIndex: outputIndex, context: context, accounts: accounts)
            receipt.transaction = tx.id
            receipt.feePaid = t.fee
            return receipt
        case .escrowClaim(let id, let preimage):
            var receipt = try Messaging.claim(id, preimage: preimage, context: context, accounts: accounts)
            receipt.transaction = tx.id
            receipt.feePaid = t.fee
            return receipt
        case .escrowRefund(let id):
            var receipt = try Messaging.refund(id, context: context, accounts: accounts)
            receipt.transaction = tx.id
            receipt.feePaid = t.fee
            return receipt
        }
    }

    /// Moves `amount` (which the sender holds) from one account to another.
    static func move(_ amount: UInt64, of asset: AssetName, from: Address, to: Address, accounts: Accounts) throws {
        guard amount > 0, from != to else { return }
        let fromBalance = try accounts.balance(of: from, asset)
        precondition(fromBalance >= amount, "move of more than the sender holds")
        accounts.setBalance(fromBalance - amount, of: from, asset)
        let toBalance = try accounts.balance(of: to, asset)
        let (sum, overflow) = toBalance.addingReportingOverflow(amount)
        // Only fees reach here unchecked; a fee cannot overflow the sequencer when the supply fits in u64.
        precondition(!overflow, "balance overflow")
        accounts.setBalance(sum, of: to, asset)
    }

    /// The sequencer's and derivation's rule: executes `candidates` in order on `state`, leaving out
    /// each one that is invalid when its turn comes (with `checkSignatures`, a bad signature too).
    /// Returns the included transactions, their receipts and the ones left out with the reason.
    ///
    /// With `bytes`, the block stops at its byte limit: a transaction over the per-transaction limit
    /// is invalid (`tooLarge`), and once the next valid one would push the block's encoding past
    /// the limit, it and every later candidate are `deferred` — left out, but not invalid (a
    /// sequencer keeps them for its next block).
    public static func include(
        _ candidates: [SignedTransaction], context: BlockContext, state: StateOverlay, checkSignatures: Bool,
        bytes: BlockBytes? = nil
    ) throws -> (
        included: [SignedTransaction], receipts: [Receipt],
        dropped: [(transaction: SignedTransaction, reason: InvalidTransaction)], deferred: [SignedTransaction]
    ) {
        let accounts = Accounts(state)
        var included: [SignedTransaction] = []
        var receipts: [Receipt] = []
        var dropped: [(transaction: SignedTransaction, reason: InvalidTransaction)] = []
        var deferred: [SignedTransaction] = []
        included.reserveCapacity(candidates.count)
        receipts.reserveCapacity(candidates.count)
        var used = BlockBytes.base
        for (i, tx) in candidates.enumerated() {
            let size = bytes == nil ? 0 : tx.canonicalBytes.count
            do {
                if let bytes, size > bytes.perTransaction {
                    throw InvalidTransaction.tooLarge(size: size, limit: bytes.perTransaction)
                }
                try validate(tx, context: context, accounts: accounts, checkSignature: checkSignatures)
            } catch let reason as InvalidTransaction {
                dropped.append((tx, reason))
                continue
            }
            if let bytes, used + size > bytes.block {
                deferred = Array(candidates[i...])
                break
            }
            used += size
            receipts.append(try apply(tx, context: context, accounts: accounts))
            included.append(tx)
        }
        // Every block reads the outbox, so its root is always covered by a block's witness.
        _ = try Messaging.frontier(state)
        return (included, receipts, dropped, deferred)
    }

    /// Executes a block's transactions in order on `base`. Every transaction must be valid in turn
    /// (otherwise the block is invalid and this throws `InvalidTransaction`); valid ones that fail
    /// are included with a failure receipt.
    public static func execute(
        _ transactions: [SignedTransaction], context: BlockContext, base: any StateReader, checkSignatures: Bool
    ) throws -> BlockOutcome {
        let state = StateOverlay(base: base)
        let accounts = Accounts(state)
        var receipts: [Receipt] = []
        receipts.reserveCapacity(transactions.count)
        for tx in transactions {
            try validate(tx, context: context, accounts: accounts, checkSignature: checkSignatures)
            receipts.append(try apply(tx, context: context, accounts: accounts))
        }
        let outboxRoot = try Messaging.frontier(state).root
        return BlockOutcome(
            receipts: receipts, writes: state.writes, touchedKeys: state.touchedKeys, messages: state.emitted,
            outboxRoot: outboxRoot)
    }
}
