/// A type stored as the key or value of a table, converted to and from raw bytes.
///
/// For keys, the lexicographic order of the bytes is the iteration order of cursors, so encodings of ordered keys
/// must preserve order (fixed-width big-endian integers do). A conformance should throw
/// `StorageError.decoding(table: "", reason:)` for malformed bytes; the transaction fills in the table's name.
/// Other errors thrown by a conformance reach the caller unchanged.
public protocol StorageCodable {
    /// Calls `body` with the stored bytes of the value; the buffer is valid only during the call.
    func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// Decodes a value from stored bytes; the buffer is valid only during the call, so copy what must outlive it.
    init(storageBytes: UnsafeRawBufferPointer) throws
}

extension Array: StorageCodable where Element == UInt8 {
    /// The bytes themselves.
    @inlinable
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }

    /// A copy of the bytes.
    @inlinable
    public init(storageBytes: UnsafeRawBufferPointer) throws {
        self.init(storageBytes)
    }
}

extension UInt64: StorageCodable {
    /// Eight bytes, big-endian, so that key order is numeric order.
    @inlinable
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian, body)
    }

    /// Decodes eight big-endian bytes; any other length throws `StorageError.decoding`.
    @inlinable
    public init(storageBytes: UnsafeRawBufferPointer) throws {
        guard storageBytes.count == 8 else {
            throw StorageError.decoding(table: "", reason: "expected 8 bytes for a UInt64, found \(storageBytes.count)")
        }
        self.init(bigEndian: storageBytes.loadUnaligned(as: UInt64.self))
    }
}

extension UInt32: StorageCodable {
    /// Four bytes, big-endian, so that key order is numeric order.
    @inlinable
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian, body)
    }

    /// Decodes four big-endian bytes; any other length throws `StorageError.decoding`.
    @inlinable
    public init(storageBytes: UnsafeRawBufferPointer) throws {
        guard storageBytes.count == 4 else {
            throw StorageError.decoding(table: "", reason: "expected 4 bytes for a UInt32, found \(storageBytes.count)")
        }
        self.init(bigEndian: storageBytes.loadUnaligned(as: UInt32.self))
    }
}

extension String: StorageCodable {
    /// The UTF-8 bytes, without a terminator.
    @inlinable
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Decodes UTF-8; bytes that are not valid UTF-8 throw `StorageError.decoding`.
    @inlinable
    public init(storageBytes: UnsafeRawBufferPointer) throws {
        let decoded = String(decoding: storageBytes, as: UTF8.self)
        guard decoded.utf8.elementsEqual(storageBytes) else {
            throw StorageError.decoding(table: "", reason: "the \(storageBytes.count) bytes are not valid UTF-8")
        }
        self = decoded
    }
}
