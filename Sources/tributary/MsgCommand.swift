import API
import ArgumentParser
import Config
import Foundation
import Node
import L1Chain
import Primitives
import RPC
import StateMachine

/// `tributary msg …`: cross-rollup messages.
struct MsgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msg", abstract: "Send, follow, relay and list cross-rollup messages.",
        subcommands: [MsgSendCommand.self, MsgStatusCommand.self, MsgRelayCommand.self, MsgListCommand.self])
}

/// Options every `msg` command shares.
struct MsgOptions: ParsableArguments {
    @Option(help: "The genesis file (rollup names, node and L1 addresses).")
    var genesis = "Genesis/devnet.json"

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "The seed of dev account names.")
    var devSeed = DevKeys.publishedSeed

    func load() throws -> Genesis {
        do { return try Genesis.load(path: genesis) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }

    func rollup(_ name: String, in g: Genesis) throws -> RollupParameters {
        if let r = g.rollup(nameOrID: name) { return r }
        throw ValidationError(
            "no rollup \"\(name)\" in \(genesis) (it has: \(g.rollups.map(\.name).joined(separator: ", ")))")
    }

    func print(_ value: JSONValue, human: () -> String) throws { try printResult(value, json: json, human: human) }
}

/// Waits for the receipt of `id` on `rpc`; a transaction the mempool dropped is an error saying why.
func waitForReceipt(_ rpc: RollupClient, _ id: Hash, timeout: Double) async throws -> TransactionReceipt {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let receipt = try await rpc.receipt(id) { return receipt }
        if case .dropped(_, let reason)? = try? await rpc.transaction(id) {
            throw ValidationError("transaction \(id) was dropped: \(reason)")
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ValidationError("transaction \(id) was not included within \(timeout) s")
}

/// `tributary msg send`.
struct MsgSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send", abstract: "Send a message with value to another rollup.",
        discussion: """
            Example: tributary msg send --rpc http://127.0.0.1:9545 --from dev0 --to beta:dev1 --target mailbox \
            --value 10:ALPHA --payload 0x68656c6c6f --wait
            Assets are named by their home's native asset (ALPHA, BETA, …) on every rollup. Targets: bank (credit), \
            mailbox (credit and store the payload for the recipient), escrow (lock for the recipient under \
            --hash-lock until --lock-timeout, an L1 height). The message id is printed once the sending \
            transaction is in a block; --wait then follows the message until it is relayed or bounced.
            """)

    @Option(help: "The source rollup node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @OptionGroup var options: MsgOptions

    @Option(help: "The sender: devN or a 0x… 32-byte key seed.")
    var from: String

    @Option(help: "ROLLUP:RECIPIENT, e.g. beta:dev1 or beta:0x… (20 bytes).")
    var to: String

    @Option(help: "bank, mailbox or escrow.")
    var target = "bank"

    @Option(help: "AMOUNT:ASSET[,AMOUNT:ASSET…], e.g. 10:ALPHA.")
    var value: String?

    @Option(help: "The payload, hex.")
    var payload: String?

    @Option(help: "For --target escrow: the SHA-256 hash lock (32 bytes hex).")
    var hashLock: String?

    @Option(help: "For --target escrow: the L1 height at which the lock can be refunded.")
    var lockTimeout: UInt64?

    @Option(help: "The fee, in the source rollup's native asset (default: the node's minimum for the transaction's size).")
    var fee: UInt64?

    @Flag(help: "Follow the message until it is relayed (or bounced).")
    var wait = false

    @Option(help: "Seconds to wait.")
    var timeout = 120.0

    func parseValue() throws -> [AssetAmount] {
        guard let value, !value.isEmpty else { return [] }
        let items = try value.split(separator: ",").map { part -> AssetAmount in
            let pieces = part.split(separator: ":")
            guard pieces.count == 2, let amount = UInt64(pieces[0]), amount > 0,
                let asset = AssetName(rawValue: String(pieces[1]))
            else { throw ValidationError("--value items are AMOUNT:ASSET with AMOUNT > 0, got \"\(part)\"") }
            return AssetAmount(asset, amount)
        }
        let sorted = items.sorted { $0.asset < $1.asset }
        guard Set(sorted.map(\.asset)).count == sorted.count, sorted.count <= Message.maxAssets else {
            throw ValidationError("--value names each asset once, at most \(Message.maxAssets)")
        }
        return sorted
    }

    func run() async throws {
        let genesis = try options.load()
        let parts = to.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw ValidationError("--to is ROLLUP:RECIPIENT, got \"\(to)\"") }
        let destination = try options.rollup(String(parts[0]), in: genesis)
        let recipient = try resolveAddress(String(parts[1]), seed: options.devSeed)
        var bytes = try payload.map { try Hex.decode($0) } ?? []
        if target == "escrow", payload == nil {
            guard let hashLock, let lock = try? Hash(hex: hashLock), let lockTimeout else {
                throw ValidationError(
                    "--target escrow needs --hash-lock HEX and --lock-timeout L1HEIGHT (or a --payload)")
            }
            bytes = EscrowLock.payload(hashLock: lock, timeout: lockTimeout)
        }
        guard bytes.count <= Message.maxPayload else {
            throw ValidationError(
                "the payload is \(bytes.count) bytes; a message carries at most \(Message.maxPayload)")
        }
        let key = try resolveKey(from, seed: options.devSeed)
        let client = RollupClient(url: rpc)
        let call = Call.sendMessage(
            destination: destination.id, target: target, recipient: recipient, value: try parseValue(), payload: bytes)
        let txID = try await client.submit(call, key: key, fee: fee).id
        let receipt = try await waitForReceipt(client, txID, timeout: timeout)
        guard receipt.success, let messageID = receipt.message else {
            try options.print(receipt.json) { "not sent: \(receipt.status.name) (transaction \(txID))" }
            throw ExitCode(2)
        }
        if !wait {
            try options.print(
                .object([
                    "transaction": .string(txID.hex), "message": .string(messageID.hex),
                    "blockHeight": .number(receipt.blockHeight),
                ])
            ) {
                "message \(messageID) sent in block \(receipt.blockHeight)"
            }
            return
        }
        if !options.json { print("message \(messageID) sent in block \(receipt.blockHeight)") }
        let final = try await follow(messageID, rpc: client, timeout: timeout, quiet: options.json)
        if options.json { try options.print(final.json) { "" } }
        if final.stage != .relayed { throw ExitCode(2) }
    }
}

/// Polls `rollup_getMessageStatus` until the message is relayed or failed, printing each change.
func follow(_ id: Hash, rpc: RollupClient, timeout: Double, quiet: Bool) async throws -> MessageStatus {
    let deadline = Date().addingTimeInterval(timeout)
    var last = ""
    while Date() < deadline {
        let status = try await rpc.messageStatus(id)
        var line = status?.stage.rawValue ?? "unknown"
        if let status, status.stage == .inOutput, let covering = status.covering {
            line =
                "in output \(covering.output): \(covering.blocksLeft) L1 blocks left in the fraud-proof window"
        } else if let status, status.stage == .failed {
            line =
                "failed at the target (\(status.relay?.name ?? "-")); value bounced by \(status.returnMessage.map(\.hex) ?? "-")"
        }
        if line != last, !quiet { print(line) }
        last = line
        if let status, status.stage == .relayed || status.stage == .failed { return status }
        try await Task.sleep(for: .milliseconds(250))
    }
    throw ValidationError("the message was not relayed within \(timeout) s (last: \(last))")
}

/// `tributary msg status ID`.
struct MsgStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "A message's state: sent → inOutput → finalized → relayed | failed (bounced).")

    @Option(help: "The source rollup node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @OptionGroup var options: MsgOptions

    @Argument(help: "The message id.")
    var id: String

    func run() async throws {
        guard let messageID = try? Hash(hex: id) else { throw ValidationError("the message id must be 32 bytes of hex") }
        guard let status = try await RollupClient(url: rpc).messageStatus(messageID)?.json else {
            throw ValidationError("no message \(id) on \(rpc)")
        }
        try options.print(status) {
            summary(
                status,
                [
                    "id", "status", "source", "destination", "nonce", "sentInBlock", "output", "blocksLeft",
                    "windowEndsAt", "relay", "returnMessage", "destinationUnreachable",
                ])
        }
    }
}

/// `tributary msg relay ID`: anyone can relay.
struct MsgRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay", abstract: "Relay a message by hand: proven against its source's newest final output.")

    @OptionGroup var options: MsgOptions

    @Argument(help: "The message id.")
    var id: String

    @Option(help: "The source rollup (name or id).")
    var source: String

    @Option(help: "Who signs and pays the fee on the destination: devN or a 0x… key seed.")
    var from: String

    @Option(help: "The L1's JSON-RPC URL (default: the genesis's).")
    var l1: String?

    @Option(help: "Seconds to wait for the receipt.")
    var timeout = 60.0

    func run() async throws {
        let genesis = try options.load()
        let source = try options.rollup(self.source, in: genesis)
        guard let messageID = try? Hash(hex: id) else { throw ValidationError("the message id must be 32 bytes of hex") }
        let sourceRPC = RollupClient(url: source.rpc)
        guard let sent = try await sourceRPC.message(messageID) else {
            throw ValidationError("\(source.name) sent no message \(id)")
        }
        let m = sent.message, height = sent.height
        guard let destination = genesis.rollup(id: m.destination) else {
            throw ValidationError("the message is for rollup \(m.destination), which the genesis does not have")
        }
        let outputs = try await L1Client(url: l1 ?? genesis.l1.rpc).outputs(rollup: source.id)
        guard let final = outputs.last(where: { $0.status == .finalized }), final.output.l2Height >= height else {
            throw ValidationError(
                "no finalized output of \(source.name) covers block \(height) yet: wait for its window")
        }
        guard let proof = try await sourceRPC.messageProof(messageID, through: final.output.l2Height)?.proof else {
            throw ValidationError("no proof from \(source.rpc)")
        }
        let key = try resolveKey(from, seed: options.devSeed)
        let destRPC = RollupClient(url: destination.rpc)
        let txID = try await destRPC.submit(
            .relayMessage(message: m, proof: proof, outputIndex: final.index), key: key, fee: nil
        ).id
        let receipt = try await waitForReceipt(destRPC, txID, timeout: timeout)
        try options.print(receipt.json) {
            summary(receipt.json, ["transaction", "status", "message", "returnMessage", "blockHeight"])
        }
        if !receipt.success { throw ExitCode(2) }
    }
}

/// `tributary msg list --rollup beta`.
struct MsgListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The messages a rollup sent, with their state.")

    @OptionGroup var options: MsgOptions

    @Option(help: "The rollup (name or id).")
    var rollup: String

    @Option(help: "At most this many, from the newest.")
    var limit = 50

    func run() async throws {
        let genesis = try options.load()
        let r = try options.rollup(rollup, in: genesis)
        let rpc = RollupClient(url: r.rpc)
        let page = try await rpc.messages(to: nil, fromNonce: 0, through: nil, limit: 1000)
        let sent = Array((page?.messages ?? []).map(\.sent).suffix(limit))
        var rows = [["nonce", "id", "to", "target", "value", "status"]]
        var out: [JSONValue] = []
        for item in sent {
            let m = item.message
            let status = try? await rpc.messageStatus(m.id)
            out.append(.object(["message": item.json, "status": status.flatMap { $0 }?.json ?? .null]))
            let value = m.value.map { "\($0.amount):\($0.asset.rawValue)" }.joined(separator: ",")
            rows.append([
                "\(m.nonce)", String(m.id.hex.prefix(18)) + "…", genesis.rollup(id: m.destination)?.name ?? "?", m.target,
                value.isEmpty ? "-" : value, status.flatMap { $0 }?.stage.rawValue ?? "-",
            ])
        }
        try options.print(.array(out)) { rows.count == 1 ? "\(r.name) sent no messages" : table(rows) }
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// `tributary escrow …`: the escrow module's locks (made by `msg send --target escrow`).
struct EscrowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "escrow", abstract: "Show, claim or refund hash- and time-locked escrow locks.",
        subcommands: [EscrowShowCommand.self, EscrowClaimCommand.self, EscrowRefundCommand.self])
}

struct EscrowShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "A lock on the rollup at --rpc (its id is the id of the message that made it).")

    @Option(help: "The rollup node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @OptionGroup var options: MsgOptions

    @Argument(help: "The lock id.")
    var id: String

    func run() async throws {
        guard let lockID = try? Hash(hex: id) else { throw ValidationError("the lock id must be 32 bytes of hex") }
        guard let lock = try await RollupClient(url: rpc).escrow(lockID)?.json else {
            throw ValidationError("no lock \(id) on \(rpc) (never made, claimed or refunded)")
        }
        try options.print(lock) {
            summary(lock, ["id", "beneficiary", "value", "hashLock", "timeout", "source", "sender"])
        }
    }
}

struct EscrowClaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Release a lock to its beneficiary with the hash lock's preimage, before its timeout.")

    @Option(help: "The rollup node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @OptionGroup var options: MsgOptions

    @Argument(help: "The lock id.")
    var id: String

    @Option(help: "The preimage, hex.")
    var preimage: String

    @Option(help: "Who signs and pays the fee: devN or a 0x… key seed.")
    var from: String

    func run() async throws {
        guard let lock = try? Hash(hex: id) else { throw ValidationError("the lock id must be 32 bytes of hex") }
        let secret = try Hex.decode(preimage)
        let client = RollupClient(url: rpc)
        let tx = try await client.submit(
            .escrowClaim(id: lock, preimage: secret), key: try resolveKey(from, seed: options.devSeed)
        ).id
        let receipt = try await waitForReceipt(client, tx, timeout: 60)
        try options.print(receipt.json) { summary(receipt.json, ["transaction", "status", "blockHeight"]) }
        if !receipt.success { throw ExitCode(2) }
    }
}

struct EscrowRefundCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refund", abstract: "Send an expired lock's value back to its sender (anyone may).")

    @Option(help: "The rollup node's JSON-RPC URL.")
    var rpc = "http://127.0.0.1:9545"

    @OptionGroup var options: MsgOptions

    @Argument(help: "The lock id.")
    var id: String

    @Option(help: "Who signs and pays the fee: devN or a 0x… key seed.")
    var from: String

    func run() async throws {
        guard let lock = try? Hash(hex: id) else { throw ValidationError("the lock id must be 32 bytes of hex") }
        let client = RollupClient(url: rpc)
        let tx = try await client.submit(.escrowRefund(id: lock), key: try resolveKey(from, seed: options.devSeed)).id
        let receipt = try await waitForReceipt(client, tx, timeout: 60)
        try options.print(receipt.json) {
            summary(receipt.json, ["transaction", "status", "returnMessage", "blockHeight"])
        }
        if !receipt.success { throw ExitCode(2) }
    }
}
