import Chain
import Config
import Primitives
import Settlement
import Storage

/// Whether a rollup store is a prefix of the chain the L1 holds (docs/operations.md, "Stores
/// checked against the L1"): the rule a node applies at start-up, `snapshot verify|restore --l1`
/// apply to a snapshot, and `tributary db check-l1` reports on.
///
/// 1. Every batch record the store holds equals the L1's blob of that sequence number (header,
///    commitment, L1 height). A record not yet accepted (L1 height 0, the batcher's pending last
///    one) may be missing from the L1, but when the L1 has that sequence number it must be the same.
/// 2. The store's head is at or below the rollup's DA height (a sequencer's own store may be above
///    it: blocks not yet posted).
/// 3. At the highest height at or below both the head and the DA height that a decodable blob
///    carries, the store's posted header (its claim there, else its own header) equals the posted
///    block's header. Headers chain by hash, so every block below agrees too.
public enum L1Consistency {
    public struct Report: Sendable {
        public var head: UInt64
        public var daHeight: UInt64
        public var batchesCompared = 0
        /// The height whose header was compared with the L1's posted block, if any.
        public var comparedHeight: UInt64?
        /// Where the store and the L1 first disagree, in words; nil when they agree.
        public var divergence: String?
        /// The first height (or 0) the divergence concerns, for the operator.
        public var divergentHeight: UInt64?

        public var ok: Bool { divergence == nil }

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "ok": .bool(ok), "head": .number(head), "daHeight": .number(daHeight),
                "batchesCompared": .number(batchesCompared),
            ]
            if let comparedHeight { o["comparedHeight"] = .number(comparedHeight) }
            if let divergence { o["divergence"] = .string(divergence) }
            if let divergentHeight { o["divergentHeight"] = .number(divergentHeight) }
            return .object(o)
        }
    }

    /// Checks the store in `environment` (rollup `rollup`) against the L1 at `l1`. `mayBeAhead`: the
    /// store may hold blocks above the DA height (a sequencer's own). Throws when the L1 cannot be
    /// asked; a disagreement is a report, not an error.
    public static func check(
        environment: Environment, rollup: RollupID, l1: L1Client, mayBeAhead: Bool
    ) async throws -> Report {
        let status = try await l1.status()
        let (head, records) = try environment.read { txn -> (UInt64, [(UInt64, PostedBatch)]) in
            var head: UInt64 = 0
            if let stored = try txn.get(Meta.self, Meta.head).flatMap({ try? UInt64(canonicalBytes: $0) }) {
                head = stored
            } else {
                try txn.forEach(Headers.self, reverse: true) { height, _ in
                    head = height
                    return false
                }
            }
            var records: [(UInt64, PostedBatch)] = []
            try txn.forEach(Batches.self) { seq, batch in
                records.append((seq, batch))
                return true
            }
            return (head, records)
        }
        guard let info = status.rollup(rollup) else {
            var report = Report(head: head, daHeight: 0)
            report.divergence = "the L1 has no rollup \(rollup)"
            return report
        }
        var report = Report(head: head, daHeight: info.daHeight)
        // 1. Batch records against the L1's blobs.
        var l1Blobs: [L1BlobInfo] = []
        while UInt64(l1Blobs.count) < info.nextSeq {
            let page = try await l1.blobInfos(rollup: rollup, from: UInt64(l1Blobs.count))
            guard let first = page.first, first.header.seq == UInt64(l1Blobs.count) else { break }
            l1Blobs += page
        }
        for (seq, record) in records {
            guard seq < UInt64(l1Blobs.count) else {
                if record.l1Height == 0, seq == records.last?.0 { continue }
                report.divergence =
                    "the store records batch \(seq) (blocks \(record.header.firstHeight)…\(record.header.lastHeight)) as posted at L1 block \(record.l1Height); the L1 holds only \(l1Blobs.count) batches of rollup \(rollup)"
                report.divergentHeight = record.header.firstHeight
                return report
            }
            let posted = l1Blobs[Int(seq)]
            if posted.header != record.header || posted.commitment != record.commitment
                || (record.l1Height != 0 && posted.l1Height != record.l1Height)
            {
                report.divergence =
                    "batch \(seq) differs: the store holds blocks \(record.header.firstHeight)…\(record.header.lastHeight) with commitment \(record.commitment) at L1 block \(record.l1Height), the L1 holds blocks \(posted.header.firstHeight)…\(posted.header.lastHeight) with commitment \(posted.commitment) at L1 block \(posted.l1Height)"
                report.divergentHeight = min(record.header.firstHeight, posted.header.firstHeight)
                return report
            }
            report.batchesCompared += 1
        }
        // 2. The head against the DA height.
        if head > info.daHeight, !mayBeAhead {
            report.divergence =
                "the store's head \(head) is above rollup \(rollup)'s DA height \(info.daHeight): the L1 never carried blocks \(info.daHeight + 1)…\(head)"
            report.divergentHeight = info.daHeight + 1
            return report
        }
        // 3. The posted header at the highest decodable height at or below both.
        let top = min(head, info.daHeight)
        guard top > 0 else { return report }
        for blob in l1Blobs.reversed() where blob.header.firstHeight <= top {
            guard let full = try await l1.blob(rollup: rollup, seq: blob.header.seq),
                let blocks = try? BatchCodec.decode(full.frame, header: full.header)
            else { continue }
            let height = min(top, full.header.lastHeight)
            guard let posted = blocks.first(where: { $0.header.height == height }) else { continue }
            let held = try environment.read { txn in
                try txn.get(Claims.self, height)?.header ?? txn.get(Headers.self, height)
            }
            report.comparedHeight = height
            if held != posted.header {
                report.divergence =
                    "block \(height) differs: the store holds \(held.map { "\($0.hash)" } ?? "nothing"), the L1's batch \(blob.header.seq) posted \(posted.header.hash)"
                report.divergentHeight = height
            }
            return report
        }
        return report
    }
}
