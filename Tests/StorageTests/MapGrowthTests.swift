import CLMDB
import Logging
@testable import Storage
import Testing
import TributaryTesting

#if canImport(Glibc)
    import Glibc
#endif

@Test func growthRerunsTheWriteClosureAndLogsTheNewMapSize() throws {
    let dir = try TemporaryDirectory()
    let logs = CapturedLogs()
    let env = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20, logger: logs.logger))
    #expect(try env.info().mapSize == 1 << 20)
    var attempts = 0
    let big = [UInt8](repeating: 0x5A, count: 3 << 20)
    let result = try env.write { txn throws in
        attempts += 1
        try txn.put(Numbers.self, 1, "small")
        try txn.put(Blobs.self, [1], big)
        return attempts
    }
    #expect(result == 3, "1 MiB and 2 MiB maps are too small for 3 MiB; the closure ran once per map size")
    #expect(attempts == 3)
    #expect(try env.info().mapSize == 4 << 20)
    let growth = logs.records.filter { $0.message == "map grown" }
    #expect(growth.map(\.level) == [.info, .info])
    #expect(growth.map { $0.metadata["storage.map_size"]?.description } == ["\(2 << 20)", "\(4 << 20)"])
    #expect(growth.first?.metadata["storage.previous_map_size"]?.description == "\(1 << 20)")
    try env.read { txn throws in
        #expect(try txn.get(Numbers.self, 1) == "small")
        #expect(try txn.get(Blobs.self, [1]) == big)
    }
}

@Test func aMapFullCaughtInsideTheClosureStillGrowsTheMap() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path, options: .init(initialMapSize: 1 << 20))
    var attempts = 0
    var swallowed = 0
    try env.write { txn throws in
        attempts += 1
        do {
            try txn.put(Blobs.self, [1], [UInt8](repeating: 1, count: 3 << 19))
        } catch {
            swallowed += 1
        }
    }
    #expect(attempts == 2)
    #expect(swallowed == 1)
    #expect(try env.read { try $0.get(Blobs.self, [1])?.count } == 3 << 19)
}

@Test func aMapThatCannotGrowFailsWithAnExplanation() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(
        path: dir.path, options: .init(initialMapSize: 1 << 20, maxMapSize: 2 << 20))
    try env.write { try $0.put(Numbers.self, 1, "before") }
    do {
        try env.write { txn throws in
            try txn.put(Numbers.self, 2, "lost")
            try txn.put(Blobs.self, [1], [UInt8](repeating: 1, count: 4 << 20))
        }
        Issue.record("4 MiB fitted into a 2 MiB map")
    } catch let error as StorageError {
        guard case .mapFullCannotGrow(let mapSize, let maxMapSize, let path, let freeDiskBytes) = error else {
            Issue.record("expected mapFullCannotGrow, got \(error)")
            return
        }
        #expect(mapSize == 2 << 20)
        #expect(maxMapSize == 2 << 20)
        #expect(path == dir.path)
        let free = try #require(freeDiskBytes)
        #expect(free > 0)
        #expect(error.isFatal)
        #expect(error.description.contains("2.0 MiB"))
        #expect(error.description.contains("free on its file system"))
        #expect(error.description.contains("maxMapSize"))
    }
    try env.read { txn throws in
        #expect(try txn.get(Numbers.self, 1) == "before")
        #expect(try txn.get(Numbers.self, 2) == nil, "the failed transaction wrote nothing")
    }
    try env.write { try $0.put(Numbers.self, 3, "after") }
    #expect(try env.read { try $0.get(Numbers.self, 3) } == "after")
}

/// The one big test: 1 GiB in a single write transaction, starting from a 1 MiB map.
@Test func aOneGiBTransactionGrowsAOneMiBMapAndReadsBackIntact() throws {
    let dir = try TemporaryDirectory()
    let valueSize = 16 << 20
    let valueCount = 64
    var base = [UInt8](repeating: 0, count: valueSize)
    base.withUnsafeMutableBytes { bytes in
        var state: UInt64 = 0x1234_5678_9ABC_DEF0
        let words = bytes.bindMemory(to: UInt64.self)
        for index in words.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            words[index] = state
        }
    }
    var attempts = 0
    do {
        let env = try Environment(
            path: dir.path, options: .init(initialMapSize: 1 << 20, durability: .noSync))
        var value = base
        try env.write { txn throws in
            attempts += 1
            for index in 0..<valueCount {
                // Distinct values: the first eight bytes carry the index.
                withUnsafeBytes(of: UInt64(index).bigEndian) { header in
                    value.withUnsafeMutableBytes { $0.copyMemory(from: header) }
                }
                try txn.put(Blobs.self, Array("value-\(index)".utf8), value)
            }
        }
        #expect(try env.info().mapSize >= valueCount * valueSize)
        try env.sync()
    }
    #expect(attempts > 1, "the map had to grow")

    let env = try Environment(path: dir.path, options: .init(readOnly: true))
    try env.read { txn throws in
        #expect(try txn.count(Blobs.self) == valueCount)
        for index in 0..<valueCount {
            let intact = try txn.withValueBytes(Blobs.self, Array("value-\(index)".utf8)) { bytes -> Bool in
                guard bytes.count == valueSize, let start = bytes.baseAddress else { return false }
                let header = bytes.loadUnaligned(as: UInt64.self)
                let tail = base.withUnsafeBytes { memcmp(start + 8, $0.baseAddress! + 8, valueSize - 8) }
                return UInt64(bigEndian: header) == UInt64(index) && tail == 0
            }
            #expect(intact == true, "value \(index)")
        }
    }
}
