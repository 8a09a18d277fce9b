import Chain
import Config
import Foundation
import Primitives
import Settlement
import StateMachine
import Testing
import TributaryTesting

/// Two rollup stores of one devnet, driven block by block, with a hand-made L1.
final class Pair {
    let dirs: [TemporaryDirectory]
    let genesis: Genesis
    let alpha: ChainStore, beta: ChainStore
    var nonces: [String: UInt64] = [:]
    var facts: [RollupIndex: L1OutputFact] = [:]

    init() throws {
        genesis = try GenesisBuilder.small(rollups: 2).parsed()
        dirs = [try TemporaryDirectory("msg-a"), try TemporaryDirectory("msg-b")]
        alpha = try ChainStore(datadir: dirs[0].path, rollup: genesis.rollups[0], network: Network(genesis))
        beta = try ChainStore(datadir: dirs[1].path, rollup: genesis.rollups[1], network: Network(genesis))
    }

    func tx(_ store: ChainStore, _ key: SigningKey, _ call: Call) -> SignedTransaction {
        let k = "\(store.rollup.id)/\(key.address)"
        defer { nonces[k, default: 0] += 1 }
        return Transaction(
            rollup: store.rollup.id, nonce: nonces[k, default: 0], sender: key.publicKey, fee: 1, call: call
        )
        .signed(by: key)
    }

    @discardableResult
    func block(_ store: ChainStore, _ txs: [SignedTransaction], l1Height: UInt64 = 100) throws -> CommittedBlock {
        try store.commitBlock(
            candidates: txs, timestamp: 0, l1Origin: L1Origin(height: l1Height, hash: .zero), checkSignatures: true,
            l1: L1Facts(facts))
    }

    /// Records an output of `store` at its head on the "L1" as output `index`, final from `windowEnd`.
    func output(_ store: ChainStore, index: UInt64, windowEnd: UInt64 = 50, invalidated: Bool = false) throws {
        let head = try store.head()
        facts[RollupIndex(store.rollup.id, index)] = L1OutputFact(
            outboxRoot: head.outboxRoot, l2Height: head.height, windowEnd: windowEnd, invalidated: invalidated)
    }

    /// A relay of message `id` (sent by `from`) proven against `from`'s head outbox.
    func relay(_ id: Hash, from: ChainStore, outputIndex: UInt64, by key: SigningKey) throws -> SignedTransaction {
        let sent = try #require(try from.sentMessage(id))
        let size = try from.outboxCount(at: try from.head().height)
        let proof = try from.outboxProof(nonce: sent.message.nonce, treeSize: size)
        let to = sent.message.destination == beta.rollup.id ? beta : alpha
        return tx(to, key, .relayMessage(message: sent.message, proof: proof, outputIndex: outputIndex))
    }

    func balance(_ store: ChainStore, _ who: Address, _ asset: String) throws -> UInt64 {
        try store.withState { try $0.accounts.balance(of: who, AssetName(rawValue: asset)!) }
    }
}

@Suite struct MessagingTests {
    let dev0 = DevKeys.account(0), dev1 = DevKeys.account(1), dev2 = DevKeys.account(2)

    @Test func outboxProofsVerifyAgainstEveryLaterRoot() throws {
        var f = OutboxFrontier()
        var ids: [Hash] = []
        for i in 0..<37 {
            let id = Hash.sha256([UInt8(i)])
            ids.append(id)
            f.append(id)
            #expect(f.root == MerkleList.root(ids))
        }
        // Proofs from a real store, for every entry against several later sizes.
        let p = try Pair()
        var txs: [SignedTransaction] = []
        for i in 0..<21 {
            txs.append(
                p.tx(
                    p.alpha, DevKeys.account(i % 4),
                    .sendMessage(
                        destination: RollupID(2), target: "bank",
                        recipient: dev1.address, value: [AssetAmount(AssetName(rawValue: "ALPHA")!, 1)], payload: [])))
        }
        try p.block(p.alpha, Array(txs[0..<5]))
        try p.block(p.alpha, Array(txs[5..<13]))
        try p.block(p.alpha, Array(txs[13...]))
        for height in 1...3 as ClosedRange<UInt64> {
            let size = try p.alpha.outboxCount(at: height)
            let root = try #require(try p.alpha.header(at: height)).outboxRoot
            for nonce in 0..<size {
                let proof = try p.alpha.outboxProof(nonce: nonce, treeSize: size)
                let id = try #require(
                    try p.alpha.messages(to: nil, fromNonce: nonce, throughHeight: height, limit: 1).messages.first
                ).0.message.id
                #expect(proof.root(for: id) == root, "entry \(nonce) of \(size)")
                #expect(proof.root(for: Hash.sha256([9])) != root)
            }
        }
    }

    @Test func valueCrossesOnceAndComesHome() throws {
        let p = try Pair()
        let ALPHA = AssetName(rawValue: "ALPHA")!
        // dev0 sends 100 ALPHA to dev1 on beta; the native ALPHA goes into alpha's bridge.
        let send = try p.block(
            p.alpha,
            [
                p.tx(
                    p.alpha, dev0,
                    .sendMessage(
                        destination: RollupID(2), target: "bank", recipient: dev1.address,
                        value: [AssetAmount(ALPHA, 100)], payload: []))
            ])
        let id = send.receipts[0].message
        #expect(send.receipts[0].status == .success && id != .zero)
        #expect(try p.balance(p.alpha, ModuleAccount.bridge, "ALPHA") == 100)
        #expect(try p.alpha.head().outboxRoot != .zero)
        // Not final yet as of L1 height 40: refused with a receipt, nothing credited.
        try p.output(p.alpha, index: 0, windowEnd: 50)
        let early = try p.block(p.beta, [try p.relay(id, from: p.alpha, outputIndex: 0, by: dev2)], l1Height: 40)
        #expect(early.receipts[0].status == .outputNotFinalized)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 0)
        // Final: minted as alpha/ALPHA, once.
        let done = try p.block(p.beta, [try p.relay(id, from: p.alpha, outputIndex: 0, by: dev2)], l1Height: 60)
        #expect(done.receipts[0].status == .success)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 100)
        let again = try p.block(p.beta, [try p.relay(id, from: p.alpha, outputIndex: 0, by: dev2)], l1Height: 61)
        #expect(again.receipts[0].status == .alreadyRelayed)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 100)
        // Home again: burned on beta, released from alpha's bridge.
        let back = try p.block(
            p.beta,
            [
                p.tx(
                    p.beta, dev1,
                    .sendMessage(
                        destination: RollupID(1), target: "bank", recipient: dev2.address,
                        value: [AssetAmount(ALPHA, 40)], payload: []))
            ])
        #expect(back.receipts[0].status == .success)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 60)
        try p.output(p.beta, index: 0)
        let before = try p.balance(p.alpha, dev2.address, "ALPHA")
        let home = try p.block(p.alpha, [try p.relay(back.receipts[0].message, from: p.beta, outputIndex: 0, by: dev0)])
        #expect(home.receipts[0].status == .success)
        #expect(try p.balance(p.alpha, dev2.address, "ALPHA") == before + 40)
        #expect(try p.balance(p.alpha, ModuleAccount.bridge, "ALPHA") == 60)
    }

    @Test func attacksFailWithClearReceipts() throws {
        let p = try Pair()
        let ALPHA = AssetName(rawValue: "ALPHA")!
        let send = try p.block(
            p.alpha,
            [
                p.tx(
                    p.alpha, dev0,
                    .sendMessage(
                        destination: RollupID(2), target: "bank", recipient: dev1.address,
                        value: [AssetAmount(ALPHA, 5)], payload: []))
            ])
        let id = send.receipts[0].message
        try p.output(p.alpha, index: 0)
        try p.output(p.alpha, index: 1, windowEnd: 500)
        try p.output(p.alpha, index: 2, invalidated: true)
        let sent = try #require(try p.alpha.sentMessage(id)).message
        let proof = try p.alpha.outboxProof(nonce: 0, treeSize: 1)
        var forgedMessage = sent
        forgedMessage.value = [AssetAmount(ALPHA, 5_000)]
        var forgedProof = proof
        forgedProof.path = [Hash.sha256([1])]
        let cases: [(Call, ReceiptStatus)] = [
            (.relayMessage(message: forgedMessage, proof: proof, outputIndex: 0), .badProof),
            (.relayMessage(message: sent, proof: forgedProof, outputIndex: 0), .badProof),
            (.relayMessage(message: sent, proof: proof, outputIndex: 1), .outputNotFinalized),  // pending
            (.relayMessage(message: sent, proof: proof, outputIndex: 2), .outputNotFinalized),  // invalidated
            (.relayMessage(message: sent, proof: proof, outputIndex: 9), .outputNotFinalized),  // unknown
        ]
        for (call, status) in cases {
            let r = try p.block(p.beta, [p.tx(p.beta, dev2, call)])
            #expect(r.receipts[0].status == status, "\(call)")
        }
        // The same message relayed on alpha itself (not its destination).
        let wrong = try p.block(
            p.alpha, [p.tx(p.alpha, dev2, .relayMessage(message: sent, proof: proof, outputIndex: 0))])
        #expect(wrong.receipts[0].status == .wrongDestination)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 0)
        // Sends that cannot go: unknown destination, unknown asset, more than held.
        for (call, status) in [
            (
                Call.sendMessage(
                    destination: RollupID(1), target: "bank", recipient: dev1.address, value: [], payload: []),
                ReceiptStatus.unknownDestination
            ),
            (
                .sendMessage(destination: RollupID(7), target: "bank", recipient: dev1.address, value: [], payload: []),
                .unknownDestination
            ),
            (
                .sendMessage(
                    destination: RollupID(2), target: "bank", recipient: dev1.address,
                    value: [AssetAmount(AssetName(rawValue: "NOPE")!, 1)], payload: []), .unknownAsset
            ),
            (
                .sendMessage(
                    destination: RollupID(2), target: "bank", recipient: dev1.address,
                    value: [AssetAmount(ALPHA, 10_000_000)], payload: []), .insufficientBalance
            ),
        ] {
            let r = try p.block(p.alpha, [p.tx(p.alpha, dev0, call)])
            #expect(r.receipts[0].status == status)
        }
    }

    @Test func aFailingTargetBouncesAndEscrowSwapsAtomically() throws {
        let p = try Pair()
        let ALPHA = AssetName(rawValue: "ALPHA")!, BETA = AssetName(rawValue: "BETA")!
        // A message to a module that does not exist: consumed, value sent back, nothing credited.
        let send = try p.block(
            p.alpha,
            [
                p.tx(
                    p.alpha, dev0,
                    .sendMessage(
                        destination: RollupID(2), target: "nope", recipient: dev1.address,
                        value: [AssetAmount(ALPHA, 7)], payload: []))
            ])
        try p.output(p.alpha, index: 0)
        let relayed = try p.block(
            p.beta, [try p.relay(send.receipts[0].message, from: p.alpha, outputIndex: 0, by: dev2)])
        #expect(relayed.receipts[0].status == .targetFailed)
        let bounce = relayed.receipts[0].returnMessage
        #expect(bounce != .zero)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 0)
        try p.output(p.beta, index: 0)
        let balance = try p.balance(p.alpha, dev0.address, "ALPHA")
        let home = try p.block(p.alpha, [try p.relay(bounce, from: p.beta, outputIndex: 0, by: dev2)])
        #expect(home.receipts[0].status == .success)
        #expect(try p.balance(p.alpha, dev0.address, "ALPHA") == balance + 7)

        // Atomic swap: dev0 (alpha) locks 30 ALPHA for dev1 on beta; dev1 (beta) locks 20 BETA for
        // dev0 on alpha; both under SHA-256(secret), dev1's lock expiring first.
        let secret: [UInt8] = Array("the secret".utf8), lock = Hash.sha256(Array("the secret".utf8))
        let a = try p.block(
            p.alpha,
            [
                p.tx(
                    p.alpha, dev0,
                    .sendMessage(
                        destination: RollupID(2), target: "escrow", recipient: dev1.address,
                        value: [AssetAmount(ALPHA, 30)], payload: EscrowLock.payload(hashLock: lock, timeout: 300)))
            ])
        let b = try p.block(
            p.beta,
            [
                p.tx(
                    p.beta, dev1,
                    .sendMessage(
                        destination: RollupID(1), target: "escrow", recipient: dev0.address,
                        value: [AssetAmount(BETA, 20)], payload: EscrowLock.payload(hashLock: lock, timeout: 200)))
            ])
        try p.output(p.alpha, index: 1)
        try p.output(p.beta, index: 1)
        let lockOnBeta = a.receipts[0].message, lockOnAlpha = b.receipts[0].message
        #expect(
            try p.block(p.beta, [try p.relay(lockOnBeta, from: p.alpha, outputIndex: 1, by: dev2)]).receipts[0].status
                == .success)
        #expect(
            try p.block(p.alpha, [try p.relay(lockOnAlpha, from: p.beta, outputIndex: 1, by: dev2)]).receipts[0].status
                == .success)
        // A wrong preimage fails; dev0 claims with the secret on alpha, revealing it; dev1 uses it on beta.
        let wrongClaim = try p.block(p.alpha, [p.tx(p.alpha, dev0, .escrowClaim(id: lockOnAlpha, preimage: [1]))])
        #expect(wrongClaim.receipts[0].status == .wrongPreimage)
        let early = try p.block(p.beta, [p.tx(p.beta, dev1, .escrowRefund(id: lockOnBeta))])
        #expect(early.receipts[0].status == .escrowNotExpired)
        #expect(
            try p.block(p.alpha, [p.tx(p.alpha, dev0, .escrowClaim(id: lockOnAlpha, preimage: secret))]).receipts[0]
                .status == .success)
        #expect(
            try p.block(p.beta, [p.tx(p.beta, dev1, .escrowClaim(id: lockOnBeta, preimage: secret))]).receipts[0].status
                == .success)
        #expect(try p.balance(p.alpha, dev0.address, "beta/BETA") == 20)
        #expect(try p.balance(p.beta, dev1.address, "alpha/ALPHA") == 30)
        #expect(try p.balance(p.alpha, ModuleAccount.escrow, "beta/BETA") == 0)
        // Claimed once: a second claim finds no lock.
        #expect(
            try p.block(p.alpha, [p.tx(p.alpha, dev0, .escrowClaim(id: lockOnAlpha, preimage: secret))]).receipts[0]
                .status == .escrowNotFound)

        // A lock nobody claims is refunded after its timeout, by a message home.
        let c = try p.block(
            p.alpha,
            [
                p.tx(
                    p.alpha, dev0,
                    .sendMessage(
                        destination: RollupID(2), target: "escrow", recipient: dev1.address,
                        value: [AssetAmount(ALPHA, 3)], payload: EscrowLock.payload(hashLock: lock, timeout: 150)))
            ])
        try p.output(p.alpha, index: 2)
        #expect(
            try p.block(p.beta, [try p.relay(c.receipts[0].message, from: p.alpha, outputIndex: 2, by: dev2)]).receipts[
                0
            ].status == .success)
        let late = try p.block(
            p.beta, [p.tx(p.beta, dev1, .escrowClaim(id: c.receipts[0].message, preimage: secret))], l1Height: 150)
        #expect(late.receipts[0].status == .escrowExpired)
        let refund = try p.block(p.beta, [p.tx(p.beta, dev2, .escrowRefund(id: c.receipts[0].message))], l1Height: 150)
        #expect(refund.receipts[0].status == .success && refund.receipts[0].returnMessage != .zero)
        #expect(try p.balance(p.beta, ModuleAccount.escrow, "alpha/ALPHA") == 0)
        // Both stores still verify from genesis, relays included (their L1 facts are stored).
        #expect(try p.alpha.verify() > 0)
        #expect(try p.beta.verify() > 0)
    }
}
