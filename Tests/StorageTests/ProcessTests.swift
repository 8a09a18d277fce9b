import CLMDB
import Foundation
@testable import Storage
import Testing
import TributaryTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Tests with a second process on the same store: forked children using LMDB's C API, and lmdb-utils.
/// Serialized: fork() is best done while this suite's other tests are not starting processes.
@Suite(.serialized) struct ProcessTests {
    @Test func openingClearsReaderSlotsLeftByADeadProcess() throws {
        let dir = try TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path)
            try env.write { try $0.put(Numbers.self, 1, "one") }
        }
        guard let path = strdup(dir.path) else { throw CocoaError(.fileWriteUnknown) }
        defer { free(path) }

        // Keeps the store open, so that its lock file (with the reader table) is not reset by the next opener.
        let holder = ForkedChild.start { signal, wait in
            guard childOpenEnvironment(path, readOnly: false) != nil else { _exit(2) }
            signal()
            wait()
            _exit(0)
        }
        #expect(holder.waitForSignal())
        // Dies inside a read transaction, leaving its reader slot behind.
        let reader = ForkedChild.start { signal, _ in
            guard let env = childOpenEnvironment(path, readOnly: true) else { _exit(2) }
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0 else { _exit(3) }
            signal()
            kill(getpid(), SIGKILL)
            _exit(4)
        }
        #expect(reader.waitForSignal())
        #expect(reader.join() == 128 + SIGKILL)

        // mdb_stat -r exits with 1 even when it printed the table (it returns fputs' result), so only the output counts.
        let before = try Command.run("mdb_stat", ["-r", dir.path])
        #expect(before.output.contains("Reader Table Status"), "\(before.stderr)")
        #expect(readerPIDs(before.output).contains(reader.pid), "the dead reader's slot is in the table")

        let logs = CapturedLogs()
        let env = try Environment(path: dir.path, options: .init(logger: logs.logger))
        #expect(env.staleReadersClearedAtOpen == 1)
        let record = logs.records.first { $0.message == "cleared stale readers" }
        #expect(record?.level == .info)
        #expect(record?.metadata["storage.stale_readers"]?.description == "1")

        let after = try Command.run("mdb_stat", ["-r", dir.path])
        #expect(!readerPIDs(after.output).contains(reader.pid))
        #expect(try env.clearStaleReaders() == 0)
        #expect(try env.read { try $0.get(Numbers.self, 1) } == "one")

        holder.release()
        #expect(holder.join() == 0)
    }

    @Test func aReadOnlyEnvironmentReadsWhileAnotherProcessWrites() throws {
        let dir = try TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path)
            try env.write { try $0.put(Numbers.self, 1, "committed") }
        }
        guard let path = strdup(dir.path) else { throw CocoaError(.fileWriteUnknown) }
        defer { free(path) }

        // Opens the store for writing and holds a write transaction open until told to commit.
        let writer = ForkedChild.start { signal, wait in
            guard let env = childOpenEnvironment(path, readOnly: false) else { _exit(2) }
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, 0, &txn) == 0 else { _exit(3) }
            var dbi: MDB_dbi = 0
            guard mdb_dbi_open(txn, "numbers", 0, &dbi) == 0 else { _exit(4) }
            var keyBytes: UInt64 = UInt64(2).bigEndian
            var valueBytes: (UInt8, UInt8, UInt8) = (0x6E, 0x65, 0x77)  // "new"
            let rc = withUnsafeMutableBytes(of: &keyBytes) { keyBuffer in
                withUnsafeMutableBytes(of: &valueBytes) { valueBuffer in
                    var key = MDB_val(mv_size: 8, mv_data: keyBuffer.baseAddress)
                    var value = MDB_val(mv_size: 3, mv_data: valueBuffer.baseAddress)
                    return mdb_put(txn, dbi, &key, &value, 0)
                }
            }
            guard rc == 0 else { _exit(5) }
            signal()
            wait()
            guard mdb_txn_commit(txn) == 0 else { _exit(6) }
            mdb_env_close(env)
            _exit(0)
        }
        #expect(writer.waitForSignal())

        let env = try Environment(path: dir.path, options: .init(readOnly: true))
        try env.read { txn throws in
            #expect(try txn.get(Numbers.self, 1) == "committed")
            #expect(try txn.get(Numbers.self, 2) == nil, "the writer has not committed")
        }
        do {
            try env.write { _ in }
            Issue.record("a read-only environment wrote")
        } catch StorageError.readOnly {
        }
        writer.release()
        #expect(writer.join() == 0)
        #expect(try env.read { try $0.get(Numbers.self, 2) } == "new", "a new snapshot sees the commit")
    }

    @Test(arguments: [true, false])
    func aTableCreatedByAnotherProcessBecomesReadable(readOnly: Bool) throws {
        let dir = try TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path)
            try env.write { try $0.put(Numbers.self, 1, "one") }
        }
        let env = try Environment(path: dir.path, options: .init(readOnly: readOnly))
        #expect(try env.tableNames() == ["numbers"])

        let dump = """
            VERSION=3
            format=bytevalue
            type=btree
            HEADER=END
             \(hex(Array("apples".utf8)))
             \(hex([0, 0, 0, 5]))
            DATA=END

            """
        let load = try Command.run("mdb_load", ["-s", "counters", dir.path], input: Array(dump.utf8))
        #expect(load.status == 0, "\(load.stderr)")

        // A transaction that read another table first cannot switch snapshots to open the new one; it says so.
        do {
            try env.read { txn throws in
                #expect(try txn.get(Numbers.self, 1) == "one")
                _ = try txn.get(Counters.self, "apples")
            }
            Issue.record("a transaction used a table created after its snapshot was observed")
        } catch StorageError.tableUnavailable(let table) {
            #expect(table == "counters")
        }
        try env.read { txn throws in
            #expect(try txn.get(Counters.self, "apples") == 5)
            #expect(try txn.get(Numbers.self, 1) == "one")
        }

        // A transaction whose first access is the new table opens it without the caller noticing.
        let blobDump = dump.replacingOccurrences(of: hex(Array("apples".utf8)), with: "0102")
        let blobLoad = try Command.run("mdb_load", ["-s", "blobs", dir.path], input: Array(blobDump.utf8))
        #expect(blobLoad.status == 0, "\(blobLoad.stderr)")
        try env.read { txn throws in
            #expect(try txn.get(Blobs.self, [1, 2]) == [0, 0, 0, 5])
            #expect(try txn.get(Counters.self, "apples") == 5)
        }
        #expect(try env.tableNames() == ["blobs", "counters", "numbers"])
        #expect(try env.stat(table: "counters")?.entries == 1)
        if !readOnly {
            try env.write { try $0.put(Counters.self, "pears", 2) }
            #expect(try env.read { try $0.count(Counters.self) } == 2)
        }
    }

    @Test(arguments: [true, false])
    func aMapGrownByAnotherProcessIsAdopted(readOnly: Bool) throws {
        let dir = try TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20))
            try env.write { try $0.put(Numbers.self, 1, "one") }
        }
        let logs = CapturedLogs()
        let env = try Environment(
            path: dir.path, options: .init(initialMapSize: 1 << 20, readOnly: readOnly, logger: logs.logger))
        #expect(try env.info().mapSize == 1 << 20)
        #expect(try env.read { try $0.get(Numbers.self, 1) } == "one")

        guard let path = strdup(dir.path) else { throw CocoaError(.fileWriteUnknown) }
        defer { free(path) }
        // Grows the map to 16 MiB and writes 4 MiB, beyond this process's 1 MiB map.
        let grower = ForkedChild.start { _, _ in
            var env: OpaquePointer?
            guard mdb_env_create(&env) == 0, let env else { _exit(2) }
            mdb_env_set_maxdbs(env, 64)
            mdb_env_set_mapsize(env, 16 << 20)
            guard mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o644) == 0 else { _exit(3) }
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, 0, &txn) == 0 else { _exit(4) }
            var dbi: MDB_dbi = 0
            guard mdb_dbi_open(txn, "numbers", 0, &dbi) == 0 else { _exit(5) }
            guard let buffer = calloc(4 << 20, 1) else { _exit(6) }
            var keyBytes: UInt64 = UInt64(2).bigEndian
            let rc = withUnsafeMutableBytes(of: &keyBytes) { keyBuffer in
                var key = MDB_val(mv_size: 8, mv_data: keyBuffer.baseAddress)
                var value = MDB_val(mv_size: 4 << 20, mv_data: buffer)
                return mdb_put(txn, dbi, &key, &value, 0)
            }
            guard rc == 0, mdb_txn_commit(txn) == 0 else { _exit(7) }
            mdb_env_close(env)
            _exit(0)
        }
        #expect(grower.join() == 0)

        try env.read { txn throws in
            #expect(try txn.get(Numbers.self, 1) == "one")
            #expect(try txn.withValueBytes(Numbers.self, 2) { $0.count } == 4 << 20)
        }
        #expect(try env.info().mapSize == 16 << 20)
        let adopted = logs.records.first { $0.message == "adopted map size set by another process" }
        #expect(adopted?.metadata["storage.map_size"]?.description == "\(16 << 20)")
        if !readOnly {
            try env.write { try $0.put(Numbers.self, 3, "three") }
            #expect(try env.read { try $0.get(Numbers.self, 3) } == "three")
        }
    }

    /// The PIDs in `mdb_stat -r` output.
    private func readerPIDs(_ output: String) -> [pid_t] {
        output.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.flatMap { pid_t($0) }
        }
    }
}
