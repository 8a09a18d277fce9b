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

/// Waits for the receipt of `id` on `rpc`.
func waitForReceipt(_ rpc: RPCClient, _ id: JSONValue, timeout: Double) async throws -> JSONValue {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let receipt = try await rpc.call(RollupMethod.getReceipt, [id])
        if receipt != .null { return receipt }
        if let info = try? await rpc.call(RollupMethod.getTransaction, [id]), info["status"]?.stringValue == "dropped" {
            throw ValidationError("transaction \(render(id)) was dropped: \(info["reason"]?.stringValue ?? "")")
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ValidationError("transaction \(render(id)) was not included within \(timeout) s")
}

/// Signs `call` for the node at `rpc` with the sender's pending nonce and sends it
/// (`RollupClient.submit`): the transaction id and the nonce it took. Without a `fee`, pays the
/// node's mempool price (`minFeePerByte` in `rollup_status`) for the transaction's size.
func sendCall(_ call: Call, key: SigningKey, fee: UInt64?, rpc: RPCClient) async throws -> (
    id: JSONValue, nonce: UInt64
) {
    let (id, nonce) = try await RollupClient(transport: rpc).submit(call, key: key, fee: fee)
    return (.string(id.hex), nonce)
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
        let client = RPCClient(url: rpc)
        let call = Call.sendMessage(
            destination: destination.id, target: target, recipient: recipient, value: try parseValue(), payload: bytes)
        let txID = try await sendCall(call, key: key, fee: fee, rpc: client).id
        let receipt = try await waitForReceipt(client, txID, timeout: timeout)
        guard receipt["success"]?.boolValue == true, let messageID = receipt["message"], messageID != .null else {
            try options.print(receipt) {
                "not sent: \(render(receipt["status"] ?? .null)) (transaction \(render(txID)))"
            }
            throw ExitCode(2)
        }
        if !wait {
            try options.print(
                .object(["transaction": txID, "message": messageID, "blockHeight": receipt["blockHeight"] ?? .null])
            ) {
                "message \(render(messageID)) sent in block \(render(receipt["blockHeight"] ?? .null))"
            }
            return
        }
        if !options.json {
            print("message \(render(messageID)) sent in block \(render(receipt["blockHeight"] ?? .null))")
        }
        let final = try await follow(messageID, rpc: client, timeout: timeout, quiet: options.json)
        if options.json { try options.print(final) { "" } }
        if final["status"]?.stringValue != "relayed" { throw ExitCode(2) }
    }
}

/// Polls `rollup_getMessageStatus` until the message is relayed or failed, printing each change.
func follow(_ id: JSONValue, rpc: RPCClient, timeout: Double, quiet: Bool) async throws -> JSONValue {
    let deadline = Date().addingTimeInterval(timeout)
    var last = ""
    while Date() < deadline {
        let status = try await rpc.call(RollupMethod.getMessageStatus, [id])
        let state = status["status"]?.stringValue ?? "unknown"
        var line = state
        if state == "inOutput" {
            line =
                "in output \(render(status["output"] ?? .null)): \(render(status["blocksLeft"] ?? .null)) L1 blocks left in the fraud-proof window"
        } else if state == "failed" {
            line =
                "failed at the target (\(render(status["relay"] ?? .null))); value bounced by \(render(status["returnMessage"] ?? .null))"
        }
        if line != last, !quiet { print(line) }
        last = line
        if state == "relayed" || state == "failed" { return status }
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
        let status = try await RPCClient(url: rpc).call(RollupMethod.getMessageStatus, [.string(id)])
        guard status != .null else { throw ValidationError("no message \(id) on \(rpc)") }
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
        let sourceRPC = RPCClient(url: source.rpc)
        let message = try await sourceRPC.call(RollupMethod.getMessage, [.string(id)])
        guard message != .null, let encoded = message["encoded"]?.stringValue,
            let height = message["height"]?.unsignedValue
        else { throw ValidationError("\(source.name) sent no message \(id)") }
        let m = try Message(canonicalBytes: try Hex.decode(encoded))
        guard let destination = genesis.rollup(id: m.destination) else {
            throw ValidationError("the message is for rollup \(m.destination), which the genesis does not have")
        }
        let outputs = try await L1Client(url: l1 ?? genesis.l1.rpc).outputs(rollup: source.id)
        guard let final = outputs.last(where: { $0.status == .finalized }), final.output.l2Height >= height else {
            throw ValidationError(
                "no finalized output of \(source.name) covers block \(height) yet: wait for its window")
        }
        let answer = try await sourceRPC.call(RollupMethod.getMessageProof, [.string(id), .number(final.output.l2Height)])
        guard let p = answer["proof"]?["encoded"]?.stringValue else {
            throw ValidationError("no proof from \(source.rpc)")
        }
        let proof = try OutboxProof(canonicalBytes: try Hex.decode(p))
        let key = try resolveKey(from, seed: options.devSeed)
        let destRPC = RPCClient(url: destination.rpc)
        let txID = try await sendCall(
            .relayMessage(message: m, proof: proof, outputIndex: final.index), key: key, fee: nil, rpc: destRPC
        ).id
        let receipt = try await waitForReceipt(destRPC, txID, timeout: timeout)
        try options.print(receipt) {
            summary(receipt, ["transaction", "status", "message", "returnMessage", "blockHeight"])
        }
        if receipt["success"]?.boolValue != true { throw ExitCode(2) }
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
        let rpc = RPCClient(url: r.rpc)
        let all = try await rpc.call(RollupMethod.getMessages, [.null, .number(0), .null, .number(1000)])
        var items = all["messages"]?.arrayValue ?? []
        items = Array(items.suffix(limit))
        var rows = [["nonce", "id", "to", "target", "value", "status"]]
        var out: [JSONValue] = []
        for item in items {
            let id = item["id"] ?? .null
            let status = (try? await rpc.call(RollupMethod.getMessageStatus, [id])) ?? .null
            out.append(.object(["message": item, "status": status]))
            let to = genesis.rollup(id: RollupID(UInt32(item["destination"]?.unsignedValue ?? 0)))?.name ?? "?"
            let value = (item["value"]?.arrayValue ?? []).map {
                "\(render($0["amount"] ?? .null)):\(render($0["asset"] ?? .null))"
            }
            .joined(separator: ",")
            rows.append([
                render(item["nonce"] ?? .null), String(render(id).prefix(18)) + "…", to,
                render(item["target"] ?? .null),
                value.isEmpty ? "-" : value, render(status["status"] ?? .null),
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
        let lock = try await RPCClient(url: rpc).call(RollupMethod.getEscrow, [.string(id)])
        guard lock != .null else { throw ValidationError("no lock \(id) on \(rpc) (never made, claimed or refunded)") }
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
        let client = RPCClient(url: rpc)
        let tx = try await sendCall(
            .escrowClaim(id: lock, preimage: secret), key: try resolveKey(from, seed: options.devSeed), fee: nil,
            rpc: client
        ).id
        let receipt = try await waitForReceipt(client, tx, timeout: 60)
        try options.print(receipt) { summary(receipt, ["transaction", "status", "blockHeight"]) }
        if receipt["success"]?.boolValue != true { throw ExitCode(2) }
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
        let client = RPCClient(url: rpc)
        let tx = try await sendCall(
            .escrowRefund(id: lock), key: try resolveKey(from, seed: options.devSeed), fee: nil, rpc: client
        ).id
        let receipt = try await waitForReceipt(client, tx, timeout: 60)
        try options.print(receipt) { summary(receipt, ["transaction", "status", "returnMessage", "blockHeight"]) }
        if receipt["success"]?.boolValue != true { throw ExitCode(2) }
    }
}
