import API
import Chain
import L1Chain
import Config
import Foundation
import Primitives
import StateMachine
import Storage

/// A problem an operator command reports: a clear sentence, exit status 1.
public struct OperatorError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Which node wrote a store, told by its tables.
public enum StoreKind: String, Sendable {
    /// A rollup node's store (`meta`, `headers`, `state_*`, `batches`, …).
    case rollup
    /// The L1 node's store (`l1_meta`, `l1_headers`, `blobs`, `outputs`, …).
    case l1
    /// An LMDB environment with neither.
    case unknown
}

/// A store opened read-only for inspection; safe while its node runs (LMDB readers never block the
/// writer).
public final class InspectedStore: @unchecked Sendable {
    public let path: String
    public let environment: Environment
    public let kind: StoreKind
    /// Entries read per read transaction by long scans (verify, diff): bounds how long one is held.
    public var chunkEntries = 4096

    /// Opens the LMDB environment in `datadir` read-only.
    public init(datadir: String) throws {
        guard FileManager.default.fileExists(atPath: datadir + "/data.mdb") else {
            throw OperatorError("\(datadir) is not an LMDB store (no data.mdb)")
        }
        var options = Environment.Options()
        options.readOnly = true
        path = datadir
        environment = try Environment(path: datadir, options: options)
        let names = Set(try environment.tableNames())
        if names.contains(L1Meta.name) {
            kind = .l1
        } else if names.contains(Meta.name) {
            kind = .rollup
        } else {
            kind = .unknown
        }
    }

    /// Fails unless the store is of `expected` kind.
    public func require(_ expected: StoreKind, for what: String) throws {
        guard kind == expected else {
            let other = expected == .rollup ? "an L1 store" : "a rollup store"
            throw OperatorError(
                "\(what) needs \(expected == .rollup ? "a rollup" : "an L1") store; \(path) is "
                    + (kind == .unknown ? "neither a rollup nor an L1 store" : other))
        }
    }

    /// The rollup store's head height, nil for other stores or an empty one.
    public func rollupHead() throws -> UInt64? {
        try environment.read { txn in try txn.get(Meta.self, Meta.head).flatMap { try? UInt64(canonicalBytes: $0) } }
    }

    /// The rollup a rollup store belongs to, from its genesis header.
    public func rollupID() throws -> RollupID {
        try require(.rollup, for: "this command")
        guard let genesis = try environment.read({ try $0.get(Headers.self, 0) }) else {
            throw OperatorError("\(path) holds no genesis header")
        }
        return genesis.rollup
    }

    /// The L1 store's head height.
    public func l1Head() throws -> UInt64? {
        try environment.read { txn in try txn.get(L1Meta.self, L1Meta.head).flatMap { try? UInt64(canonicalBytes: $0) }
        }
    }

    /// Opens the rollup chain of this store for the rollup of `genesis` it was created for.
    public func chain(genesis: Genesis) throws -> ChainStore {
        try require(.rollup, for: "this command")
        do {
            return try ChainStore(
                environment: environment, rollup: try rollup(genesis: genesis), network: Network(genesis))
        } catch let error as ChainError {
            throw OperatorError("\(error)")
        }
    }

    /// The rollup of `genesis` whose genesis block this store holds.
    public func rollup(genesis: Genesis) throws -> RollupParameters {
        let stored: Hash? = try environment.read { txn in
            try txn.get(Meta.self, Meta.genesis).flatMap { Hash(bytes: $0) }
        }
        guard let stored else {
            throw OperatorError("\(path) holds no rollup chain (no genesis hash in its meta table)")
        }
        for rollup in genesis.rollups where try rollup.genesisBlock().block.header.hash == stored {
            return rollup
        }
        throw OperatorError(
            "\(path) belongs to genesis block \(stored), which no rollup of the genesis file has: pass its --genesis")
    }
}

/// Loads a genesis file, turning its problems into one clear error.
public func loadGenesis(_ path: String) throws -> Genesis {
    do { return try Genesis.load(path: path) } catch let error as ConfigError {
        throw OperatorError(error.description)
    } catch {
        throw OperatorError("cannot read the genesis file \(path): \(error)")
    }
}
