import CLMDB
import Dispatch
import Foundation
@testable import Storage
import Testing
import TributaryTesting

private struct Failure: Error {}

@Test func putGetContainsCountAndDeleteRoundTrip() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    let written = try env.write { txn throws in
        try txn.put(Numbers.self, 1, "one")
        try txn.put(Numbers.self, 2, "two")
        try txn.put(Counters.self, "apples", 7)
        try txn.put(Numbers.self, 2, "deux")
        #expect(try txn.get(Numbers.self, 2) == "deux", "a write transaction reads its own writes")
        return "done"
    }
    #expect(written == "done")
    try env.read { txn throws in
        #expect(try txn.get(Numbers.self, 1) == "one")
        #expect(try txn.get(Numbers.self, 2) == "deux")
        #expect(try txn.get(Numbers.self, 3) == nil)
        #expect(try txn.contains(Numbers.self, 1))
        #expect(try !txn.contains(Numbers.self, 3))
        #expect(try txn.count(Numbers.self) == 2)
        #expect(try txn.get(Counters.self, "apples") == 7)
        let length = try txn.withValueBytes(Numbers.self, 2) { $0.count }
        #expect(length == 4)
    }
    try env.write { txn throws in
        #expect(try txn.delete(Numbers.self, 1))
        #expect(try !txn.delete(Numbers.self, 1))
        #expect(try !txn.delete(Numbers.self, 99))
    }
    #expect(try env.read { try $0.get(Numbers.self, 1) } == nil)
    #expect(try env.read { try $0.count(Numbers.self) } == 1)
}

@Test func aThrowingBodyAbortsTheTransaction() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { try $0.put(Numbers.self, 1, "kept") }
    #expect(throws: Failure.self) {
        try env.write { txn throws in
            try txn.put(Numbers.self, 1, "overwritten")
            try txn.put(Numbers.self, 2, "added")
            try txn.put(Blobs.self, [1], [2])
            throw Failure()
        }
    }
    try env.read { txn throws in
        #expect(try txn.get(Numbers.self, 1) == "kept")
        #expect(try txn.get(Numbers.self, 2) == nil)
        #expect(try txn.get(Blobs.self, [1]) == nil)
    }
    #expect(try env.tableNames() == ["numbers"], "a table created by an aborted transaction does not exist")
    // The handle LMDB closed with the aborted transaction must not be reused: creating the table works.
    try env.write { try $0.put(Blobs.self, [1], [3]) }
    #expect(try env.read { try $0.get(Blobs.self, [1]) } == [3])
    #expect(try env.tableNames() == ["blobs", "numbers"])
}

@Test func aTransactionUsedAfterItsScopeThrowsTransactionClosed() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { try $0.put(Numbers.self, 1, "one") }

    let reader = try env.read { $0 }
    #expect(throws: StorageError.self) { _ = try reader.get(Numbers.self, 1) }
    do {
        _ = try reader.get(Numbers.self, 1)
    } catch StorageError.transactionClosed {
    } catch {
        Issue.record("expected transactionClosed, got \(error)")
    }
    #expect(throws: StorageError.self) { try reader.forEach(Numbers.self) { _, _ in true } }
    #expect(throws: StorageError.self) { _ = try reader.rawGet(table: "numbers", key: [0]) }

    let writer = try env.write { $0 }
    do {
        try writer.put(Numbers.self, 2, "two")
        Issue.record("a put through a closed write transaction succeeded")
    } catch StorageError.transactionClosed {
    } catch {
        Issue.record("expected transactionClosed, got \(error)")
    }
    #expect(try env.read { try $0.get(Numbers.self, 2) } == nil)

    let cursor = try env.read { txn in try txn.cursor(Numbers.self) { $0 } }
    do {
        _ = try cursor.first()
        Issue.record("a closed cursor moved")
    } catch StorageError.transactionClosed {
    } catch {
        Issue.record("expected transactionClosed, got \(error)")
    }
    // A cursor smuggled out of its own closure is closed even while the transaction goes on.
    try env.read { txn throws in
        let escaped = try txn.cursor(Numbers.self) { $0 }
        #expect(throws: StorageError.self) { _ = try escaped.next() }
        #expect(try txn.get(Numbers.self, 1) == "one")
    }
}

@Test func nestedTransactionsThrowInsteadOfDeadlocking() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    func expectNested(_ body: () throws -> Void) {
        do {
            try body()
            Issue.record("a nested transaction was started")
        } catch StorageError.nestedTransaction {
        } catch {
            Issue.record("expected nestedTransaction, got \(error)")
        }
    }
    try env.read { _ throws in
        expectNested { try env.read { _ in } }
        expectNested { try env.write { _ in } }
        expectNested { _ = try env.stat(table: "numbers") }
        expectNested { try env.copy(to: dir.appending("copy"), compact: false) }
        #expect(try env.info().pageSize > 0, "info works inside a transaction")
    }
    try env.write { txn throws in
        expectNested { try env.read { _ in } }
        expectNested { try env.write { _ in } }
        expectNested { _ = try env.tableNames() }
        try txn.put(Numbers.self, 1, "still usable")
    }
    // After the scopes ended, the thread may start transactions again.
    #expect(try env.read { try $0.get(Numbers.self, 1) } == "still usable")
}

@Test func openReadTransactionsDoNotBlockTheWriter() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { try $0.put(Numbers.self, 1, "old") }

    let readerStarted = DispatchSemaphore(value: 0)
    let writerDone = DispatchSemaphore(value: 0)
    let readerDone = DispatchSemaphore(value: 0)
    let seen = LockedBox<[String?]>([])
    let writerWasBlocked = LockedBox(false)
    let thread = Thread {
        do {
            try env.read { txn throws in
                seen.value.append(try txn.get(Numbers.self, 1))
                readerStarted.signal()
                // Holds the snapshot open while the writer commits; the deadline only keeps a bug from hanging.
                if writerDone.wait(timeout: .now() + 120) == .timedOut { writerWasBlocked.value = true }
                seen.value.append(try txn.get(Numbers.self, 1))
            }
        } catch {
            seen.value.append("error: \(error)")
        }
        readerDone.signal()
    }
    thread.start()
    readerStarted.wait()
    try env.write { try $0.put(Numbers.self, 1, "new") }
    let afterCommit = try env.read { try $0.get(Numbers.self, 1) }
    writerDone.signal()
    readerDone.wait()

    #expect(!writerWasBlocked.value)
    #expect(seen.value == ["old", "old"], "the open reader keeps its snapshot")
    #expect(afterCommit == "new")
}

@Test func missingTablesReadAsEmpty() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.read { txn throws in
        #expect(try txn.get(Numbers.self, 1) == nil)
        #expect(try !txn.contains(Numbers.self, 1))
        #expect(try txn.count(Numbers.self) == 0)
        #expect(try txn.withValueBytes(Numbers.self, 1) { $0.count } == nil)
        var visited = 0
        try txn.forEach(Numbers.self) { _, _ in
            visited += 1
            return true
        }
        try txn.forEach(Blobs.self, prefix: [1], reverse: true) { _, _ in
            visited += 1
            return true
        }
        #expect(visited == 0)
        try txn.cursor(Numbers.self) { cursor throws in
            #expect(try cursor.first() == nil)
            #expect(try cursor.seek(5) == nil)
            #expect(try cursor.current == nil)
        }
        #expect(try txn.rawGet(table: "nothing", key: [1]) == nil)
        #expect(try txn.stat(table: "nothing") == nil)
    }
    // Reading a missing table inside a write transaction does not create it.
    try env.write { txn throws in
        #expect(try txn.get(Numbers.self, 1) == nil)
        #expect(try txn.count(Blobs.self) == 0)
        #expect(try !txn.delete(Counters.self, "x"))
    }
    #expect(try env.tableNames().isEmpty)
    #expect(try env.stat(table: "numbers") == nil)
}

@Test func aTableCreatedAfterAReaderBeganStaysInvisibleToIt() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    let readerStarted = DispatchSemaphore(value: 0)
    let writerDone = DispatchSemaphore(value: 0)
    let readerDone = DispatchSemaphore(value: 0)
    let seen = LockedBox<[String]>([])
    Thread {
        do {
            try env.read { txn throws in
                readerStarted.signal()
                _ = writerDone.wait(timeout: .now() + 120)
                seen.value.append(try txn.get(Numbers.self, 1) ?? "absent")
            }
            try env.read { txn in seen.value.append(try txn.get(Numbers.self, 1) ?? "absent") }
        } catch {
            seen.value.append("error: \(error)")
        }
        readerDone.signal()
    }.start()
    readerStarted.wait()
    try env.write { try $0.put(Numbers.self, 1, "created") }
    writerDone.signal()
    readerDone.wait()
    #expect(seen.value == ["absent", "created"])
}

@Test func insertDeleteAndClearReportWhatChanged() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        #expect(try txn.insert(Numbers.self, 1, "first"))
        #expect(try !txn.insert(Numbers.self, 1, "second"))
        #expect(try txn.get(Numbers.self, 1) == "first")
        for i in UInt64(2)...10 { try txn.put(Numbers.self, i, "\(i)") }
        try txn.put(Counters.self, "kept", 1)
    }
    try env.write { txn throws in
        try txn.clear(Numbers.self)
        try txn.clear(Blobs.self)
    }
    try env.read { txn throws in
        #expect(try txn.count(Numbers.self) == 0)
        #expect(try txn.get(Counters.self, "kept") == 1)
    }
    #expect(try env.tableNames() == ["counters", "numbers"], "a cleared table still exists")
}

@Test func appendRequiresAscendingKeys() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        for i in UInt64(1)...100 { try txn.put(Numbers.self, i * 10, "\(i)", append: true) }
    }
    #expect(try env.read { try $0.count(Numbers.self) } == 100)
    for key: UInt64 in [5, 500, 1000] {
        do {
            try env.write { try $0.put(Numbers.self, key, "late", append: true) }
            Issue.record("append of \(key) after 1000 succeeded")
        } catch StorageError.appendOutOfOrder(let table) {
            #expect(table == "numbers")
        }
    }
    try env.write { try $0.put(Numbers.self, 1001, "next", append: true) }
    #expect(try env.read { try $0.get(Numbers.self, 1001) } == "next")
    #expect(try env.read { try $0.get(Numbers.self, 1000) } == "100", "a failed append changed nothing")
}

@Test func decodingErrorsNameTheTable() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { try $0.put(Numbers.self, 1, "not four bytes long") }
    do {
        _ = try env.read { try $0.get(NumbersAsUInt32.self, 1) }
        Issue.record("decoding a string as UInt32 succeeded")
    } catch StorageError.decoding(let table, let reason) {
        #expect(table == "numbers")
        #expect(reason.contains("4 bytes"))
    }
    let error = StorageError.decoding(table: "numbers", reason: "bad")
    #expect(error.description.contains("'numbers'"))
}

@Test func keysLongerThanTheMaximumThrowKeyTooLarge() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    let maximum = Int(mdb_env_get_maxkeysize(env.env))
    #expect(maximum > 0)
    let longest = [UInt8](repeating: 7, count: maximum)
    let tooLong = [UInt8](repeating: 7, count: maximum + 1)
    try env.write { try $0.put(Blobs.self, longest, [1]) }
    #expect(try env.read { try $0.get(Blobs.self, longest) } == [1])

    func expectTooLarge(_ body: () throws -> Void) {
        do {
            try body()
            Issue.record("an oversized key was accepted")
        } catch StorageError.keyTooLarge(let size, let maxKeySize) {
            #expect(size == maximum + 1)
            #expect(maxKeySize == maximum)
        } catch {
            Issue.record("expected keyTooLarge, got \(error)")
        }
    }
    expectTooLarge { try env.write { try $0.put(Blobs.self, tooLong, [1]) } }
    expectTooLarge { _ = try env.read { try $0.get(Blobs.self, tooLong) } }
    expectTooLarge { try env.write { _ = try $0.delete(Blobs.self, tooLong) } }
    expectTooLarge { try env.write { try $0.rawPut(table: "raw", key: tooLong, value: []) } }
    expectTooLarge { try env.read { txn in try txn.cursor(Blobs.self) { _ = try $0.seek(tooLong) } } }
    #expect(StorageError.keyTooLarge(size: 600, maxKeySize: 511).description.contains("511"))
}

@Test func lmdbErrorsCarryLMDBsMessageAndTheOperation() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path, options: .init(maxTables: 1))
    try env.write { try $0.put(Numbers.self, 1, "one") }
    do {
        try env.write { try $0.put(Blobs.self, [1], [1]) }
        Issue.record("a second table fitted into maxTables 1")
    } catch StorageError.lmdb(let code, let message, let operation) {
        #expect(code == MDB_DBS_FULL)
        #expect(message == String(cString: mdb_strerror(MDB_DBS_FULL)))
        #expect(message.contains("MDB_DBS_FULL"))
        #expect(operation.contains("blobs"))
        let error = StorageError.lmdb(code: code, message: message, operation: operation)
        #expect(error.description.contains("maxTables"))
        #expect(!error.isFatal)
    }

    do {
        _ = try Environment(path: dir.appending("missing"), options: .init(readOnly: true))
        Issue.record("a read-only environment was created")
    } catch StorageError.lmdb(let code, let message, let operation) {
        #expect(code == ENOENT)
        #expect(message == String(cString: strerror(ENOENT)))
        #expect(operation.contains("mdb_env_open"))
    }
    #expect(StorageError.lmdb(code: MDB_CORRUPTED, message: "", operation: "").isFatal)
    #expect(!StorageError.transactionClosed.isFatal)
}

@Test func rawAccessReadsAndWritesAnyTableByName() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        try txn.rawPut(table: "raw", key: [2], value: [20])
        try txn.rawPut(table: "raw", key: [1], value: [10])
        try txn.rawPut(table: "raw", key: [3], value: [30])
        try txn.put(Numbers.self, 258, "typed")
        #expect(try txn.rawDelete(table: "raw", key: [3]))
        #expect(try !txn.rawDelete(table: "raw", key: [3]))
    }
    try env.read { txn throws in
        #expect(try txn.rawGet(table: "raw", key: [1]) == [10])
        #expect(try txn.rawGet(table: "numbers", key: [0, 0, 0, 0, 0, 0, 1, 2]) == Array("typed".utf8))
        var forward: [[UInt8]] = []
        try txn.rawForEach(table: "raw", from: nil, reverse: false) { key, value in
            forward.append(key + value)
            return true
        }
        #expect(forward == [[1, 10], [2, 20]])
        var backward: [[UInt8]] = []
        try txn.rawForEach(table: "raw", from: [1, 5], reverse: true) { key, _ in
            backward.append(key)
            return true
        }
        #expect(backward == [[1]])
    }
}

@Test func statAndTableNamesDescribeTheTables() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        for i in UInt64(0)..<500 { try txn.put(Numbers.self, i, String(repeating: "x", count: 40)) }
        try txn.put(Blobs.self, [1], [UInt8](repeating: 1, count: 20_000))
    }
    let numbers = try #require(try env.stat(table: "numbers"))
    #expect(numbers.entries == 500)
    #expect(numbers.depth >= 2)
    #expect(numbers.leafPages > 1)
    #expect(numbers.pageSize == (try env.info().pageSize))
    let blobs = try #require(try env.stat(table: "blobs"))
    #expect(blobs.entries == 1)
    #expect(blobs.overflowPages >= 5, "a 20 kB value lives on overflow pages")
    #expect(try env.stat(table: "absent") == nil)
    #expect(try env.tableNames() == ["blobs", "numbers"])
}

@Test func environmentFlagsFollowTheOptions() throws {
    let dir = try TemporaryDirectory()
    do {
        let env = try Environment(path: dir.path)
        #expect(env.flags & UInt32(MDB_NOTLS) != 0)
        #expect(env.flags & UInt32(MDB_NOSYNC | MDB_NOMETASYNC | MDB_RDONLY) == 0)
        try env.write { try $0.put(Numbers.self, 1, "one") }
    }
    do {
        let env = try Environment(path: dir.path, options: .init(durability: .noSync))
        #expect(env.flags & UInt32(MDB_NOTLS | MDB_NOSYNC) == UInt32(MDB_NOTLS | MDB_NOSYNC))
        try env.write { try $0.put(Numbers.self, 2, "two") }
        try env.sync()
    }
    do {
        let env = try Environment(path: dir.path, options: .init(durability: .noMetaSync))
        #expect(env.flags & UInt32(MDB_NOMETASYNC) != 0)
        #expect(env.flags & UInt32(MDB_NOSYNC) == 0)
    }
    let env = try Environment(path: dir.path, options: .init(readOnly: true))
    #expect(env.flags & UInt32(MDB_RDONLY | MDB_NOTLS) == UInt32(MDB_RDONLY | MDB_NOTLS))
    #expect(try env.read { try $0.get(Numbers.self, 2) } == "two")
    #expect(throws: StorageError.self) { try env.write { _ in } }
    #expect(throws: StorageError.self) { try env.sync() }
}

@Test func anExistingStoreKeepsItsGrownMapSize() throws {
    let dir = try TemporaryDirectory()
    do {
        let env = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20))
        #expect(try env.info().mapSize == 1 << 20)
        try env.write { try $0.put(Blobs.self, [1], [UInt8](repeating: 9, count: 3 << 20)) }
        #expect(try env.info().mapSize == 4 << 20)
    }
    let reopened = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20))
    #expect(try reopened.info().mapSize == 4 << 20)
    let bigger = try Environment(path: dir.appending("bigger"), options: .init(initialMapSize: 8 << 20))
    #expect(try bigger.info().mapSize == 8 << 20)
}

@Test func copyWritesAReadableStore() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.appending("source"))
    try env.write { txn throws in
        for i in UInt64(0)..<1000 { try txn.put(Numbers.self, i, "value \(i)") }
        try txn.put(Counters.self, "total", 1000)
    }
    try env.write { txn throws in
        for i in UInt64(0)..<900 { try txn.delete(Numbers.self, i) }
    }
    try env.copy(to: dir.appending("plain"), compact: false)
    try env.copy(to: dir.appending("compact"), compact: true)
    for name in ["plain", "compact"] {
        let copy = try Environment(path: dir.appending(name), options: .init(readOnly: true))
        try copy.read { txn throws in
            #expect(try txn.count(Numbers.self) == 100)
            #expect(try txn.get(Numbers.self, 950) == "value 950")
            #expect(try txn.get(Counters.self, "total") == 1000)
        }
    }
    let plainPages = try Environment(path: dir.appending("plain"), options: .init(readOnly: true)).info().lastPageNumber
    let compactPages = try Environment(path: dir.appending("compact"), options: .init(readOnly: true)).info()
        .lastPageNumber
    #expect(compactPages < plainPages, "compaction leaves free pages out")
    do {
        try env.copy(to: dir.appending("plain"), compact: false)
        Issue.record("a copy overwrote an existing store")
    } catch StorageError.lmdb(let code, _, _) {
        #expect(code == EEXIST)
    }
}

@Test func concurrentWritersAllCommitWhileTheMapGrows() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20, durability: .noSync))
    let failures = LockedBox<[String]>([])
    let done = DispatchGroup()
    let value = [UInt8](repeating: 0xCD, count: 4096)
    for writer in 0..<3 {
        done.enter()
        Thread {
            defer { done.leave() }
            do {
                for batch in 0..<15 {
                    try env.write { txn throws in
                        for i in 0..<16 { try txn.put(Blobs.self, [UInt8(writer), UInt8(batch), UInt8(i)], value) }
                    }
                }
            } catch {
                failures.value.append("writer \(writer): \(error)")
            }
        }.start()
    }
    done.wait()
    #expect(failures.value.isEmpty, "\(failures.value)")
    #expect(try env.read { try $0.count(Blobs.self) } == 3 * 15 * 16)
    #expect(try env.info().mapSize > 1 << 20)
}

@Test func readersSeeConsistentSnapshotsWhileTheMapGrows() throws {
    let dir = try TemporaryDirectory()
    let logs = CapturedLogs()
    let env = try Environment(
        path: dir.path, options: .init(initialMapSize: 1 << 20, durability: .noSync, logger: logs.logger))
    let writerDone = LockedBox(false)
    let problems = LockedBox<[String]>([])
    let readsDone = DispatchGroup()
    for _ in 0..<3 {
        readsDone.enter()
        Thread {
            defer { readsDone.leave() }
            do {
                while !writerDone.value {
                    try env.read { txn throws in
                        let total = try txn.get(Counters.self, "blobs") ?? 0
                        let count = try txn.count(Blobs.self)
                        if Int(total) != count { problems.value.append("counter \(total) but \(count) blobs") }
                    }
                }
            } catch {
                problems.value.append("reader: \(error)")
            }
        }.start()
    }
    let value = [UInt8](repeating: 0xAB, count: 4096)
    for batch in 0..<40 {
        try env.write { txn throws in
            for i in 0..<32 { try txn.put(Blobs.self, [UInt8(batch), UInt8(i)], value) }
            try txn.put(Counters.self, "blobs", UInt32((batch + 1) * 32))
        }
    }
    writerDone.value = true
    readsDone.wait()
    #expect(problems.value.isEmpty, "\(problems.value.prefix(3))")
    #expect(try env.read { try $0.count(Blobs.self) } == 40 * 32)
    #expect(try env.info().mapSize > 1 << 20)
    #expect(logs.records.contains { $0.message == "map grown" })
}
