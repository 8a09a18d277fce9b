import ArgumentParser
import Config
import Foundation
import Primitives

/// `tributary genesis …`: read a genesis file.
struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis", abstract: "Validate a genesis file and list what it defines.",
        subcommands: [GenesisL1Command.self, GenesisRollupsCommand.self, GenesisGenerateCommand.self])
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

/// `tributary genesis l1`: the L1's line, for scripts.
struct GenesisL1Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l1",
        abstract: "Validate the genesis and print `l1 rpc-url block-time-ms fraud-window-blocks` for the L1.")

    @Option(help: "The genesis file.")
    var genesis = "Genesis/devnet.json"

    func run() throws {
        let parsed: Genesis
        do { parsed = try Genesis.load(path: genesis) } catch let error as ConfigError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        print("l1 \(parsed.l1.rpc) \(parsed.l1.blockTimeMs) \(parsed.l1.fraudWindowBlocks)")
    }
}

/// `tributary genesis generate`: a devnet genesis with N rollups.
struct GenesisGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Write a devnet genesis with N rollups (alpha, beta, gamma, …).",
        discussion: "Rollup i listens on --base-port + i; its native asset is its name in capitals.")

    @Option(help: "How many rollups (1-64).")
    var rollups = 3

    @Option(help: "The first rollup's RPC port.")
    var basePort = 9545

    @Option(help: "The L1's RPC port.")
    var l1Port = 8545

    @Option(help: "Rollup block time in ms.")
    var blockTimeMs = 500

    @Option(help: "L1 block time in ms.")
    var l1BlockTimeMs = 1000

    @Option(help: "Fraud-proof window in L1 blocks.")
    var fraudWindowBlocks = 10

    @Option(help: "Blocks between output proposals.")
    var outputIntervalBlocks = 10

    @Option(help: "zstd level of batches.")
    var zstdLevel = 3

    @Option(help: "Where to write it (default: standard output).")
    var out: String?

    func validate() throws {
        guard (1...64).contains(rollups) else { throw ValidationError("--rollups must be 1-64") }
        guard basePort > 0, basePort + rollups <= 65535, (1...65535).contains(l1Port) else {
            throw ValidationError("ports must fit 1-65535")
        }
        guard !(basePort..<(basePort + rollups)).contains(l1Port) else {
            throw ValidationError("--l1-port collides with a rollup port")
        }
    }

    func run() throws {
        var builder = GenesisBuilder(rollups: rollups, basePort: basePort, l1Port: l1Port)
        builder.l1.blockTimeMs = l1BlockTimeMs
        builder.l1.fraudWindowBlocks = fraudWindowBlocks
        builder.eachRollup {
            $0.blockTimeMs = blockTimeMs
            $0.outputIntervalBlocks = outputIntervalBlocks
            $0.zstdLevel = zstdLevel
        }
        // Whatever is written must load: the builder validates it like any other genesis.
        let data: Data
        do { data = try builder.data() } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        if let out {
            try data.write(to: URL(fileURLWithPath: out))
        } else {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
