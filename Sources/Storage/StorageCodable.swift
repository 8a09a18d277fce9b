/// A value with a byte form for LMDB keys and values.
///
/// For keys, the lexicographic order of the bytes is the iteration order of cursors, so integers
/// are stored big-endian. `withStorageBytes` hands out bytes without allocating where it can;
/// `init(storageBytes:)` must reject bytes of the wrong shape (the store may be damaged).
public protocol StorageCodable {
    /// Calls `body` with the stored form of `self`.
    func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// Reads a value back from its stored form.
    init(storageBytes: UnsafeRawBufferPointer) throws
}

extension Array: StorageCodable where Element == UInt8 {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws { self.init(raw) }
}

extension UInt64: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian) { try body($0) }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard raw.count == 8 else {
            throw StorageError.decoding(table: "", reason: "a UInt64 is 8 bytes, got \(raw.count)")
        }
        self.init(bigEndian: raw.loadUnaligned(as: UInt64.self))
    }
}

extension UInt32: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian) { try body($0) }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard raw.count == 4 else {
            throw StorageError.decoding(table: "", reason: "a UInt32 is 4 bytes, got \(raw.count)")
        }
        self.init(bigEndian: raw.loadUnaligned(as: UInt32.self))
    }
}

extension String: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw StorageError.decoding(table: "", reason: "stored string is not valid UTF-8")
        }
        self = s
    }
}

/// A named LMDB sub-database with typed keys and values. Declare one per table, once, with a doc
/// line saying what it maps:
///
///     /// Height -> header, the primary source for headers.
///     enum HeaderByHeight: Table {
///         static let name = "header_by_height"
///         typealias Key = UInt64
///         typealias Value = Header
///     }
public protocol Table {
    associatedtype Key: StorageCodable
    associatedtype Value: StorageCodable
    /// The sub-database's name, as `mdb_stat -a` and `mdb_dump -s` show it.
    static var name: String { get }
}
