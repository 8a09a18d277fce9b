import API
import ArgumentParser
import Config
import Foundation
import Node
import L1Chain
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

struct SnapshotVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check a snapshot: checksums, then reopen its store and recompute the state root against the manifest.",
        discussion:
            "With --l1, also check the store against the L1: its head at or below the rollup's DA height and equal to the block posted there, its batch records equal to the L1's blobs. Exits 1 with the problem named when anything differs."
    )
    @Argument(help: "The snapshot file.") var file: String
    @Option(help: "The genesis file of the snapshot's rollup.") var genesis = "Genesis/devnet.json"
    @Flag(help: "Also re-execute every block of the snapshot.") var full = false
    @Option(help: "Check the snapshot against this L1 node (its JSON-RPC URL).") var l1: String?
    @Option(help: "Where to unpack it for the checks (default: next to the file).") var tmpdir: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var failed = false
        try await reportAsync {
            let progress = Progress(enabled: !json)
            defer { progress.finish() }
            let genesis = try loadGenesis(genesis)
            let result =
                if let l1 {
                    try await Snapshot.verify(
                        file: file, genesis: genesis, full: full, l1: L1Client(url: l1), tmpdir: tmpdir,
                        progress: progress.sink)
                } else {
                    try Snapshot.verify(file: file, genesis: genesis, full: full, tmpdir: tmpdir, progress: progress.sink)
                }
            failed = !result.ok
            try printJSON(result.json, json: json) {
                if let problem = result.problem { return "FAILED: \(problem)" }
                let m = result.manifest
                var line =
                    "ok: \(m.rollupName) at height \(m.height): checksums match; the store reopens, its state root \(m.stateRoot) is recomputed from \(result.report?.stateNodes ?? 0) state nodes and \(result.report?.stateValues ?? 0) values"
                    + (full ? "; every block re-executed" : "")
                if let check = result.l1 {
                    line +=
                        "; matches the L1 (DA height \(check.daHeight), \(check.batchesCompared) batch records, block \(check.comparedHeight.map(String.init) ?? "none") compared)"
                }
                return line
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct SnapshotRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot into a new data directory; a node started on it catches up from the L1.",
        discussion:
            "With --l1, the restored store is checked against that L1 as `snapshot verify --l1` does, and removed again if it diverges (a node refuses to start on such a store anyway)."
    )
    @Argument(help: "The snapshot file.") var file: String
    @Option(help: "The new data directory (missing or empty).") var datadir: String
    @Option(help: "Check the restored store against this L1 node (its JSON-RPC URL).") var l1: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportAsync {
            var value: JSONValue
            let manifest: SnapshotManifest
            if let l1 {
                let restored = try await Snapshot.restore(file: file, datadir: datadir, l1: L1Client(url: l1))
                manifest = restored.manifest
                value = manifest.json
                if case .object(var o) = value {
                    o["l1"] = restored.l1.json
                    value = .object(o)
                }
            } else {
                manifest = try Snapshot.restore(file: file, datadir: datadir)
                value = manifest.json
            }
            try printJSON(value, json: json) {
                "restored \(manifest.rollupName) at height \(manifest.height) into \(datadir)"
                    + (l1 == nil ? "" : ", checked against the L1") + "; start its node there to catch up from the L1"
            }
        }
    }
}
