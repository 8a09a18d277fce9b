import ArgumentParser
import Config
import Foundation
import Operator

/// `tributary snapshot …`: consistent, compacted, compressed copies of a rollup store.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Create, verify and restore rollup store snapshots (safe while the node runs).",
        subcommands: [SnapshotCreateCommand.self, SnapshotVerifyCommand.self, SnapshotRestoreCommand.self])
}

func printJSON(_ value: JSONValue, json: Bool, human: () -> String) throws {
    print(json ? String(decoding: try value.serialized(), as: UTF8.self) : human())
}

struct SnapshotCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract:
            "Snapshot a rollup store at its head, while its node runs: compacted, zstd-compressed, with a manifest.",
        discussion:
            "The store is copied in short read transactions (at most 4096 entries each), so the live store never pins old pages for long and block production never pauses."
    )
    @Option(help: "The rollup store's data directory.") var datadir: String
    @Option(help: "The snapshot file to write (must not exist).") var out: String
    @Option(help: "The genesis file the store was created from.") var genesis = "Genesis/devnet.json"
    @Option(help: "The zstd level.") var level: Int32 = 3
    @Option(help: "Where to build the copy (default: next to --out).") var tmpdir: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try report {
            let progress = Progress(enabled: !json)
            defer { progress.finish() }
            let manifest = try Snapshot.create(
                datadir: datadir, genesis: try loadGenesis(genesis), out: out, level: level, tmpdir: tmpdir,
                progress: progress.sink)
            try printJSON(manifest.json, json: json) {
                """
                snapshot of \(manifest.rollupName) at height \(manifest.height) written to \(out)
                block \(manifest.blockHash), state root \(manifest.stateRoot)
                data.mdb \(manifest.dataBytes) bytes (sha256 \(manifest.dataSHA256)), compressed \(manifest.compressedBytes) bytes (sha256 \(manifest.compressedSHA256))
                """
            }
        }
    }
}

struct SnapshotVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check a snapshot: checksums, then reopen its store and recompute the state root against the manifest.",
        discussion: "Exits 1 with the problem named when anything differs.")
    @Argument(help: "The snapshot file.") var file: String
    @Option(help: "The genesis file of the snapshot's rollup.") var genesis = "Genesis/devnet.json"
    @Flag(help: "Also re-execute every block of the snapshot.") var full = false
    @Option(help: "Where to unpack it for the checks (default: next to the file).") var tmpdir: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        var failed = false
        try report {
            let progress = Progress(enabled: !json)
            defer { progress.finish() }
            let result = try Snapshot.verify(
                file: file, genesis: try loadGenesis(genesis), full: full, tmpdir: tmpdir, progress: progress.sink)
            failed = !result.ok
            try printJSON(result.json, json: json) {
                if let problem = result.problem { return "FAILED: \(problem)" }
                let m = result.manifest
                return
                    "ok: \(m.rollupName) at height \(m.height): checksums match; the store reopens, its state root \(m.stateRoot) is recomputed from \(result.report?.stateNodes ?? 0) state nodes and \(result.report?.stateValues ?? 0) values"
                    + (full ? "; every block re-executed" : "")
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct SnapshotRestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot into a new data directory; a node started on it catches up from the L1.")
    @Argument(help: "The snapshot file.") var file: String
    @Option(help: "The new data directory (missing or empty).") var datadir: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try report {
            let manifest = try Snapshot.restore(file: file, datadir: datadir)
            try printJSON(manifest.json, json: json) {
                "restored \(manifest.rollupName) at height \(manifest.height) into \(datadir); start its node there to catch up from the L1"
            }
        }
    }
}
