import CLMDB
import Foundation
import Primitives
import Storage
import Testing
import TributaryTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Height -> payload, a typical integer-keyed table.
enum Blocks: Table {
    static let name = "blocks"
    typealias Key = UInt64
    typealias Value = [UInt8]
}

/// Name -> name, string-keyed.
enum Names: Table {
    static let name = "names"
    typealias Key = String
    typealias Value = String
}

/// Raw byte keys, for prefix scans.
enum RawTable: Table {
    static let name = "raw"
    typealias Key = [UInt8]
    typealias Value = [UInt8]
}

func openStore(_ dir: TemporaryDirectory, mapSize: Int = 64 << 20) throws -> Environment {
    var options = Environment.Options()
    options.initialMapSize = mapSize
    return try Environment(path: dir.path, options: options)
}

@Suite struct StorageTests {
    @Test func valuesRoundTripAndSurviveReopening() throws {
        let dir = try TemporaryDirectory("storage")
        do {
            let env = try openStore(dir)
            try env.write { (txn: WriteTransaction) throws in
                for h in UInt64(0)..<100 { try txn.put(Blocks.self, h, [UInt8](repeating: UInt8(h), count: Int(h))) }
                try txn.put(Names.self, "alpha", "α")
            }
            #expect(try env.read { try $0.get(Blocks.self, 42) } == [UInt8](repeating: 42, count: 42))
        }
        let env = try openStore(dir)
        try env.read { (txn: ReadTransaction) throws in
            #expect(try txn.count(Blocks.self) == 100)
            #expect(try txn.get(Names.self, "alpha") == "α")
            #expect(try txn.get(Blocks.self, 100) == nil)
            #expect(try txn.contains(Blocks.self, 99))
        }
        #expect(try env.write { try $0.delete(Blocks.self, 5) })
        #expect(try !env.write { try $0.delete(Blocks.self, 5) })
        #expect(try env.read { try $0.get(Blocks.self, 5) } == nil)
        let names = try env.tableNames()
        #expect(names == ["blocks", "names"], "\(names)")
    }

    struct Boom: Error {}

    @Test func aThrowingWriteClosureAbortsEverything() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { try $0.put(Blocks.self, 1, [1]) }
        #expect(throws: Boom.self) {
            try env.write { (txn: WriteTransaction) throws in
                try txn.put(Blocks.self, 2, [2])
                try txn.put(Blocks.self, 1, [9])
                throw Boom()
            }
        }
        try env.read { (txn: ReadTransaction) throws in
            #expect(try txn.get(Blocks.self, 1) == [1])
            #expect(try txn.get(Blocks.self, 2) == nil)
        }
    }

    @Test func transactionsAndCursorsCannotBeUsedAfterTheirScope() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        let leakedWrite = try env.write { (txn: WriteTransaction) throws in
            try txn.put(Blocks.self, 1, [1])
            return txn
        }
        #expect(throws: StorageError.transactionClosed) { try leakedWrite.put(Blocks.self, 2, [2]) }
        let leakedRead = try env.read { $0 }
        #expect(throws: StorageError.transactionClosed) { _ = try leakedRead.get(Blocks.self, 1) }
        let leakedCursor = try env.read { txn in try txn.cursor(Blocks.self) { $0 } }
        #expect(throws: StorageError.transactionClosed) { _ = try leakedCursor.first() }
        #expect(try env.read { try $0.get(Blocks.self, 2) } == nil)
    }

    @Test func nestedTransactionsOnOneThreadAreRefused() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        #expect(throws: StorageError.nestedTransaction) {
            try env.read { _ in try env.write { try $0.put(Blocks.self, 1, [1]) } }
        }
        #expect(throws: StorageError.nestedTransaction) {
            try env.write { _ in try env.read { _ in () } }
        }
        // The store is still usable afterwards.
        try env.write { try $0.put(Blocks.self, 1, [1]) }
        #expect(try env.read { try $0.get(Blocks.self, 1) } == [1])
    }

    @Test func integerKeysIterateInNumericOrderBothWays() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        let keys: [UInt64] = [UInt64.max, 65536, 256, 255, 0, 1, 65535, 257]
        try env.write { txn in for k in keys { try txn.put(Blocks.self, k, [UInt8(truncatingIfNeeded: k)]) } }
        var forward: [UInt64] = []
        try env.read { txn in
            try txn.forEach(Blocks.self) { k, _ in
                forward.append(k); return true
            }
        }
        #expect(forward == keys.sorted())
        var reverse: [UInt64] = []
        try env.read { txn in
            try txn.forEach(Blocks.self, reverse: true) { k, _ in
                reverse.append(k); return true
            }
        }
        #expect(reverse == keys.sorted().reversed())
        var fromMiddle: [UInt64] = []
        try env.read { txn in
            try txn.forEach(Blocks.self, from: 300) { k, _ in
                fromMiddle.append(k); return true
            }
        }
        #expect(fromMiddle == [65535, 65536, UInt64.max])
        var backFromMiddle: [UInt64] = []
        try env.read { txn in
            try txn.forEach(Blocks.self, from: 300, reverse: true) { k, _ in
                backFromMiddle.append(k); return true
            }
        }
        #expect(backFromMiddle == [257, 256, 255, 1, 0])
        var backFromExact: [UInt64] = []
        try env.read { (txn: ReadTransaction) throws in
            try txn.forEach(Blocks.self, from: 256, reverse: true) { k, _ in
                backFromExact.append(k); return backFromExact.count < 2
            }
        }
        #expect(backFromExact == [256, 255])
        var pastEnd: [UInt64] = []
        try env.read { txn in
            try txn.forEach(Blocks.self, from: UInt64.max - 1, reverse: false) { k, _ in
                pastEnd.append(k); return true
            }
        }
        #expect(pastEnd == [UInt64.max])
    }

    @Test func prefixScansFindExactlyTheirKeysInBothDirections() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        let keys: [[UInt8]] = [[1], [1, 0], [1, 255], [1, 255, 255], [2], [2, 0], [0xff], [0xff, 0xff], [0, 9]]
        try env.write { txn in for k in keys { try txn.put(RawTable.self, k, k) } }
        func scan(_ prefix: [UInt8], reverse: Bool) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            try env.read { txn in
                try txn.forEach(RawTable.self, prefix: prefix, reverse: reverse) { k, _ in
                    out.append(k); return true
                }
            }
            return out
        }
        #expect(try scan([1], reverse: false) == [[1], [1, 0], [1, 255], [1, 255, 255]])
        #expect(try scan([1], reverse: true) == [[1, 255, 255], [1, 255], [1, 0], [1]])
        #expect(try scan([1, 255], reverse: true) == [[1, 255, 255], [1, 255]])
        #expect(try scan([0xff], reverse: true) == [[0xff, 0xff], [0xff]])
        #expect(try scan([3], reverse: false) == [])
        #expect(try scan([], reverse: false).count == keys.count)
    }

    @Test func cursorsSeekAndStepWithinATable() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { txn in for k: UInt64 in [10, 20, 30] { try txn.put(Blocks.self, k, [UInt8(k)]) } }
        try env.read { (txn: ReadTransaction) throws in
            try txn.cursor(Blocks.self) { (c: Cursor<Blocks>) throws -> Void in
                #expect(try c.seek(15)?.key == 20)
                #expect(try c.next()?.key == 30)
                #expect(try c.next() == nil ? true : false)
                #expect(try c.seek(31) == nil ? true : false)
                #expect(try c.seekExact(15) == nil ? true : false)
                #expect(try c.seekExact(10)?.value == [10])
                #expect(try c.previous() == nil ? true : false)
                #expect(try c.last()?.key == 30)
                #expect(try c.first()?.key == 10)
            }
        }
        try env.write { (txn: WriteTransaction) throws in
            try txn.cursor(Blocks.self) { c in
                _ = try c.seekExact(20)
                try c.deleteCurrent()
            }
        }
        #expect(try env.read { try $0.get(Blocks.self, 20) } == nil)
        #expect(try env.read { try $0.count(Blocks.self) } == 2)
    }

    @Test func aTableThatDoesNotExistReadsAsEmpty() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.read { (txn: ReadTransaction) throws in
            #expect(try txn.get(Blocks.self, 1) == nil)
            #expect(try txn.count(Blocks.self) == 0)
            var visited = 0
            try txn.forEach(Blocks.self) { _, _ in
                visited += 1; return true
            }
            #expect(visited == 0)
            let first = try txn.cursor(Blocks.self) { try $0.first() }
            #expect(first == nil ? true : false)
        }
        #expect(try env.stat(table: "blocks") == nil)
    }

    @Test func readersKeepTheirSnapshotWhileTheWriterCommits() async throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { try $0.put(Blocks.self, 1, [1]) }
        let readerStarted = DispatchSemaphore(value: 0)
        let writerDone = DispatchSemaphore(value: 0)
        let seen = LockedValue<[UInt8]?>([])
        let thread = Thread {
            try? env.read { txn in
                seen.append(try txn.get(Blocks.self, 1))
                readerStarted.signal()
                writerDone.wait()
                seen.append(try txn.get(Blocks.self, 1))
            }
        }
        thread.start()
        readerStarted.wait()
        try env.write { try $0.put(Blocks.self, 1, [2]) }  // does not wait for the open reader
        writerDone.signal()
        while seen.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(seen.snapshot == [[1], [1]])
        #expect(try env.read { try $0.get(Blocks.self, 1) } == [2])
    }

    @Test func appendingOutOfOrderIsRefusedClearly() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { txn in for k: UInt64 in 1...5 { try txn.put(Blocks.self, k, [], append: true) } }
        #expect(throws: StorageError.appendOutOfOrder(table: "blocks")) {
            try env.write { try $0.put(Blocks.self, 3, [], append: true) }
        }
        #expect(try env.read { try $0.count(Blocks.self) } == 5)
    }

    @Test func oversizedKeysAreRefusedBeforeReachingLMDB() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        let key = [UInt8](repeating: 1, count: 600)
        #expect(throws: StorageError.keyTooLarge(size: 600, maxKeySize: 511)) {
            try env.write { try $0.put(RawTable.self, key, [1]) }
        }
    }

    @Test func lmdbErrorsCarryStrerrorText() {
        let error = StorageError.lmdb(
            code: MDB_MAP_FULL, message: String(cString: mdb_strerror(MDB_MAP_FULL)), operation: "mdb_put")
        #expect(error.description.contains("MDB_MAP_FULL"))
        #expect(!error.isFatal)
        #expect(StorageError.lmdb(code: MDB_CORRUPTED, message: "", operation: "x").isFatal)
        let full = StorageError.mapFullCannotGrow(
            mapSize: 1 << 30, maxMapSize: 1 << 30, path: "/data", freeDiskBytes: 3 << 29)
        #expect(full.description.contains("1.5 GiB free"))
        #expect(full.isFatal)
    }

    @Test func theMapGrowsFromOneMiBToTakeAOneGiBWrite() throws {
        let dir = try TemporaryDirectory("storage-growth")
        let env = try openStore(dir, mapSize: 1 << 20)
        #expect(try env.info().mapSize == 1 << 20)
        let chunk = 16 << 20
        var runs = 0
        try env.write { (txn: WriteTransaction) throws in
            runs += 1
            for i in 0..<64 {
                var value = [UInt8](repeating: UInt8(i), count: chunk)
                value[0] = 0xAB
                try txn.put(Blocks.self, UInt64(i), value)
            }
        }
        #expect(runs > 1)
        #expect(try env.info().mapSize >= 1 << 30)
        try env.read { (txn: ReadTransaction) throws in
            #expect(try txn.count(Blocks.self) == 64)
            for i in [0, 31, 63] {
                let size = try txn.withValueBytes(Blocks.self, UInt64(i)) { raw -> Int in
                    #expect(raw[0] == 0xAB)
                    #expect(raw[chunk - 1] == UInt8(i))
                    return raw.count
                }
                #expect(size == chunk)
            }
        }
    }

    @Test func aSwallowedMapFullStillGrowsTheMapAndRetries() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir, mapSize: 1 << 20)
        try env.write { (txn: WriteTransaction) throws in
            for i in UInt64(0)..<64 { try? txn.put(Blocks.self, i, [UInt8](repeating: 1, count: 64 << 10)) }
        }
        #expect(try env.read { try $0.count(Blocks.self) } == 64)
    }

    @Test func theMapStopsAtItsLimitWithAClearError() throws {
        let dir = try TemporaryDirectory("storage")
        var options = Environment.Options()
        options.initialMapSize = 1 << 20
        options.maxMapSize = 2 << 20
        let env = try Environment(path: dir.path, options: options)
        do {
            try env.write { txn in try txn.put(Blocks.self, 1, [UInt8](repeating: 1, count: 8 << 20)) }
            Issue.record("an 8 MiB write fit a 2 MiB map")
        } catch let error as StorageError {
            guard case .mapFullCannotGrow(let size, let limit, _, let free) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(size == 2 << 20 && limit == 2 << 20 && free != nil)
            #expect(error.description.contains("free"))
        }
        #expect(try env.read { try $0.count(Blocks.self) } == 0)
    }

    @Test func staleReaderSlotsOfDeadProcessesAreClearedAtOpen() throws {
        let dir = try TemporaryDirectory("storage")
        do {
            let env = try openStore(dir)
            try env.write { try $0.put(Blocks.self, 1, [1]) }
        }
        // LMDB resets its reader table when a process opens a store nobody has open, so a keeper
        // process holds the store open while a second child dies holding a read transaction.
        var release: [Int32] = [0, 0], ready: [Int32] = [0, 0]
        #expect(pipe(&release) == 0 && pipe(&ready) == 0)
        let keeper = fork()
        if keeper == 0 {
            close(release[1])
            close(ready[0])
            var env: OpaquePointer?
            guard mdb_env_create(&env) == 0, mdb_env_open(env, dir.path, UInt32(MDB_NOTLS), 0o644) == 0 else {
                _exit(1)
            }
            var byte: UInt8 = 1
            _ = write(ready[1], &byte, 1)
            _ = read(release[0], &byte, 1)
            _exit(0)
        }
        close(release[0])
        close(ready[1])
        var byte: UInt8 = 0
        #expect(read(ready[0], &byte, 1) == 1)
        let dying = fork()
        if dying == 0 {
            var env: OpaquePointer?
            guard mdb_env_create(&env) == 0, mdb_env_open(env, dir.path, UInt32(MDB_NOTLS), 0o644) == 0 else {
                _exit(1)
            }
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0 else { _exit(2) }
            _exit(0)
        }
        var status: Int32 = 0
        waitpid(dying, &status, 0)
        #expect(status == 0)
        defer {
            close(release[1])
            waitpid(keeper, &status, 0)
        }
        let before = try Command.run("mdb_stat", ["-r", dir.path])
        #expect(before.output.contains(" \(dying) "), "mdb_stat -r should list the dead child's slot: \(before.output)")
        let env = try openStore(dir)
        #expect(try env.clearStaleReaders() == 0, "opening should already have cleared the dead slot")
        let after = try Command.run("mdb_stat", ["-r", dir.path])
        #expect(!after.output.contains(" \(dying) "), "\(after.output)")
    }

    @Test func mdbStatAndMdbDumpFromLmdbUtilsReadTheStore() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { (txn: WriteTransaction) throws in
            for h in UInt64(1)...3 { try txn.put(Blocks.self, h, [UInt8(h), 0xAA]) }
            try txn.put(Names.self, "k", "v")
        }
        let stat = try Command.run("mdb_stat", ["-a", dir.path])
        #expect(stat.status == 0, "\(stat.stderr)")
        let text = stat.output
        let blocksSection = try #require(text.range(of: "Status of blocks"))
        #expect(text[blocksSection.upperBound...].contains("Entries: 3"))
        let namesSection = try #require(text.range(of: "Status of names"))
        #expect(text[namesSection.upperBound...].contains("Entries: 1"))
        #expect(try env.stat(table: "blocks")?.entries == 3)

        let dump = try Command.run("mdb_dump", ["-s", "blocks", dir.path])
        #expect(dump.status == 0, "\(dump.stderr)")
        let body = dump.output.components(separatedBy: "HEADER=END\n").last ?? ""
        let lines = body.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            $0 != "DATA=END"
        }
        #expect(
            lines == [
                "0000000000000001", "01aa", "0000000000000002", "02aa", "0000000000000003", "03aa",
            ])

        let info = try env.info()
        let envStat = try Command.run("mdb_stat", ["-e", dir.path]).output
        #expect(envStat.contains("Map size: \(info.mapSize)"))
        #expect(envStat.contains("Number of pages used: \(info.lastPageNumber + 1)"))
    }

    @Test func aReadOnlyEnvironmentReadsWhileTheWriterHasTheStoreOpen() throws {
        let dir = try TemporaryDirectory("storage")
        let writer = try openStore(dir)
        try writer.write { try $0.put(Blocks.self, 7, [7]) }
        var options = Environment.Options()
        options.readOnly = true
        let reader = try Environment(path: dir.path, options: options)
        #expect(try reader.read { try $0.get(Blocks.self, 7) } == [7])
        #expect(throws: StorageError.readOnly) { try reader.write { try $0.put(Blocks.self, 8, [8]) } }
        try writer.write { try $0.put(Blocks.self, 8, [8]) }
        #expect(try reader.read { try $0.get(Blocks.self, 8) } == [8])
    }

    @Test func aCompactCopyIsAStoreWithTheSameData() throws {
        let dir = try TemporaryDirectory("storage")
        let env = try openStore(dir)
        try env.write { txn in
            for h in UInt64(0)..<1000 { try txn.put(Blocks.self, h, [UInt8](repeating: 3, count: 100)) }
        }
        try env.write { txn in for h in UInt64(0)..<900 { try txn.delete(Blocks.self, h) } }
        let copyDir = try TemporaryDirectory("storage-copy")
        try env.copy(to: copyDir.path, compact: true)
        let copy = try openStore(copyDir)
        #expect(try copy.read { try $0.count(Blocks.self) } == 100)
        #expect(try copy.info().lastPageNumber < (try env.info().lastPageNumber))
    }
}

/// A value several threads read and append to.
final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T]
    init(_ items: [T]) { self.items = items }
    func append(_ item: T) { lock.withLock { items.append(item) } }
    var count: Int { lock.withLock { items.count } }
    var snapshot: [T] { lock.withLock { items } }
}
