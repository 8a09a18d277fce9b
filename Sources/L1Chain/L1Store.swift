import Config
import Foundation
import Logging
import Primitives
import Settlement
import StateMachine
import Storage

/// A transaction submitted to the L1 (DESIGN §5).
public enum L1Transaction: Sendable {
    case postBlob(BlobPost)
    case proposeOutput(OutputProposal)
    case challenge(Challenge)
}


/// Why the L1 refused a transaction. Nothing was changed.
public struct L1Rejection: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var message: String

    public init(_ code: Int, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// What an accepted transaction did.
public enum L1Outcome: Equatable, Sendable {
    case blob(commitment: Hash, l1Height: UInt64, duplicate: Bool)
    case output(index: UInt64, l1Height: UInt64, windowEnd: UInt64)
    case challenge(id: Hash, l1Height: UInt64, reason: String, invalidated: UInt64, payout: UInt64)
    /// The challenge was adjudicated and rejected: listed in the block, its bond burned. The RPC answers
    /// it as error -32028 ("challenge rejected: …").
    case challengeLost(id: Hash, l1Height: UInt64, reason: String, forfeited: UInt64)

    /// The rejection a submitter of a lost challenge is told: the reason and the forfeited bond.
    public var lostChallengeRejection: L1Rejection? {
        guard case .challengeLost(let id, let l1Height, let reason, let forfeited) = self else { return nil }
        return L1Rejection(
            L1ErrorCode.challengeRejected,
            "challenge rejected: \(reason); its bond of \(forfeited) was forfeited (challenge \(id), L1 block \(l1Height))")
    }
}

/// The L1 chain in its own LMDB environment: one write transaction per block holds the block's
/// header, its entries and every state change they make, so a crash never leaves half a block.
public final class L1Store: @unchecked Sendable {
    public let environment: Environment
    public let genesis: Genesis
    public let digest: Hash
    let adjudicators: [RollupID: Adjudicator]

    public init(datadir: String, genesis: Genesis, options: Environment.Options = Environment.Options()) throws {
        self.genesis = genesis
        environment = try Environment(path: datadir, options: options)
        digest = try Self.genesisDigest(genesis)
        var adjudicators: [RollupID: Adjudicator] = [:]
        let network = Network(genesis)
        for rollup in genesis.rollups { adjudicators[rollup.id] = try Adjudicator(rollup: rollup, network: network) }
        self.adjudicators = adjudicators
        let stored: Hash? = try environment.read { txn in
            try txn.get(L1Meta.self, L1Meta.genesis).flatMap { Hash(bytes: $0) }
        }
        if let stored {
            guard stored == digest else { throw ChainError.genesisMismatch(stored: stored, expected: digest) }
            let layout = try environment.read { txn in
                try txn.get(L1Meta.self, L1Meta.layout).flatMap { try? UInt64(canonicalBytes: $0) } ?? 1
            }
            guard layout == L1Meta.currentLayout else {
                throw ChainError.otherLayout(found: layout, expected: L1Meta.currentLayout)
            }
            return
        }
        guard !options.readOnly else { throw ChainError.corrupt("no L1 genesis block in a store opened read-only") }
        try environment.write { txn in
            let header = L1BlockHeader(height: 0, parent: .zero, timestamp: 0, entriesRoot: .zero)
            try txn.put(L1Headers.self, 0, header, append: true)
            try txn.put(L1Bodies.self, 0, L1Body([]), append: true)
            for (address, amount) in Self.genesisBalances(genesis) { try txn.put(Balances.self, address, amount) }
            for rollup in genesis.rollups { try txn.put(L1Rollups.self, rollup.id, RollupL1State()) }
            try txn.put(L1Meta.self, L1Meta.head, UInt64(0).canonicalBytes)
            try txn.put(L1Meta.self, L1Meta.genesis, digest.bytes)
            try txn.put(L1Meta.self, L1Meta.layout, L1Meta.currentLayout.canonicalBytes)
        }
    }

    /// Identifies the L1 a store belongs to: SHA-256 over the L1 parameters that matter to
    /// consensus and each rollup's id, role keys and genesis block hash.
    public static func genesisDigest(_ genesis: Genesis) throws -> Hash {
        var e = CanonicalEncoder()
        e.write("tributary/l1-genesis/v1")
        e.write(genesis.l1.fraudWindowBlocks)
        e.write(genesis.l1.bond)
        e.write(genesis.l1.proposerSilenceBlocks)
        e.write(genesis.l1.maxBlobBytes)
        e.write(genesis.l1.challengeBond)
        e.write(genesis.l1.maxChallengesPerBlock)
        for rollup in genesis.rollups {
            e.write(rollup.id)
            e.write(rollup.batcher.publicKey)
            e.write(rollup.proposer.publicKey)
            e.write(try rollup.genesisBlock().block.header.hash)
        }
        return Hash.sha256(e.bytes)
    }

    /// The L1's genesis bond money: every rollup's proposer and challenger keys hold 1,000 bonds.
    public static func genesisBalances(_ genesis: Genesis) -> [(Address, UInt64)] {
        let amount = genesis.l1.bond.multipliedReportingOverflow(by: 1000)
        let each = amount.overflow ? UInt64.max / 4 : amount.partialValue
        var out: [Address: UInt64] = [:]
        for rollup in genesis.rollups {
            out[rollup.proposer.publicKey.address] = each
            out[rollup.challenger.publicKey.address] = each
        }
        return out.keys.sorted().map { ($0, out[$0]!) }
    }

    // MARK: Reads

    public func head() throws -> L1BlockHeader { try environment.read { try Self.head(in: $0) } }

    static func head(in txn: ReadTransaction) throws -> L1BlockHeader {
        guard let raw = try txn.get(L1Meta.self, L1Meta.head) else { throw ChainError.corrupt("no L1 head pointer") }
        let height = try UInt64(canonicalBytes: raw)
        guard let header = try txn.get(L1Headers.self, height) else {
            throw ChainError.corrupt("L1 head \(height) has no header")
        }
        return header
    }

    public func block(at height: UInt64) throws -> (header: L1BlockHeader, body: L1Body)? {
        try environment.read { txn in
            guard let h = try txn.get(L1Headers.self, height), let b = try txn.get(L1Bodies.self, height) else {
                return nil
            }
            return (h, b)
        }
    }

    public func blob(rollup: RollupID, seq: UInt64) throws -> BlobRecord? {
        try environment.read { try $0.get(Blobs.self, RollupIndexKey(rollup, seq)) }
    }

    /// Blobs of `rollup` from `seq` on: at most `limit`, and stopping once `maxBytes` of frames are
    /// collected (always at least one).
    public func blobs(rollup: RollupID, from seq: UInt64, limit: Int, maxBytes: Int) throws -> [BlobRecord] {
        try environment.read { txn in
            var out: [BlobRecord] = []
            var bytes = 0
            try txn.forEach(Blobs.self, from: RollupIndexKey(rollup, seq)) { key, record in
                guard key.rollup == rollup, out.count < limit, out.isEmpty || bytes + record.frame.count <= maxBytes
                else { return false }
                bytes += record.frame.count
                out.append(record)
                return true
            }
            return out
        }
    }

    public func outputs(rollup: RollupID, from index: UInt64, limit: Int) throws -> [OutputRecord] {
        try environment.read { txn in
            var out: [OutputRecord] = []
            try txn.forEach(Outputs.self, from: RollupIndexKey(rollup, index)) { key, record in
                guard key.rollup == rollup, out.count < limit else { return false }
                out.append(record)
                return true
            }
            return out
        }
    }

    public func rollupState(_ rollup: RollupID) throws -> RollupL1State? {
        try environment.read { try $0.get(L1Rollups.self, rollup) }
    }

    /// The newest standing output of `rollup` and the newest finalized one as of the head, read
    /// backwards from the newest output (only pending ones lie between them).
    public func standing(_ rollup: RollupID) throws -> (
        state: RollupL1State, latest: OutputRecord?, finalized: OutputRecord?
    ) {
        try environment.read { txn in
            let head = try Self.head(in: txn).height
            let state = try self.state(rollup, in: txn)
            return (
                state, try latestStanding(rollup, below: state.outputCount, in: txn),
                try latestStanding(rollup, below: state.outputCount, in: txn, finalizedAt: head)
            )
        }
    }

    public func balance(of address: Address) throws -> UInt64 {
        try environment.read { try $0.get(Balances.self, address) ?? 0 }
    }

    public func challenge(_ id: Hash) throws -> ChallengeRecord? {
        try environment.read { try $0.get(Challenges.self, id) }
    }

    // MARK: Stateless checks (before a transaction is queued)

    /// Checks what needs no state: the rollup exists, sizes, the frame header, signatures.
    public func precheck(_ tx: L1Transaction) throws(L1Rejection) {
        switch tx {
        case .postBlob(let post):
            guard let rollup = genesis.rollup(id: post.header.rollup) else {
                throw L1Rejection(L1ErrorCode.unknownRollup, "no rollup with id \(post.header.rollup) in the genesis")
            }
            guard post.frame.count <= genesis.l1.maxBlobBytes else {
                throw L1Rejection(
                    L1ErrorCode.tooLarge,
                    "the blob is \(post.frame.count) bytes; the L1 accepts at most \(genesis.l1.maxBlobBytes)")
            }
            guard post.isSigned(by: rollup.batcher.publicKey) else {
                throw L1Rejection(
                    L1ErrorCode.unauthorized,
                    "the blob is not signed by \(rollup.name)'s batcher key \(rollup.batcher.publicKey)")
            }
            do { try BatchCodec.check(post.frame, header: post.header) } catch {
                throw L1Rejection(L1ErrorCode.badBlob, error.description)
            }
        case .proposeOutput(let proposal):
            guard genesis.rollup(id: proposal.output.rollup) != nil else {
                throw L1Rejection(
                    L1ErrorCode.unknownRollup, "no rollup with id \(proposal.output.rollup) in the genesis")
            }
            guard proposal.hasValidSignature else {
                throw L1Rejection(L1ErrorCode.unauthorized, "the output's signature does not verify")
            }
        case .challenge(let challenge):
            guard genesis.rollup(id: challenge.rollup) != nil else {
                throw L1Rejection(L1ErrorCode.unknownRollup, "no rollup with id \(challenge.rollup) in the genesis")
            }
            guard challenge.hasValidSignature else {
                throw L1Rejection(L1ErrorCode.unauthorized, "the challenge's signature does not verify")
            }
        }
    }

    /// A re-post of an already accepted blob: answered at once with the original placement; a
    /// different frame under a taken sequence number is refused. Nil: not posted yet.
    public func existingBlob(_ post: BlobPost) throws -> L1Outcome? {
        guard let existing = try blob(rollup: post.header.rollup, seq: post.header.seq) else { return nil }
        return try Self.duplicate(post, existing)
    }

    static func duplicate(_ post: BlobPost, _ existing: BlobRecord) throws -> L1Outcome {
        guard existing.commitment == post.commitment, existing.header == post.header else {
            throw L1Rejection(
                L1ErrorCode.seqConflict,
                "batch \(post.header.seq) of rollup \(post.header.rollup) was already posted with other bytes (commitment \(existing.commitment)); a sequence number is never reused"
            )
        }
        return .blob(commitment: existing.commitment, l1Height: existing.l1Height, duplicate: true)
    }

    // MARK: Block production

    /// Seals the next block with `transactions` applied in order. Each one is accepted (and listed
    /// in the block) or refused without changing anything.
    public func produceBlock(_ transactions: [L1Transaction], timestamp: UInt64) throws -> (
        header: L1BlockHeader, results: [Result<L1Outcome, L1Rejection>]
    ) {
        try environment.write { txn in
            let parent = try Self.head(in: txn)
            guard parent.height < UInt64.max else { throw ChainError.corrupt("the L1 head is at height 2^64 − 1") }
            let height = parent.height + 1
            try finalize(through: height, in: txn)
            var entries: [L1Entry] = []
            var results: [Result<L1Outcome, L1Rejection>] = []
            for tx in transactions {
                do {
                    results.append(.success(try apply(tx, height: height, entries: &entries, in: txn)))
                } catch let rejection as L1Rejection {
                    results.append(.failure(rejection))
                }
            }
            let header = L1BlockHeader(
                height: height, parent: parent.hash, timestamp: max(timestamp, parent.timestamp),
                entriesRoot: MerkleList.root(entries.map(\.id)))
            try txn.put(L1Headers.self, height, header, append: true)
            try txn.put(L1Bodies.self, height, L1Body(entries), append: true)
            try txn.put(L1Meta.self, L1Meta.head, height.canonicalBytes)
            return (header, results)
        }
    }

    /// Returns the bonds of outputs whose window closes at `height` (they are now final).
    func finalize(through height: UInt64, in txn: WriteTransaction) throws {
        var closed: [WindowKey] = []
        try txn.forEach(OutputWindows.self) { key, _ in
            guard key.windowEnd <= height else { return false }
            closed.append(key)
            return true
        }
        for key in closed {
            _ = try txn.delete(OutputWindows.self, key)
            guard let record = try txn.get(Outputs.self, RollupIndexKey(key.rollup, key.index)) else { continue }
            try credit(record.bond, to: record.proposer.address, in: txn)
        }
    }

    /// Adds `amount` to `address`'s balance, saturating at 2^64 − 1 rather than wrapping: a credit
    /// happens inside block production (a closing window returns a bond), where refusing would stop the
    /// L1. Unreachable with the genesis balances (each capped at 2^62), but never a silent wrap.
    func credit(_ amount: UInt64, to address: Address, in txn: WriteTransaction) throws {
        guard amount > 0 else { return }
        let balance = try txn.get(Balances.self, address) ?? 0
        try txn.put(Balances.self, address, Self.saturatingSum(balance, amount))
    }

    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? UInt64.max : sum
    }

    /// `a + b`, or an `L1Rejection` saying which count would overflow: the L1 handles untrusted input
    /// with checked arithmetic only, so no transaction can trap the process.
    static func checkedSum(_ a: UInt64, _ b: UInt64, _ what: @autoclosure () -> String) throws(L1Rejection)
        -> UInt64
    {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else {
            throw L1Rejection(L1ErrorCode.outOfOrder, "\(what()) would exceed 2^64 − 1; the L1 refuses the transaction")
        }
        return sum
    }

    func state(_ rollup: RollupID, in txn: ReadTransaction) throws -> RollupL1State {
        guard let s = try txn.get(L1Rollups.self, rollup) else {
            throw L1Rejection(L1ErrorCode.unknownRollup, "no rollup with id \(rollup) in the genesis")
        }
        return s
    }

    func apply(_ tx: L1Transaction, height: UInt64, entries: inout [L1Entry], in txn: WriteTransaction) throws
        -> L1Outcome
    {
        try precheck(tx)
        switch tx {
        case .postBlob(let post): return try postBlob(post, height: height, entries: &entries, in: txn)
        case .proposeOutput(let p): return try proposeOutput(p, height: height, entries: &entries, in: txn)
        case .challenge(let c): return try challenge(c, height: height, entries: &entries, in: txn)
        }
    }

    func postBlob(_ post: BlobPost, height: UInt64, entries: inout [L1Entry], in txn: WriteTransaction) throws
        -> L1Outcome
    {
        let h = post.header
        var state = try state(h.rollup, in: txn)
        if let existing = try txn.get(Blobs.self, RollupIndexKey(h.rollup, h.seq)) {
            return try Self.duplicate(post, existing)
        }
        guard h.seq == state.nextSeq else {
            throw L1Rejection(
                L1ErrorCode.outOfOrder,
                "batch \(h.seq) is out of order: the next batch of this rollup is \(state.nextSeq)")
        }
        // A store that accepted a header claiming blocks up to 2^64 − 1 (before the block-count bound)
        // holds that DA height: refuse, with the reason, instead of overflowing on `daHeight + 1`.
        guard state.daHeight < UInt64.max else {
            throw L1Rejection(
                L1ErrorCode.outOfOrder,
                "rollup \(h.rollup)'s DA height is 2^64 − 1 (a blob accepted before the L1 bounded block counts claimed it): no block can follow; the rollup's DA chain needs a new L1 genesis"
            )
        }
        let nextHeight = state.daHeight + 1
        guard h.firstHeight == nextHeight else {
            throw L1Rejection(
                L1ErrorCode.outOfOrder,
                "batch \(h.seq) starts at block \(h.firstHeight); the next block not yet in DA is \(nextHeight)"
            )
        }
        let nextSeq = try Self.checkedSum(state.nextSeq, 1, "rollup \(h.rollup)'s batch sequence number")
        let commitment = post.commitment
        try txn.put(
            Blobs.self, RollupIndexKey(h.rollup, h.seq),
            BlobRecord(
                header: h, commitment: commitment, signature: post.signature, l1Height: height, frame: post.frame))
        try txn.put(BlobHeights.self, RollupIndexKey(h.rollup, h.lastHeight), h.seq)
        state.nextSeq = nextSeq
        state.daHeight = h.lastHeight
        try txn.put(L1Rollups.self, h.rollup, state)
        entries.append(
            .blob(header: h, commitment: commitment, size: UInt64(post.frame.count), signature: post.signature))
        return .blob(commitment: commitment, l1Height: height, duplicate: false)
    }

    /// The newest output of `rollup` that has not been invalidated, below index `below`.
    func latestStanding(_ rollup: RollupID, below: UInt64, in txn: ReadTransaction, finalizedAt: UInt64? = nil)
        throws -> OutputRecord?
    {
        guard below > 0 else { return nil }
        var found: OutputRecord?
        try txn.forEach(Outputs.self, from: RollupIndexKey(rollup, below - 1), reverse: true) { key, record in
            guard key.rollup == rollup else { return false }
            if record.isInvalidated { return true }
            if let at = finalizedAt, record.status(atL1Height: at) != .finalized { return true }
            found = record
            return false
        }
        return found
    }

    /// A standing output of `rollup` below index `below`, finalized at L1 height `at`, that names
    /// `blockHash`.
    func finalizedStanding(
        _ rollup: RollupID, below: UInt64, blockHash: Hash, at: UInt64, in txn: ReadTransaction
    ) throws -> OutputRecord? {
        guard below > 0 else { return nil }
        var found: OutputRecord?
        try txn.forEach(Outputs.self, from: RollupIndexKey(rollup, below - 1), reverse: true) { key, record in
            guard key.rollup == rollup else { return false }
            if !record.isInvalidated, record.status(atL1Height: at) == .finalized, record.output.blockHash == blockHash {
                found = record
                return false
            }
            return true
        }
        return found
    }

    func proposeOutput(_ p: OutputProposal, height: UInt64, entries: inout [L1Entry], in txn: WriteTransaction) throws
        -> L1Outcome
    {
        let output = p.output
        let rollup = genesis.rollup(id: output.rollup)!
        var state = try state(output.rollup, in: txn)
        let registered = p.proposer == rollup.proposer.publicKey
        let silence = genesis.l1.proposerSilenceBlocks
        let openAt = Self.saturatingSum(state.lastProposerL1Height, silence)
        if !registered, state.brokenAt == 0, height < openAt {
            throw L1Rejection(
                L1ErrorCode.unauthorized,
                "only \(rollup.name)'s proposer \(rollup.proposer.publicKey) may propose now; anyone with a bond may from L1 height \(openAt) (after \(silence) blocks of proposer silence) or once the DA chain is proven broken"
            )
        }
        let bond = genesis.l1.bond
        let balance = try txn.get(Balances.self, p.proposer.address) ?? 0
        guard balance >= bond else {
            throw L1Rejection(
                L1ErrorCode.insufficientBond,
                "the proposer \(p.proposer.address) holds \(balance) on the L1; an output needs a bond of \(bond)")
        }
        let previous = try latestStanding(output.rollup, below: state.outputCount, in: txn)
        let parent = previous?.output.root ?? .zero
        guard p.parent == parent else {
            throw L1Rejection(
                L1ErrorCode.staleParent,
                previous.map {
                    "the proposal builds on output root \(p.parent), but the newest standing output of \(rollup.name) is \($0.index) (height \($0.output.l2Height), root \(parent)): check it and build on it"
                } ?? "the proposal builds on output root \(p.parent), but \(rollup.name) has no standing output: the parent is zero"
            )
        }
        let floor = previous?.output.l2Height ?? 0
        guard output.l2Height > floor else {
            throw L1Rejection(
                L1ErrorCode.outputRejected,
                "an output must be above the newest standing output's height \(floor), got \(output.l2Height)")
        }
        guard output.l2Height <= state.daHeight else {
            throw L1Rejection(
                L1ErrorCode.outputRejected,
                "block \(output.l2Height) is not in DA yet: posted batches of \(rollup.name) reach block \(state.daHeight)"
            )
        }
        let index = state.outputCount
        let windowEnd = try Self.checkedSum(height, genesis.l1.fraudWindowBlocks, "the output's window end")
        let outputCount = try Self.checkedSum(state.outputCount, 1, "rollup \(output.rollup)'s output count")
        try txn.put(Balances.self, p.proposer.address, balance - bond)
        try txn.put(
            Outputs.self, RollupIndexKey(output.rollup, index),
            OutputRecord(
                index: index, output: output, parent: p.parent, proposer: p.proposer, signature: p.signature,
                bond: bond, l1Height: height, windowEnd: windowEnd))
        try txn.put(OutputWindows.self, WindowKey(windowEnd: windowEnd, rollup: output.rollup, index: index), [])
        state.outputCount = outputCount
        if registered { state.lastProposerL1Height = height }
        try txn.put(L1Rollups.self, output.rollup, state)
        entries.append(.output(index: index, proposal: p))
        return .output(index: index, l1Height: height, windowEnd: windowEnd)
    }

    func challenge(_ c: Challenge, height: UInt64, entries: inout [L1Entry], in txn: WriteTransaction) throws
        -> L1Outcome
    {
        var state = try state(c.rollup, in: txn)
        guard let target = try txn.get(Outputs.self, RollupIndexKey(c.rollup, c.outputIndex)) else {
            throw L1Rejection(L1ErrorCode.notFound, "rollup \(c.rollup) has no output \(c.outputIndex)")
        }
        guard !target.isInvalidated else {
            throw L1Rejection(
                L1ErrorCode.alreadyInvalidated,
                "output \(c.outputIndex) was already invalidated at L1 height \(target.invalidatedAt)")
        }
        guard height < target.windowEnd else {
            throw L1Rejection(
                L1ErrorCode.windowClosed,
                "the fraud-proof window of output \(c.outputIndex) closed at L1 height \(target.windowEnd); it is final"
            )
        }
        guard c.outputIndex < state.outputCount else {
            throw ChainError.corrupt("output \(c.outputIndex) of rollup \(c.rollup) is beyond its output count")
        }
        let cap = genesis.l1.maxChallengesPerBlock
        guard UInt64(entries.lazy.filter(\.isAdjudicatedChallenge).count) < cap else {
            throw L1Rejection(
                L1ErrorCode.challengeCapReached,
                "the L1 adjudicates at most \(cap) challenges per block; resubmit (the challenge changed nothing)")
        }
        let bond = genesis.l1.challengeBond
        let balance = try txn.get(Balances.self, c.challenger.address) ?? 0
        guard balance >= bond else {
            throw L1Rejection(
                L1ErrorCode.insufficientBond,
                "the challenger \(c.challenger.address) holds \(balance) on the L1; a challenge needs a bond of \(bond) (returned when it wins, burned when it is rejected)"
            )
        }
        var anchor: Anchor
        let adjudicator = adjudicators[c.rollup]!
        if let a = try latestStanding(c.rollup, below: c.outputIndex, in: txn, finalizedAt: height) {
            anchor = Anchor(height: a.output.l2Height, blockHash: a.output.blockHash, stateRoot: a.output.stateRoot)
        } else {
            let g = adjudicator.genesis.header
            anchor = Anchor(height: 0, blockHash: g.hash, stateRoot: g.stateRoot)
        }
        // A span proof may start at any finalized standing output before the challenged one (or
        // genesis), named by its header: finalized outputs never change, so a challenger whose view
        // of the newest one is a block old still proves from a trusted point.
        if case .span(let from, _) = c.proof, from.hash != anchor.blockHash {
            if from.height == 0, from == adjudicator.genesis.header {
                anchor = Anchor(height: 0, blockHash: from.hash, stateRoot: from.stateRoot)
            } else if let a = try finalizedStanding(
                c.rollup, below: c.outputIndex, blockHash: from.hash, at: height, in: txn)
            {
                anchor = Anchor(height: a.output.l2Height, blockHash: a.output.blockHash, stateRoot: a.output.stateRoot)
            }
        }
        let verdict = try adjudicator.judge(
            c.proof, output: target.output, anchor: anchor, brokenAt: state.brokenAt == 0 ? nil : state.brokenAt,
            da: L1DataAvailability(txn: txn, rollup: c.rollup), l1: L1StoreView(txn: txn),
            byRollupProposer: target.proposer == adjudicator.rollup.proposer.publicKey)
        let id = c.id
        guard verdict.isWon else {
            // The L1 did the work: the bond pays for it (burned), and the block lists the loss.
            try txn.put(Balances.self, c.challenger.address, balance - bond)
            entries.append(
                .lostChallenge(
                    id: id, rollup: c.rollup, outputIndex: c.outputIndex, kind: c.proof.kind,
                    challenger: c.challenger, bondForfeited: bond))
            return .challengeLost(id: id, l1Height: height, reason: verdict.reason, forfeited: bond)
        }
        var invalidated: UInt64 = 0
        for index in c.outputIndex..<state.outputCount {
            let key = RollupIndexKey(c.rollup, index)
            guard var record = try txn.get(Outputs.self, key), !record.isInvalidated else { continue }
            record.invalidatedAt = height
            record.invalidatedBy = id
            try txn.put(Outputs.self, key, record)
            _ = try txn.delete(
                OutputWindows.self, WindowKey(windowEnd: record.windowEnd, rollup: c.rollup, index: index))
            invalidated += 1
        }
        state.invalidatedCount = Self.saturatingSum(state.invalidatedCount, invalidated)
        // The challenged output's bond pays the challenger; later outputs' bonds are burned.
        try credit(target.bond, to: c.challenger.address, in: txn)
        if case .block(let b, _) = c.proof { state.brokenAt = state.brokenAt == 0 ? b : min(state.brokenAt, b) }
        try txn.put(L1Rollups.self, c.rollup, state)
        try txn.put(
            Challenges.self, id,
            ChallengeRecord(
                rollup: c.rollup, outputIndex: c.outputIndex, kind: c.proof.kind, challenger: c.challenger,
                l1Height: height, reason: verdict.reason, invalidated: invalidated, payout: target.bond))
        entries.append(
            .challenge(
                id: id, rollup: c.rollup, outputIndex: c.outputIndex, kind: c.proof.kind, challenger: c.challenger,
                invalidated: invalidated))
        return .challenge(
            id: id, l1Height: height, reason: verdict.reason, invalidated: invalidated, payout: target.bond)
    }

    /// The DA view of `rollup` as of the L1 head, for followers in the same process and tools.
    public func dataAvailability(rollup: RollupID, _ body: (any DataAvailability) throws -> Void) throws {
        try environment.read { txn in try body(L1DataAvailability(txn: txn, rollup: rollup)) }
    }
}

/// The L1's outputs as a rollup's state machine sees them (for re-executing relays in disputes).
struct L1StoreView: L1View, @unchecked Sendable {
    let txn: ReadTransaction

    func output(rollup: RollupID, index: UInt64) -> L1OutputFact? {
        guard let r = try? txn.get(Outputs.self, RollupIndexKey(rollup, index)) else { return nil }
        return L1OutputFact(
            outboxRoot: r.output.outboxRoot, l2Height: r.output.l2Height, windowEnd: r.windowEnd,
            invalidated: r.isInvalidated)
    }
}

/// DA reads inside one L1 transaction: finds the blob holding a height and decodes it.
final class L1DataAvailability: DataAvailability {
    let txn: ReadTransaction
    let rollup: RollupID
    var decoded: [UInt64: Result<[Block], BatchError>] = [:]

    init(txn: ReadTransaction, rollup: RollupID) {
        self.txn = txn
        self.rollup = rollup
    }

    /// The sequence number of the blob whose range holds `height` (the first ending at or above it).
    func seq(covering height: UInt64) throws -> UInt64? {
        var seq: UInt64?
        try txn.forEach(BlobHeights.self, from: RollupIndexKey(rollup, height)) { key, value in
            if key.rollup == rollup { seq = value }
            return false
        }
        return seq
    }

    func l1Height(ofBlock height: UInt64) throws -> UInt64? {
        guard let seq = try seq(covering: height) else { return nil }
        return try txn.get(Blobs.self, RollupIndexKey(rollup, seq))?.l1Height
    }

    func block(at height: UInt64) throws -> DABlock {
        guard let seq = try seq(covering: height), let record = try txn.get(Blobs.self, RollupIndexKey(rollup, seq))
        else { return .missing }
        let result =
            decoded[seq]
            ?? Result { () throws(BatchError) in try BatchCodec.decode(record.frame, header: record.header) }
        decoded[seq] = result
        switch result {
        case .failure(let error): return .undecodable(seq: seq, error)
        case .success(let blocks):
            guard height >= record.header.firstHeight else { return .missing }
            return .found(blocks[Int(height - record.header.firstHeight)])
        }
    }
}
