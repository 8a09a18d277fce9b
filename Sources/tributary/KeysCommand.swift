import ArgumentParser
import Config
import Foundation
import Primitives

/// `tributary keys …`: the insecure development keys of the published seed.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Show development keys (insecure by design).", subcommands: [DevKeysCommand.self]
    )
}

/// `tributary keys dev`.
struct DevKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "List the prefunded dev accounts: name, address and private key seed.",
        discussion: "Derived from a published seed: anyone can derive them. Never use them for anything of value.")

    @Option(help: "How many accounts.")
    var count = 10

    @Option(help: "The dev seed.")
    var seed = DevKeys.publishedSeed

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let accounts = (0..<count).map { i -> JSONValue in
            let key = DevKeys.account(i, seed: seed)
            return .object([
                "name": .string("dev\(i)"), "address": .string(key.address.hex),
                "publicKey": .string(key.publicKey.hex),
                "privateKey": .string("0x" + Hex.encode(key.seed)),
            ])
        }
        if json {
            print(String(decoding: try JSONValue.array(accounts).serialized(), as: UTF8.self))
            return
        }
        print("Dev accounts (INSECURE: derived from the published seed \"\(seed)\")")
        for account in accounts {
            print(
                "  \(render(account["name"]!).padding(toLength: 6, withPad: " ", startingAt: 0)) \(render(account["address"]!))  key \(render(account["privateKey"]!))"
            )
        }
    }
}
