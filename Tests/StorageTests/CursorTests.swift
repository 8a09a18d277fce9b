@testable import Storage
import Testing
import TributaryTesting

/// Keys around byte boundaries, where little-endian or variable-width encodings would sort wrongly.
private let boundaryKeys: [UInt64] = [
    0, 1, 254, 255, 256, 257, 65_535, 65_536, 65_537, 16_777_216, 1 << 32, 1 << 40, UInt64.max - 1, UInt64.max,
]

private func makeNumbers() throws -> (TemporaryDirectory, Environment) {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        // Inserted out of order, so the iteration order comes from the keys' bytes.
        for key in boundaryKeys.reversed() { try txn.put(Numbers.self, key, "\(key)") }
    }
    return (dir, env)
}

private func collect<T: Table>(
    _ txn: ReadTransaction, _ table: T.Type, from: T.Key? = nil, reverse: Bool = false, limit: Int = .max
) throws -> [T.Key] {
    var keys: [T.Key] = []
    try txn.forEach(table, from: from, reverse: reverse) { key, _ in
        keys.append(key)
        return keys.count < limit
    }
    return keys
}

@Test func bigEndianIntegerKeysIterateInNumericOrder() throws {
    let (_, env) = try makeNumbers()
    try env.read { txn throws in
        #expect(try collect(txn, Numbers.self) == boundaryKeys)
        #expect(try collect(txn, Numbers.self, reverse: true) == boundaryKeys.reversed())
        var values: [String] = []
        try txn.forEach(Numbers.self) { key, value in
            #expect(value == "\(key)")
            values.append(value)
            return true
        }
        #expect(values.count == boundaryKeys.count)
    }
}

@Test func rangeScansStartAtTheBoundInEitherDirection() throws {
    let (_, env) = try makeNumbers()
    try env.read { txn throws in
        // Forward: from the first key >= from.
        #expect(
            try collect(txn, Numbers.self, from: 256) == [
                256, 257, 65_535, 65_536, 65_537, 16_777_216, 1 << 32, 1 << 40, UInt64.max - 1, UInt64.max,
            ])
        #expect(try collect(txn, Numbers.self, from: 258, limit: 2) == [65_535, 65_536])
        #expect(try collect(txn, Numbers.self, from: 0, limit: 1) == [0])
        #expect(try collect(txn, Numbers.self, from: UInt64.max) == [UInt64.max])
        // Reverse: from the last key <= from.
        #expect(try collect(txn, Numbers.self, from: 256, reverse: true) == [256, 255, 254, 1, 0])
        #expect(try collect(txn, Numbers.self, from: 65_534, reverse: true, limit: 2) == [257, 256])
        #expect(try collect(txn, Numbers.self, from: UInt64.max, reverse: true, limit: 1) == [UInt64.max])
        #expect(try collect(txn, Numbers.self, from: 0, reverse: true) == [0])
    }
    let dir = try TemporaryDirectory()
    let sparse = try Environment(path: dir.path)
    try sparse.write { txn throws in
        for key: UInt64 in [10, 20, 30] { try txn.put(Numbers.self, key, "\(key)") }
    }
    try sparse.read { txn throws in
        #expect(try collect(txn, Numbers.self, from: 31).isEmpty, "nothing is >= a bound above every key")
        #expect(try collect(txn, Numbers.self, from: 9, reverse: true).isEmpty, "nothing is <= a bound below every key")
        #expect(try collect(txn, Numbers.self, from: 1000, reverse: true) == [30, 20, 10])
        #expect(try collect(txn, Numbers.self, from: 0) == [10, 20, 30])
    }
}

@Test func prefixScansVisitExactlyTheMatchingKeysInEitherDirection() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    let keys: [[UInt8]] = [
        [0x00], [0x01], [0x01, 0x00], [0x01, 0x02], [0x01, 0x02, 0x03], [0x01, 0xFF], [0x01, 0xFF, 0xFF], [0x02],
        [0x02, 0x00], [0xFF], [0xFF, 0x00], [0xFF, 0xFF], [0xFF, 0xFF, 0x01],
    ]
    try env.write { txn throws in
        for key in keys.shuffled() { try txn.put(Blobs.self, key, key) }
    }
    func scan(_ prefix: [UInt8], reverse: Bool = false, limit: Int = .max) throws -> [[UInt8]] {
        try env.read { txn throws in
            var seen: [[UInt8]] = []
            try txn.forEach(Blobs.self, prefix: prefix, reverse: reverse) { key, value in
                #expect(key == value)
                seen.append(key)
                return seen.count < limit
            }
            return seen
        }
    }
    for prefix: [UInt8] in [
        [0x01], [0x01, 0x02], [0x01, 0xFF], [0x02], [0xFF], [0xFF, 0xFF], [0x03], [0x01, 0x05], [],
    ] {
        let expected = keys.filter { $0.starts(with: prefix) }
        #expect(try scan(prefix) == expected, "forward \(prefix)")
        #expect(try scan(prefix, reverse: true) == expected.reversed(), "reverse \(prefix)")
    }
    #expect(try scan([0x01], limit: 2) == [[0x01], [0x01, 0x00]])
    #expect(try scan([0x01], reverse: true, limit: 2) == [[0x01, 0xFF, 0xFF], [0x01, 0xFF]])
}

@Test func cursorsSeekAndStepAcrossTheEnds() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    try env.write { txn throws in
        for key: UInt64 in [10, 20, 30] { try txn.put(Numbers.self, key, "v\(key)") }
    }
    try env.read { txn throws in
        try txn.cursor(Numbers.self) { cursor throws in
            #expect(try cursor.current == nil, "a new cursor is not on an entry")
            #expect(try cursor.next()?.key == 10, "next from nowhere is the first entry")
            #expect(try cursor.current?.value == "v10")
            #expect(try cursor.next()?.key == 20)
            #expect(try cursor.next()?.key == 30)
            #expect(try cursor.next() == nil)
            #expect(try cursor.next() == nil, "stays past the end")
            #expect(try cursor.current == nil)
            #expect(try cursor.previous()?.key == 30, "comes back to the last entry")
            #expect(try cursor.first()?.key == 10)
            #expect(try cursor.previous() == nil)
            #expect(try cursor.next()?.key == 10, "comes back to the first entry")
            #expect(try cursor.last()?.key == 30)

            #expect(try cursor.seek(20)?.key == 20, "seek lands on an equal key")
            #expect(try cursor.seek(21)?.key == 30, "or on the next greater one")
            #expect(try cursor.seek(0)?.key == 10)
            #expect(try cursor.seek(31) == nil, "nothing is >= a key above the last")
            #expect(try cursor.previous()?.key == 30, "so previous gives the greatest key below it")
            #expect(try cursor.seekExact(20)?.value == "v20")
            #expect(try cursor.next()?.key == 30)
            #expect(try cursor.seekExact(25) == nil)
            #expect(try cursor.current == nil)
        }
        do {
            try txn.cursor(Numbers.self) { cursor throws in
                _ = try cursor.first()
                try cursor.deleteCurrent()
            }
            Issue.record("a read transaction's cursor deleted")
        } catch StorageError.readOnly {
        }
    }
    let emptyDir = try TemporaryDirectory()
    let empty = try Environment(path: emptyDir.path)
    try empty.write { txn throws in
        try txn.put(Numbers.self, 1, "x")
        #expect(try txn.delete(Numbers.self, 1))
    }
    try empty.read { txn throws in
        try txn.cursor(Numbers.self) { cursor throws in
            #expect(try cursor.first() == nil)
            #expect(try cursor.last() == nil)
            #expect(try cursor.next() == nil)
            #expect(try cursor.previous() == nil)
            #expect(try cursor.seek(0) == nil)
        }
    }
}

@Test func deletingThroughACursorWhileIteratingVisitsEveryEntry() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    // Enough entries for several leaf pages, so deletions cross page boundaries.
    try env.write { txn throws in
        for key in UInt64(0)..<2000 { try txn.put(Numbers.self, key, String(repeating: "v", count: 50)) }
    }
    let visited = try env.write { txn throws in
        try txn.cursor(Numbers.self) { cursor throws in
            var visited: [UInt64] = []
            var entry = try cursor.first()
            while let (key, _) = entry {
                visited.append(key)
                if key % 2 == 0 {
                    #expect(try cursor.deleteCurrent())
                    #expect(try cursor.current == nil)
                    #expect(try !cursor.deleteCurrent(), "nothing left to delete at this position")
                }
                entry = try cursor.next()
            }
            return visited
        }
    }
    #expect(visited == Array(0..<2000))
    try env.read { txn throws in
        #expect(try txn.count(Numbers.self) == 1000)
        var keys: [UInt64] = []
        try txn.forEach(Numbers.self) { key, _ in
            keys.append(key)
            return true
        }
        #expect(keys == stride(from: 1, to: 2000, by: 2).map { UInt64($0) })
    }
    try env.write { txn throws in
        try txn.cursor(Numbers.self) { cursor throws in
            #expect(try cursor.seekExact(501) != nil)
            try cursor.deleteCurrent()
            #expect(try cursor.previous()?.key == 499, "previous after a delete is the entry before it")
            #expect(try cursor.last()?.key == 1999)
            try cursor.deleteCurrent()
            #expect(try cursor.next() == nil, "deleting the last entry leaves nothing after it")
        }
    }
    #expect(try env.read { try $0.count(Numbers.self) } == 998)
}

@Test func stringKeysIterateInByteOrder() throws {
    let dir = try TemporaryDirectory()
    let env = try Environment(path: dir.path)
    let names = ["b", "a", "ab", "B", "é", "aa", "z"]
    try env.write { txn throws in
        for (index, name) in names.enumerated() { try txn.put(Counters.self, name, UInt32(index)) }
    }
    let ordered = try env.read { txn in try collect(txn, Counters.self) }
    #expect(ordered == ["B", "a", "aa", "ab", "b", "z", "é"])
    #expect(ordered == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
}
