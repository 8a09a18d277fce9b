import API
import ArgumentParser
import Config
import Foundation
import Primitives
import RPC

/// `tributary tx …`: build, sign and send transactions.
struct TxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tx", abstract: "Build, sign and send transactions.", subcommands: [TransferCommand.self])
}

/// `tributary tx transfer`.
struct TransferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer", abstract: "Send an asset to an address.",
        discussion:
            "--from takes a dev account name (dev0, dev1, …; insecure keys from the published dev seed) or a 32-byte hex key seed."
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "The sender: devN or a 0x… 32-byte key seed.")
    var from: String

    @Option(help: "The recipient's address (0x… 20 bytes) or a dev account name.")
    var to: String

    @Option(help: "The asset's name (e.g. ALPHA).")
    var asset: String

    @Option(help: "The amount, in the asset's smallest unit.")
    var amount: UInt64

    @Option(help: "The fee, paid in the rollup's native asset (default: the node's minimum for the transaction's size).")
    var fee: UInt64?

    @Option(help: "The seed of dev account names.")
    var devSeed = DevKeys.publishedSeed

    @Flag(help: "Wait until the transaction is in a block and print its receipt.")
    var wait = false

    @Option(help: "Seconds to wait with --wait.")
    var timeout = 60.0

    func run() async throws {
        let key = try resolveKey(from, seed: devSeed)
        let recipient = try resolveAddress(to, seed: devSeed)
        guard let assetName = AssetName(rawValue: asset) else {
            throw ValidationError("\"\(asset)\" is not an asset name")
        }
        let rpc = client.client
        let (id, nonce) = try await rpc.submit(
            .transfer(to: recipient, asset: assetName, amount: amount), key: key, fee: fee)
        guard wait else {
            try client.output(.object(["id": .string(id.hex), "nonce": .number(nonce)])) { _ in
                "sent \(id) (nonce \(nonce))"
            }
            return
        }
        let receipt = try await waitForReceipt(rpc, id, timeout: timeout)
        try client.output(receipt.json) {
            summary($0, ["transaction", "status", "feePaid", "blockHeight", "blockHash", "index"])
        }
        if !receipt.success { throw ExitCode(2) }
    }
}

/// `tributary account`.
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Show an account's nonce and balances.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The address (0x… 20 bytes) or a dev account name.")
    var address: String

    @Option(parsing: .upToNextOption, help: "Assets to show (default: the rollup's native asset).")
    var assets: [String] = []

    @Flag(help: "Include state proofs against the state root.")
    var proof = false

    @Option(help: "The seed of dev account names.")
    var devSeed = DevKeys.publishedSeed

    func run() async throws {
        let target = try resolveAddress(address, seed: devSeed)
        var names: [AssetName]?
        if !assets.isEmpty {
            names = try assets.map { name in
                guard let asset = AssetName(rawValue: name) else { throw ValidationError("\"\(name)\" is not an asset name") }
                return asset
            }
        }
        let account = try await client.client.account(target, assets: names, proof: proof).json
        try client.output(account) {
            summary($0, ["address", "nonce", "pendingNonce", "balances", "height", "stateRoot"])
        }
    }
}

/// `tributary block`.
struct BlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block", abstract: "Show a block by height, hash or \"latest\".")

    @OptionGroup var client: ClientOptions

    @Argument(help: "A height, a block hash, or latest.")
    var block = "latest"

    @Flag(help: "Include whole transactions, not only their ids.")
    var full = false

    func run() async throws {
        let selector: BlockSelector
        if let height = UInt64(block) {
            selector = .height(height)
        } else if block == "latest" {
            selector = .latest
        } else if let hash = try? Hash(hex: block) {
            selector = .hash(hash)
        } else {
            throw ValidationError("\"\(block)\" is neither a height, a 32-byte block hash nor latest")
        }
        guard let result = try await client.client.block(selector, full: full)?.json else {
            throw ValidationError("no block \(block)")
        }
        try client.output(result) {
            summary($0, ["height", "hash", "parent", "timestamp", "stateRoot", "transactionsRoot", "receiptsRoot"])
                + "\ntransactions: \(($0["transactions"]).map { if case .array(let a) = $0 { return a.count } else { return 0 } } ?? 0)"
        }
    }
}

/// A signing key from `devN` or a hex seed.
func resolveKey(_ text: String, seed: String) throws -> SigningKey {
    if text.hasPrefix("dev"), let index = Int(text.dropFirst(3)), index >= 0 {
        return DevKeys.account(index, seed: seed)
    }
    guard let bytes = try? Hex.decode(text, count: 32), let key = SigningKey(seed: bytes) else {
        throw ValidationError("\"\(text)\" is neither a dev account (dev0, dev1, …) nor a 32-byte hex key seed")
    }
    return key
}

/// An address from hex or a dev account name.
func resolveAddress(_ text: String, seed: String) throws -> Address {
    if text.hasPrefix("dev"), let index = Int(text.dropFirst(3)), index >= 0 {
        return DevKeys.account(index, seed: seed).address
    }
    guard let address = try? Address(hex: text) else {
        throw ValidationError("\"\(text)\" is not a 20-byte hex address or devN")
    }
    return address
}

/// `tributary status`: one line about a rollup node, for people and scripts.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "A rollup node in one line: mode, head, what of it is in DA and finalized on the L1, and how far behind the L1 it is."
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let status = try await client.client.status()
        var line = "\(status.name) \(status.mode.rawValue) head=\(status.head.height)"
        if let l1 = status.l1 {
            line += " da=\(l1.daHeight.map(String.init) ?? "-") finalized=\(l1.finalizedHeight.map(String.init) ?? "-")"
            if let head = try? await L1Client(url: l1.url).blockNumber() {
                line += " l1-lag=\(head >= l1.height ? head - l1.height : 0)"
            } else {
                line += " l1=unreachable"
            }
            if let fault = l1.firstFault { line += " first-fault=\(fault)" }
        }
        try client.output(status.json) { _ in line }
    }
}
