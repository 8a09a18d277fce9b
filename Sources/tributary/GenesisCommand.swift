import ArgumentParser
import Config
import Foundation

/// `tributary genesis …`: read a genesis file.
struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis", abstract: "Validate a genesis file and list what it defines.",
        subcommands: [GenesisRollupsCommand.self])
}

/// `tributary genesis rollups`: one line per rollup, for scripts.
struct GenesisRollupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollups", abstract: "Validate the genesis and print `name id rpc-url native-asset` per rollup.")

    @Option(help: "The genesis file.")
    var genesis = "Genesis/devnet.json"

    func run() throws {
        let parsed: Genesis
        do { parsed = try Genesis.load(path: genesis) } catch let error as ConfigError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        for rollup in parsed.rollups {
            print("\(rollup.name) \(rollup.id) \(rollup.rpc) \(rollup.nativeAsset)")
        }
    }
}
