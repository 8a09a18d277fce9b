import Testing

@testable import Storage

private func bytes<T: StorageCodable>(_ value: T) -> [UInt8] {
    value.withStorageBytes { [UInt8]($0) }
}

private func decoded<T: StorageCodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
    try bytes.withUnsafeBytes { try T(storageBytes: $0) }
}

@Test func integersEncodeAsFixedWidthBigEndian() throws {
    #expect(bytes(UInt64(0x0102_0304_0506_0708)) == [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(bytes(UInt32(0x0A0B_0C0D)) == [0x0A, 0x0B, 0x0C, 0x0D])
    #expect(bytes(UInt64(0)) == [UInt8](repeating: 0, count: 8))
    #expect(try decoded(UInt64.self, [0, 0, 0, 0, 0, 0, 1, 0]) == 256)
    #expect(try decoded(UInt32.self, [0xFF, 0xFF, 0xFF, 0xFF]) == UInt32.max)
}

@Test func integerByteOrderMatchesNumericOrder() {
    let values: [UInt64] = [0, 1, 255, 256, 257, 65_535, 65_536, 1 << 32, UInt64.max - 1, UInt64.max]
    for (a, b) in zip(values, values.dropFirst()) {
        #expect(bytes(a).lexicographicallyPrecedes(bytes(b)), "\(a) should sort before \(b)")
    }
}

@Test func wrongLengthIntegersThrowDecoding() {
    #expect {
        _ = try decoded(UInt64.self, [1, 2, 3])
    } throws: { error in
        guard case StorageError.decoding(_, let reason) = error else { return false }
        return reason.contains("8 bytes")
    }
    #expect {
        _ = try decoded(UInt32.self, [1, 2, 3, 4, 5])
    } throws: { error in
        guard case StorageError.decoding(_, let reason) = error else { return false }
        return reason.contains("4 bytes")
    }
}

@Test func stringsRoundTripAsUTF8AndRejectInvalidBytes() throws {
    #expect(bytes("héllo") == Array("héllo".utf8))
    #expect(try decoded(String.self, Array("ünïcode ✓".utf8)) == "ünïcode ✓")
    #expect(try decoded(String.self, []) == "")
    #expect(throws: StorageError.self) { try decoded(String.self, [0x66, 0xFF, 0x6F]) }
}

@Test func byteArraysRoundTripUnchanged() throws {
    let value: [UInt8] = [0, 1, 2, 0xFE, 0xFF]
    #expect(bytes(value) == value)
    #expect(try decoded([UInt8].self, value) == value)
}

@Test func prefixSuccessorIsTheSmallestGreaterString() {
    #expect(ReadTransaction.prefixSuccessor([1, 2, 3]) == [1, 2, 4])
    #expect(ReadTransaction.prefixSuccessor([1, 0xFF, 0xFF]) == [2])
    #expect(ReadTransaction.prefixSuccessor([0xFF, 0xFF]) == nil)
    #expect(ReadTransaction.prefixSuccessor([]) == nil)
}
