import Foundation
@testable import Storage
import Testing
import TributaryTesting

/// lmdb-utils (mdb_stat, mdb_dump) read stores written by this layer.
@Suite struct InteropTests {
    let dir: TemporaryDirectory
    let env: Environment
    let numbers: [(UInt64, String)] = [(UInt64.max, "max"), (1, "one"), (65_536, "2^16"), (256, "2^8")]
    let blobs: [([UInt8], [UInt8])] = [([0xFF, 0x10], [0x00, 0x01, 0x02]), ([0x00], []), ([0x7F], [0xAB])]

    init() throws {
        dir = try TemporaryDirectory()
        env = try Environment(path: dir.path)
        try env.write { [numbers, blobs] txn in
            for (key, value) in numbers { try txn.put(Numbers.self, key, value) }
            for (key, value) in blobs { try txn.put(Blobs.self, key, value) }
            try txn.put(Counters.self, "a", 1)
            try txn.put(Counters.self, "b", 2)
        }
        // A second transaction, so the transaction ID and page counts are not the first ones.
        try env.write { try $0.put(Counters.self, "c", 3) }
    }

    @Test func mdbStatListsEveryTableWithItsEntryCount() throws {
        let output = try Command.run("mdb_stat", ["-a", dir.path])
        #expect(output.status == 0, "\(output.stderr)")
        let sections = Self.sections(output.output)
        #expect(sections["Main DB"]?["Entries"] == 3)
        #expect(sections["numbers"]?["Entries"] == 4)
        #expect(sections["blobs"]?["Entries"] == 3)
        #expect(sections["counters"]?["Entries"] == 3)
        for name in ["numbers", "blobs", "counters"] {
            let stat = try #require(try env.stat(table: name))
            let section = try #require(sections[name])
            #expect(section["Tree depth"] == stat.depth)
            #expect(section["Branch pages"] == stat.branchPages)
            #expect(section["Leaf pages"] == stat.leafPages)
            #expect(section["Overflow pages"] == stat.overflowPages)
        }
    }

    @Test func mdbDumpShowsTheExactKeysAndValues() throws {
        let dumpedNumbers = try dump("numbers")
        let expectedNumbers = numbers.sorted { $0.0 < $1.0 }.map { key, value in
            (withUnsafeBytes(of: key.bigEndian) { [UInt8]($0) }, Array(value.utf8))
        }
        #expect(dumpedNumbers.map(\.0) == expectedNumbers.map(\.0))
        #expect(dumpedNumbers.map(\.1) == expectedNumbers.map(\.1))
        #expect(dumpedNumbers.first?.0 == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(dumpedNumbers.last?.0 == [UInt8](repeating: 0xFF, count: 8))

        let dumpedBlobs = try dump("blobs")
        let expectedBlobs = blobs.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        #expect(dumpedBlobs.map(\.0) == expectedBlobs.map(\.0))
        #expect(dumpedBlobs.map(\.1) == expectedBlobs.map(\.1))

        let dumpedCounters = try dump("counters")
        #expect(dumpedCounters.map(\.0) == [[0x61], [0x62], [0x63]])
        #expect(dumpedCounters.map(\.1) == [[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3]])
    }

    @Test func mdbStatEnvironmentInfoAgreesWithInfo() throws {
        let info = try env.info()
        let output = try Command.run("mdb_stat", ["-e", dir.path])
        #expect(output.status == 0, "\(output.stderr)")
        let values = try #require(Self.sections(output.output)["Environment Info"])
        #expect(values["Map size"] == info.mapSize)
        #expect(values["Page size"] == info.pageSize)
        #expect(values["Number of pages used"] == info.lastPageNumber + 1)
        #expect(values["Last transaction ID"] == info.lastTransactionID)
        #expect(values["Max readers"] == info.maxReaders)
        #expect(values["Number of readers used"] == info.readersUsed)
        #expect(info.lastTransactionID == 2)
        #expect(info.maxReaders == 126)
    }

    /// The key/value pairs of `mdb_dump -s table`, whose data lines are " <hex key>" and " <hex value>" in turn.
    private func dump(_ table: String) throws -> [([UInt8], [UInt8])] {
        let output = try Command.run("mdb_dump", ["-s", table, dir.path])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.output.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex(of: "HEADER=END"))
        let end = try #require(lines.firstIndex(of: "DATA=END"))
        let data = lines[(header + 1)..<end]
        #expect(data.allSatisfy { $0.hasPrefix(" ") })
        let decoded = try data.map { try #require(unhex($0.dropFirst())) }
        #expect(decoded.count % 2 == 0)
        return stride(from: 0, to: decoded.count - 1, by: 2).map { (decoded[$0], decoded[$0 + 1]) }
    }

    /// Parses `mdb_stat` output: "Status of NAME" / "Environment Info" headings with "  Field: number" lines.
    static func sections(_ output: String) -> [String: [String: Int]] {
        var result: [String: [String: Int]] = [:]
        var current = ""
        for line in output.split(separator: "\n") {
            if !line.hasPrefix(" ") {
                current = line.hasPrefix("Status of ") ? String(line.dropFirst("Status of ".count)) : String(line)
                continue
            }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let field = parts[0].trimmingCharacters(in: .whitespaces)
            if let value = Int(parts[1].trimmingCharacters(in: .whitespaces)) {
                result[current, default: [:]][field] = value
            }
        }
        return result
    }
}
