import Chain
import Compression
import Foundation
import FuzzTargets
import Primitives
import Settlement
import StateMachine
import StateTree
import Testing

/// Writes the seed corpus (Tests/FuzzTests/Corpus) from the real encoders. Run it after an
/// encoding changes: `TRIBUTARY_WRITE_FUZZ_SEEDS=1 swift test --filter SeedGenerator`, then
/// review and commit the files. Off otherwise, so tests never write into the source tree.
@Suite struct SeedGenerator {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_WRITE_FUZZ_SEEDS"] != nil))
    func writeSeeds() throws {
        let seeds = try Seeds()
        for (target, files) in [
            (FuzzTarget.codec, try seeds.codec()), (.batch, try seeds.batch()), (.proofs, try seeds.proofs()),
            (.witness, try seeds.witness()),
        ] {
            let directory = FuzzCorpusTests.directory.appendingPathComponent("Corpus/\(target.rawValue)")
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, bytes) in files {
                #expect(target.run(bytes) == !name.hasPrefix("reject-"), "seed \(target.rawValue)/\(name)")
                try Data(bytes).write(to: directory.appendingPathComponent(name))
            }
        }
    }
}

/// Real values of every kind the targets decode: signed transactions of each call, blocks, a batch,
/// outputs, L1 entries, and proofs and witnesses of a small state tree.
struct Seeds {
    let alpha = RollupID(1)
    let dev0 = DevKeys.account(0)
    let dev1 = DevKeys.account(1)
    let asset = AssetName(rawValue: "ALPHA")!
    let store = MemoryTreeStore()
    let keys: [Hash]

    init() throws {
        keys = (0..<40).map { Hash.sha256(utf8: "fuzz seed key \($0)") }
        let updates: [(key: Hash, value: [UInt8]?)] = keys.enumerated().map { i, key in
            (key, Array("value \(i)".utf8))
        }
        store.apply(try StateTree(store).update(base: nil, version: 1, updates: updates))
    }

    var message: Message {
        Message(
            source: alpha, nonce: 3, sender: dev0.publicKey.address, destination: RollupID(2), target: "mailbox",
            recipient: dev1.publicKey.address,
            value: [AssetAmount(asset, 25), AssetAmount(AssetName(rawValue: "BETA")!, 1)],
            payload: Array("hello".utf8))
    }

    var outboxIDs: [Hash] { (0..<7).map { Hash.sha256(utf8: "fuzz seed message \($0)") } }

    var calls: [Call] {
        [
            .transfer(to: dev1.publicKey.address, asset: asset, amount: 250),
            .sendMessage(
                destination: RollupID(2), target: "bank", recipient: dev1.publicKey.address,
                value: [AssetAmount(asset, 10)], payload: []),
            .relayMessage(message: message, proof: outboxProof(index: 3), outputIndex: 4),
            .escrowClaim(id: message.id, preimage: Array("secret".utf8)),
            .escrowRefund(id: message.id),
        ]
    }

    var transactions: [SignedTransaction] {
        calls.enumerated().map { i, call in
            Transaction(rollup: alpha, nonce: UInt64(i), sender: dev0.publicKey, fee: 1, call: call).signed(by: dev0)
        }
    }

    func block(height: UInt64) throws -> Block {
        let txs = height == 1 ? transactions : [transactions[0]]
        let header = BlockHeader(
            rollup: alpha, height: height, parent: Hash.sha256(utf8: "parent \(height)"),
            l1Origin: L1Origin(height: 7, hash: Hash.sha256(utf8: "l1")), timestamp: 1_700_000_000_000 + height,
            transactionsRoot: MerkleList.root(txs.map(\.id)), stateRoot: try StateTree(store).rootHash(at: 1),
            outboxRoot: MerkleList.root(outboxIDs), receiptsRoot: .zero)
        return Block(header: header, transactions: txs)
    }

    /// The RFC 6962 audit path of entry `index` among the outbox ids.
    func outboxProof(index: Int) -> OutboxProof {
        func path(_ m: Int, _ leaves: ArraySlice<Hash>) -> [Hash] {
            guard leaves.count > 1 else { return [] }
            var k = 1
            while k * 2 < leaves.count { k *= 2 }
            let mid = leaves.startIndex + k
            if m < k { return path(m, leaves[..<mid]) + [MerkleList.root(Array(leaves[mid...]))] }
            return path(m - k, leaves[mid...]) + [MerkleList.root(Array(leaves[..<mid]))]
        }
        return OutboxProof(index: UInt64(index), treeSize: UInt64(outboxIDs.count), path: path(index, outboxIDs[...]))
    }

    func witness(_ keys: [Hash]) throws -> Witness { try StateTree(store).witness(for: keys, at: 1) }

    func codec() throws -> [(String, [UInt8])] {
        let header = BatchHeader(rollup: alpha, seq: 0, firstHeight: 1, lastHeight: 2)
        let output = Output(header: try block(height: 2).header)
        let proposal = OutputProposal(output: output, parent: .zero, signedBy: DevKeys.key(named: "alpha/proposer"))
        let frame = try BatchCodec.encode([try block(height: 1), try block(height: 2)], level: 3)
        let post = BlobPost(header: header, frame: frame, signedBy: DevKeys.key(named: "alpha/batcher"))
        let receipt = Receipt(transaction: transactions[1].id, status: .success, feePaid: 1, message: message.id)
        var frontier = OutboxFrontier()
        for id in outboxIDs { frontier.append(id) }
        let entries: [L1Entry] = [
            .blob(header: header, commitment: post.commitment, size: UInt64(frame.count), signature: post.signature),
            .output(index: 0, proposal: proposal),
            .challenge(
                id: Hash.sha256(utf8: "challenge"), rollup: alpha, outputIndex: 0, kind: "block",
                challenger: dev1.publicKey, invalidated: 2),
        ]
        let lock = EscrowLock(
            source: RollupID(2), sender: dev0.publicKey.address, beneficiary: dev1.publicKey.address,
            value: message.value, hashLock: Hash.sha256(utf8: "secret"), timeout: 40)
        var seeds: [(String, [UInt8])] = []
        for (i, tx) in transactions.enumerated() {
            seeds.append(("transaction-\(i)", [0] + tx.transaction.canonicalBytes))
            seeds.append(("signed-transaction-\(i)", [1] + tx.canonicalBytes))
            seeds.append(("call-\(i)", [6] + tx.transaction.call.canonicalBytes))
        }
        seeds += [
            ("block-1", [2] + (try block(height: 1)).canonicalBytes),
            ("block-header", [3] + (try block(height: 2)).header.canonicalBytes),
            ("message", [4] + message.canonicalBytes), ("outbox-frontier", [5] + frontier.canonicalBytes),
            ("asset-name", [7] + AssetName(rawValue: "alpha/ALPHA")!.canonicalBytes),
            ("receipt", [8] + receipt.canonicalBytes), ("batch-header", [9] + header.canonicalBytes),
            ("output", [10] + output.canonicalBytes), ("output-proposal", [11] + proposal.canonicalBytes),
            ("blob-post", [12] + post.canonicalBytes),
            (
                "l1-block-header",
                [14] + L1BlockHeader(height: 9, parent: .zero, timestamp: 5, entriesRoot: .zero).canonicalBytes
            ),
            ("block-body", [15] + BlockBody(transactions).canonicalBytes),
            ("block-receipts", [16] + BlockReceipts([receipt, receipt]).canonicalBytes),
            ("transaction-location", [17] + TransactionLocation(height: 4, index: 2).canonicalBytes),
            ("escrow-lock", [18] + lock.canonicalBytes),
            ("reject-trailing-byte", [0] + transactions[0].transaction.canonicalBytes + [0]),
            ("reject-forged-count", [15, 0xff, 0xff, 0xff, 0xff]),
            ("reject-unsorted-value", [4] + unsortedMessage()),
            ("reject-zero-amount", [4] + changedMessage { $0.value[0].amount = 0 }),
            ("reject-five-assets", [4] + changedMessage { m in
                m.value = ["A", "B", "C", "D", "E"].map { AssetAmount(AssetName(rawValue: $0)!, 1) }
            }),
            ("reject-long-target", [4] + changedMessage { $0.target = String(repeating: "t", count: 33) }),
            ("reject-long-asset-name", [7] + String(repeating: "A", count: 33).canonicalBytes),
            ("reject-asset-name-with-space", [7] + "AL PHA".canonicalBytes),
        ]
        seeds += entries.enumerated().map { i, entry in ("l1-entry-\(i)", [13] + entry.canonicalBytes) }
        return seeds
    }

    /// The encoding of the seed message after `change` (which may break a decoding rule: the
    /// encoder writes whatever it is given).
    func changedMessage(_ change: (inout Message) -> Void) -> [UInt8] {
        var m = message
        change(&m)
        return m.canonicalBytes
    }

    /// A message whose value is not strictly ordered by asset.
    func unsortedMessage() -> [UInt8] {
        var m = message
        m.value.reverse()
        return m.canonicalBytes
    }

    func batch() throws -> [(String, [UInt8])] {
        let header = BatchHeader(rollup: alpha, seq: 0, firstHeight: 1, lastHeight: 2)
        let blocks = [try block(height: 1), try block(height: 2)]
        let single = BatchHeader(rollup: alpha, seq: 1, firstHeight: 2, lastHeight: 2)
        // A frame that claims 64 MiB + 1 of content: refused from its header alone.
        let bomb: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0xe4, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
        return [
            ("frame", [0] + header.canonicalBytes + (try BatchCodec.encode(blocks, level: 3))),
            ("frame-one-block", [0] + single.canonicalBytes + (try BatchCodec.encode([blocks[1]], level: 19))),
            ("payload", [1] + header.canonicalBytes + BatchCodec.payload(blocks)),
            ("payload-one-block", [1] + single.canonicalBytes + BatchCodec.payload([blocks[1]])),
            ("reject-wrong-header", [0] + single.canonicalBytes + (try BatchCodec.encode(blocks, level: 3))),
            ("reject-content-size-over-cap", [0] + header.canonicalBytes + bomb),
        ]
    }

    func proofs() throws -> [(String, [UInt8])] {
        let tree = StateTree(store)
        let absent = Hash.sha256(utf8: "absent key")
        let (value, present) = try tree.proof(for: keys[5], at: 1)
        let (_, missing) = try tree.proof(for: absent, at: 1)
        let challenger = DevKeys.key(named: "alpha/challenger")
        let blockProof = FraudProof.block(height: 2, witness: try witness(Array(keys.prefix(3))))
        var seeds: [(String, [UInt8])] = [0, 3, 6].map { i in
            ("outbox-proof-\(i)", [0] + outboxIDs[i].bytes + outboxProof(index: i).canonicalBytes)
        }
        seeds += [
            ("state-proof-present", [1] + keys[5].bytes + present.canonicalBytes + value!),
            ("state-proof-absent", [1] + absent.bytes + missing.canonicalBytes),
            ("fraud-proof-block", [2] + blockProof.canonicalBytes),
            (
                "fraud-proof-span",
                [2]
                    + FraudProof.span(anchor: try block(height: 1).header, witness: try witness([keys[9], absent]))
                    .canonicalBytes
            ),
            ("fraud-proof-output", [2] + FraudProof.output.canonicalBytes),
            ("fraud-proof-not-in-da", [2] + FraudProof.notInDA.canonicalBytes),
            (
                "challenge",
                [3] + Challenge(rollup: alpha, outputIndex: 1, proof: blockProof, signedBy: challenger).canonicalBytes
            ),
            ("reject-fraud-proof-kind", [2, 9]),
        ]
        return seeds
    }

    func witness() throws -> [(String, [UInt8])] {
        let absent = Hash.sha256(utf8: "absent key")
        return [
            ("one-key", try witness([keys[0]]).canonicalBytes),
            ("absent-key", try witness([absent]).canonicalBytes + absent.bytes),
            ("many-keys", try witness(Array(keys.prefix(12)) + [absent]).canonicalBytes + keys[20].bytes),
            ("empty", Witness(root: .empty).canonicalBytes + absent.bytes),
            ("reject-opaque-empty", [1] + Hash.zero.bytes),
        ]
    }
}
