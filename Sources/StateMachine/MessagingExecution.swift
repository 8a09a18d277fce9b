import Primitives

/// Cross-rollup messages and the built-in modules, inside the state machine (DESIGN §7): sending
/// (value escrowed when native, burned when wrapped), relaying (checked against the L1's finalized
/// outputs as of the block's L1 origin), the `bank`, `mailbox` and `escrow` targets, and returning
/// value when a target fails or a lock expires. Nothing is ever credited twice: a relayed id is
/// recorded in the state before anything else can see it again.
public enum Messaging {
    /// The outbox accumulator.
    public static func frontier(_ state: StateOverlay) throws -> OutboxFrontier {
        guard let raw = try state.get(StateKey.outbox) else { return OutboxFrontier() }
        return try OutboxFrontier(canonicalBytes: raw)
    }

    /// Appends `message` (whose nonce must be the outbox's count) to the outbox.
    static func append(_ message: Message, _ state: StateOverlay) throws {
        var f = try frontier(state)
        precondition(message.nonce == f.count, "a message's nonce is its outbox index")
        f.append(message.id)
        state.set(StateKey.outbox, f.canonicalBytes)
        state.emitted.append(message)
    }

    /// The local name of each asset of `value`, or nil when one is issued by no rollup. Entries that
    /// name the same local balance are summed into one (nil if the sum overflows), so every check
    /// and every move sees the whole amount of each balance once.
    static func locals(_ value: [AssetAmount], _ context: BlockContext) -> [(AssetAmount, AssetName, home: Bool)]? {
        var out: [(AssetAmount, AssetName, home: Bool)] = []
        for v in value {
            guard let local = context.network.localName(of: v.asset, on: context.rollup) else { return nil }
            if let i = out.firstIndex(where: { $0.1 == local }) {
                let (sum, overflow) = out[i].0.amount.addingReportingOverflow(v.amount)
                guard !overflow else { return nil }
                out[i].0.amount = sum
                continue
            }
            out.append((v, local, context.network.home(of: v.asset)?.id == context.rollup))
        }
        return out
    }

    /// Takes `value` out of `from`: into the bridge when native here, burned when wrapped.
    /// The caller has checked that `from` holds it.
    static func export(_ locals: [(AssetAmount, AssetName, home: Bool)], from: Address, accounts: Accounts) throws {
        for (v, local, home) in locals {
            if home {
                try Executor.move(v.amount, of: local, from: from, to: ModuleAccount.bridge, accounts: accounts)
            } else {
                accounts.setBalance(try accounts.balance(of: from, local) - v.amount, of: from, local)
            }
        }
    }

    /// Whether `value` can be brought into this rollup and credited to `to`: native value must be
    /// in the bridge, and no balance may overflow.
    static func canImport(_ locals: [(AssetAmount, AssetName, home: Bool)], to: Address, accounts: Accounts) throws
        -> Bool
    {
        for (v, local, home) in locals {
            if home, try accounts.balance(of: ModuleAccount.bridge, local) < v.amount { return false }
            if try accounts.balance(of: to, local).addingReportingOverflow(v.amount).overflow { return false }
        }
        return true
    }

    /// Brings `value` in to `to`: released from the bridge when native here, minted when wrapped.
    static func `import`(_ locals: [(AssetAmount, AssetName, home: Bool)], to: Address, accounts: Accounts) throws {
        for (v, local, home) in locals {
            if home {
                try Executor.move(v.amount, of: local, from: ModuleAccount.bridge, to: to, accounts: accounts)
            } else {
                accounts.setBalance(try accounts.balance(of: to, local) + v.amount, of: to, local)
            }
        }
    }

    // MARK: Calls

    static func send(
        from sender: Address, destination: RollupID, target: String, recipient: Address, value: [AssetAmount],
        payload: [UInt8], context: BlockContext, accounts: Accounts
    ) throws -> Receipt {
        guard destination != context.rollup, context.network.member(destination) != nil else {
            return Receipt(transaction: .zero, status: .unknownDestination, feePaid: 0)
        }
        guard let locals = locals(value, context) else {
            return Receipt(transaction: .zero, status: .unknownAsset, feePaid: 0)
        }
        for (v, local, _) in locals where try accounts.balance(of: sender, local) < v.amount {
            return Receipt(transaction: .zero, status: .insufficientBalance, feePaid: 0)
        }
        try export(locals, from: sender, accounts: accounts)
        let message = Message(
            source: context.rollup, nonce: try frontier(accounts.state).count, sender: sender, destination: destination,
            target: target, recipient: recipient, value: value, payload: payload)
        try append(message, accounts.state)
        return Receipt(transaction: .zero, status: .success, feePaid: 0, message: message.id)
    }

    static func relay(
        _ message: Message, proof: OutboxProof, outputIndex: UInt64, context: BlockContext, accounts: Accounts
    ) throws -> Receipt {
        let id = message.id
        func receipt(_ status: ReceiptStatus, _ returned: Hash = .zero) -> Receipt {
            Receipt(transaction: .zero, status: status, feePaid: 0, message: id, returnMessage: returned)
        }
        guard message.destination == context.rollup else { return receipt(.wrongDestination) }
        let state = accounts.state
        guard try state.get(StateKey.consumed(id)) == nil else { return receipt(.alreadyRelayed) }
        guard let fact = context.l1.output(rollup: message.source, index: outputIndex),
            fact.isFinalized(asOf: context.l1Height)
        else { return receipt(.outputNotFinalized) }
        guard proof.index == message.nonce, proof.root(for: id) == fact.outboxRoot else { return receipt(.badProof) }
        var returned = Hash.zero
        let status: ReceiptStatus
        if try deliver(message, context: context, accounts: accounts) {
            status = .success
        } else {
            // The value was never credited here: send it back as it came.
            returned = try sendBack(
                message.value, to: message.source, recipient: message.sender, context: context, accounts: accounts)
            status = .targetFailed
        }
        state.set(StateKey.consumed(id), RelayRecord(status: status, bounce: returned).canonicalBytes)
        return receipt(status, returned)
    }

    /// Emits a `bank` message carrying `value` home to `recipient` on `destination`. The value is
    /// already out of every account here (it was never credited, or the caller exported it).
    static func sendBack(
        _ value: [AssetAmount], to destination: RollupID, recipient: Address, context: BlockContext,
        accounts: Accounts
    ) throws -> Hash {
        let message = Message(
            source: context.rollup, nonce: try frontier(accounts.state).count, sender: ModuleAccount.bridge,
            destination: destination, target: "bank", recipient: recipient, value: value, payload: [])
        try append(message, accounts.state)
        return message.id
    }

    /// Credits the value and calls the target; false (changing nothing) when the target refuses.
    static func deliver(_ message: Message, context: BlockContext, accounts: Accounts) throws -> Bool {
        guard let locals = locals(message.value, context) else { return false }
        switch message.target {
        case "bank":
            guard try canImport(locals, to: message.recipient, accounts: accounts) else { return false }
            try `import`(locals, to: message.recipient, accounts: accounts)
            return true
        case "mailbox":
            guard try canImport(locals, to: message.recipient, accounts: accounts) else { return false }
            try `import`(locals, to: message.recipient, accounts: accounts)
            accounts.state.set(
                StateKey.mailbox(recipient: message.recipient, source: message.source, sender: message.sender),
                message.payload)
            return true
        case "escrow":
            guard message.payload.count == 40, !message.value.isEmpty else { return false }
            let hashLock = Hash(bytes: message.payload.prefix(32))!
            let timeout = try UInt64(canonicalBytes: Array(message.payload.suffix(8)))
            guard timeout > context.l1Height else { return false }
            guard try canImport(locals, to: ModuleAccount.escrow, accounts: accounts) else { return false }
            try `import`(locals, to: ModuleAccount.escrow, accounts: accounts)
            let lock = EscrowLock(
                source: message.source, sender: message.sender, beneficiary: message.recipient, value: message.value,
                hashLock: hashLock, timeout: timeout)
            accounts.state.set(StateKey.escrow(message.id), lock.canonicalBytes)
            return true
        default:
            return false
        }
    }

    static func lock(_ id: Hash, _ accounts: Accounts) throws -> EscrowLock? {
        try accounts.state.get(StateKey.escrow(id)).map { try EscrowLock(canonicalBytes: $0) }
    }

    static func claim(_ id: Hash, preimage: [UInt8], context: BlockContext, accounts: Accounts) throws -> Receipt {
        func receipt(_ status: ReceiptStatus) -> Receipt {
            Receipt(transaction: .zero, status: status, feePaid: 0, message: id)
        }
        guard let lock = try lock(id, accounts), let locals = locals(lock.value, context) else {
            return receipt(.escrowNotFound)
        }
        guard context.l1Height < lock.timeout else { return receipt(.escrowExpired) }
        guard Hash.sha256(preimage) == lock.hashLock else { return receipt(.wrongPreimage) }
        for (v, local, _) in locals {
            guard try !accounts.balance(of: lock.beneficiary, local).addingReportingOverflow(v.amount).overflow else {
                return receipt(.balanceOverflow)
            }
        }
        accounts.state.set(StateKey.escrow(id), nil)
        for (v, local, _) in locals {
            try Executor.move(v.amount, of: local, from: ModuleAccount.escrow, to: lock.beneficiary, accounts: accounts)
        }
        return receipt(.success)
    }

    static func refund(_ id: Hash, context: BlockContext, accounts: Accounts) throws -> Receipt {
        guard let lock = try lock(id, accounts), let locals = locals(lock.value, context) else {
            return Receipt(transaction: .zero, status: .escrowNotFound, feePaid: 0, message: id)
        }
        guard context.l1Height >= lock.timeout else {
            return Receipt(transaction: .zero, status: .escrowNotExpired, feePaid: 0, message: id)
        }
        accounts.state.set(StateKey.escrow(id), nil)
        try export(locals, from: ModuleAccount.escrow, accounts: accounts)
        let returned = try sendBack(
            lock.value, to: lock.source, recipient: lock.sender, context: context, accounts: accounts)
        return Receipt(transaction: .zero, status: .success, feePaid: 0, message: id, returnMessage: returned)
    }
}
