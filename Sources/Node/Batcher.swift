import API
import Chain
import Compression
import Config
import Foundation
import Logging
import Metrics
import Primitives
import RPC
import ServiceLifecycle
import Settlement
import Storage
import Synchronization

/// Packs consecutive blocks into batches (one zstd frame each), signs them with the batcher key
/// and posts them to the L1. A batch is written to the `batches` table BEFORE it is posted, so a
/// retry — after an error or a restart — re-posts exactly the same bytes under its sequence
/// number; the L1 answers a re-post with the original placement.
public final class Batcher: Service, Sendable {
    public let store: ChainStore
    public let l1: L1Client
    let key: SigningKey
    let logger: Logger
    let posted = Counter(label: "tributary_batches_posted_total")
    let postedBytes = Counter(label: "tributary_batch_bytes_total")
    let failures = Counter(label: "tributary_batch_post_failures_total")
    let refusals = Counter(label: "tributary_batch_post_refused_total")
    /// Why the L1 refuses the pending batch for a reason retrying cannot fix (nil: it does not).
    let refusal = Mutex<String?>(nil)

    /// The L1's answers that no retry of the same bytes can change (docs/rpc.md): the blob is too
    /// large, not a frame the L1 accepts, signed by a key it does not know, or for no rollup.
    static let permanentRefusals: Set<Int> = [-32020, -32021, -32022, -32023]

    /// Why the L1 keeps refusing this node's batches, when it does (shown by `/health`).
    public var refusedBecause: String? { refusal.withLock { $0 } }

    public init(store: ChainStore, l1: L1Client, key: SigningKey, logger: Logger) {
        self.store = store
        self.l1 = l1
        self.key = key
        self.logger = logger
    }

    var parameters: BatchParameters { store.rollup.batch }

    /// Posts until shutdown (`ServiceLoop`: backoff while the L1 is unreachable). A post in flight is
    /// cancelled at shutdown: its batch is stored and re-posted next time. Throws only fatal storage
    /// errors: a batch that cannot be recorded must not be posted.
    public func run() async throws {
        let loop = ServiceLoop(
            name: "batch post", pace: .backoff(idle: .milliseconds(50), maxBackoff: .seconds(5)), logger: logger)
        try await loop.run(
            failed: { error in self.failed(error) }, succeeded: { self.refusal.withLock { $0 = nil } },
            { try await self.step() })
    }

    /// Counts a failed post; a refusal no retry can fix is remembered for `/health` and logged once.
    func failed(_ error: any Error) {
        failures.increment()
        guard let rpc = error as? RPCError, Self.permanentRefusals.contains(rpc.code) else { return }
        refusals.increment()
        let first = refusal.withLock { r -> Bool in
            defer { r = rpc.message }
            return r != rpc.message
        }
        if first {
            logger.error(
                "the L1 refuses this node's batch; retrying cannot help",
                metadata: ["reason": "\(rpc.message)", "rpc.code": "\(rpc.code)"])
        }
    }

    /// The newest batch record.
    func last() throws -> (seq: UInt64, batch: PostedBatch)? {
        try store.environment.read { txn in
            var found: (UInt64, PostedBatch)?
            try txn.forEach(Batches.self, reverse: true) { seq, batch in
                found = (seq, batch)
                return false
            }
            return found
        }
    }

    /// The highest block height in a batch the L1 has accepted.
    public func postedHeight() throws -> UInt64 {
        try store.environment.read { txn in
            var height: UInt64 = 0
            try txn.forEach(Batches.self, reverse: true) { _, batch in
                guard batch.l1Height != 0 else { return true }
                height = batch.header.lastHeight
                return false
            }
            return height
        }
    }

    /// Posts a pending batch, or closes and posts the next one. Returns whether it did anything.
    @discardableResult
    public func step(now: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000), force: Bool = false) async throws
        -> Bool
    {
        let last = try last()
        if let last, last.batch.l1Height == 0 {
            try await post(last.batch)
            return true
        }
        guard let batch = try nextBatch(after: last, now: now, force: force) else { return false }
        try store.environment.write { txn in try txn.put(Batches.self, batch.header.seq, batch) }
        try await post(batch)
        return true
    }

    /// Closes the next batch if a limit is reached: `maxBlocks` blocks, `maxBytes` of encoding, or
    /// a first block older than `maxAgeMs`.
    func nextBatch(after last: (seq: UInt64, batch: PostedBatch)?, now: UInt64, force: Bool) throws -> PostedBatch? {
        let first = (last?.batch.header.lastHeight ?? 0) + 1
        let head = try store.head().height
        guard head >= first else { return nil }
        let p = parameters
        var blocks: [Block] = []
        var rawBytes = 0
        var height = first
        while height <= head, UInt64(blocks.count) < p.maxBlocks, rawBytes < Int(p.maxBytes) {
            guard let block = try store.block(at: height) else { break }
            rawBytes += block.canonicalBytes.count
            blocks.append(block)
            height += 1
        }
        let lies = store.lies
        if let withheld = lies.start(of: .withheldBlob) { blocks.removeAll { $0.header.height >= withheld } }
        guard let oldest = blocks.first else { return nil }
        let full = UInt64(blocks.count) >= p.maxBlocks || rawBytes >= Int(p.maxBytes)
        let old = now >= oldest.header.timestamp &+ p.maxAgeMs
        // Blocks that sent messages go out at once: a message waits for its block to be in DA.
        let sends = blocks.last.map { $0.header.outboxRoot != (try? store.header(at: first - 1))??.outboxRoot } ?? false
        guard full || old || sends || force else { return nil }
        var frame = try encode(blocks, lies: lies)
        while frame.count > Int(p.maxBytes), blocks.count > 1 {
            blocks.removeLast(max(1, blocks.count / 4))
            frame = try encode(blocks, lies: lies)
        }
        let lastHeight = first + UInt64(blocks.count) - 1
        var header = BatchHeader(
            rollup: store.rollup.id, seq: (last?.seq).map { $0 + 1 } ?? 0, firstHeight: first, lastHeight: lastHeight)
        if lies.tells(.absurdHeights, at: lastHeight) { header.lastHeight = UInt64.max }
        return PostedBatch(header: header, l1Height: 0, frame: frame)
    }

    /// The frame of `blocks`, as the batch and body lies of `lies` have it (an honest node: the
    /// canonical batch).
    func encode(_ blocks: [Block], lies: Lies) throws -> [UInt8] {
        let level = parameters.zstdLevel
        guard !lies.isEmpty, let last = blocks.last?.header.height else { return try BatchCodec.encode(blocks, level: level) }
        if lies.tells(.undecodablePayload, at: last) {
            return try Zstd.compress(Array("tributary/fault: not a batch".utf8), level: level)
        }
        var posted = blocks
        for i in posted.indices where lies.tells(.invalidTransaction, at: posted[i].header.height) {
            posted[i].transactions.append(Self.invalidTransaction(for: store.rollup.id, at: posted[i].header.height))
        }
        var payload = BatchCodec.payload(posted)
        if lies.tells(.batchVersion, at: last) { payload[0] = BatchCodec.version + 1 }
        return try Zstd.compress(payload, level: level)
    }

    /// A transaction no block can include: its nonce is far above its sender's (a throwaway key's).
    static func invalidTransaction(for rollup: RollupID, at height: UInt64) -> SignedTransaction {
        let key = DevKeys.key(named: "tributary/fault/junk")
        return Transaction(
            rollup: rollup, nonce: UInt64.max - height, sender: key.publicKey, fee: 0,
            call: .transfer(to: key.publicKey.address, asset: AssetName(rawValue: "JUNK")!, amount: 1)
        ).signed(by: key)
    }

    func post(_ batch: PostedBatch) async throws {
        let post = BlobPost(header: batch.header, frame: batch.frame, signedBy: key)
        let result = try await l1.postBlob(post)
        try store.environment.write { txn in
            var updated = batch
            updated.l1Height = result.l1Height
            try txn.put(Batches.self, batch.header.seq, updated)
        }
        posted.increment()
        postedBytes.increment(by: batch.frame.count)
        logger.debug(
            "batch posted",
            metadata: [
                "batch.seq": "\(batch.header.seq)",
                "batch.blocks": "\(batch.header.firstHeight)…\(batch.header.lastHeight)",
                "batch.bytes": "\(batch.frame.count)", "l1.height": "\(result.l1Height)",
            ])
    }
}

/// Posts an output every `outputIntervalBlocks` blocks once the blocks it covers are in DA. The
/// L1 is the source of truth for what was proposed, so a restart simply carries on.
public final class Proposer: Service, Sendable {
    public let store: ChainStore
    public let l1: L1Client
    let key: SigningKey
    let logger: Logger
    /// A follower proposes only when the L1 lets anyone propose (fallback), and only on top of
    /// outputs it agrees with.
    let fallbackOnly: Bool
    /// The L1 as the node's watcher last saw it: status and this rollup's outputs.
    let watcher: L1Watcher
    /// The index of the last output proposed: the next waits until the watcher has seen it.
    let lastProposed = Mutex<UInt64?>(nil)
    let proposed = Counter(label: "tributary_outputs_proposed_total")

    public init(
        store: ChainStore, l1: L1Client, watcher: L1Watcher, key: SigningKey, fallbackOnly: Bool, logger: Logger
    ) {
        self.store = store
        self.l1 = l1
        self.watcher = watcher
        self.key = key
        self.fallbackOnly = fallbackOnly
        self.logger = logger
    }

    /// Proposes after each update of the L1 watcher until shutdown (`ServiceLoop`). Throws only fatal
    /// storage errors.
    public func run() async throws {
        try await ServiceLoop(name: "output proposal", pace: .updates(watcher.updates()), logger: logger).run {
            try await self.step() != nil
        }
    }

    /// Proposes the next output if it is due. Returns its L2 height.
    @discardableResult
    public func step() async throws -> UInt64? {
        let rollup = store.rollup
        guard let (status, outputs) = watcher.outputs(ofWatched: rollup.id),
            let info = status.rollup(rollup.id)
        else { return nil }
        if fallbackOnly, !info.permissionless { return nil }
        // The watcher's view must hold the last proposal before the next is built on it.
        if let last = lastProposed.withLock({ $0 }), !outputs.contains(where: { $0.index == last }) { return nil }
        let standing = outputs.filter { $0.status != .invalidated }
        if let top = standing.last {
            // Never build on an output this node disagrees with while a challenge can still take it:
            // a won challenge invalidates every later output too, so a proposal above a false pending
            // output (a replaced liar's) falls with it. The followers' challengers deal with it; the
            // proposal follows its invalidation (or, unchallenged, its finalization). A follower never
            // builds on one at all.
            guard let mine = try store.header(at: top.output.l2Height) else { return nil }
            if !top.output.matches(mine), fallbackOnly || top.status == .pending { return nil }
        }
        let n = rollup.outputIntervalBlocks
        let floor = standing.last?.output.l2Height ?? 0
        var target = (floor / n + 1) * n
        let head = try store.head().height
        let covered = min(head, info.daHeight)
        // Messages wait for an output: propose as soon as sent messages are in DA, without waiting
        // for the interval.
        if covered > floor, covered < target, try store.outboxCount(at: covered) > store.outboxCount(at: floor) {
            target = covered
        }
        guard target <= head, target <= info.daHeight else { return nil }
        guard let header = try store.header(at: target) else { return nil }
        var output = Output(header: header)
        let lies = store.lies
        if lies.silent(at: target) { return nil }
        if lies.tells(.nonAdoptingOutput, at: target) {
            output.blockHash = Lies.falseHash("output-block", output.blockHash)
            output.stateRoot = Lies.falseHash("output-state", output.stateRoot)
        }
        // Built on the top standing output as the watcher saw it: if another was accepted above it
        // since, the L1 refuses this one (stale parent, -32033) and the loop retries on the next
        // update, on the new top.
        let result = try await l1.proposeOutput(
            OutputProposal(output: output, parent: standing.last?.output.root ?? .zero, signedBy: key))
        lastProposed.withLock { $0 = result.index }
        proposed.increment()
        logger.info(
            "output proposed",
            metadata: [
                "output.index": "\(result.index)", "output.l2Height": "\(target)",
                "output.windowEndsAt": "\(result.windowEnd)",
            ])
        return target
    }
}
