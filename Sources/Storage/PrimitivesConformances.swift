import Primitives

// Storage forms of the consensus identifiers, so tables can key on them directly. Fixed width and
// big-endian throughout, so cursors iterate in numeric (or byte) order.

extension Hash: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard raw.count == 32 else {
            throw StorageError.decoding(table: "", reason: "a hash is 32 bytes, got \(raw.count)")
        }
        self.init(unchecked: raw)
    }
}

extension RollupID: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try rawValue.withStorageBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        self.init(rawValue: try UInt32(storageBytes: raw))
    }
}

extension Address: StorageCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        guard let address = Address(bytes: raw) else {
            throw StorageError.decoding(table: "", reason: "an address is 20 bytes, got \(raw.count)")
        }
        self = address
    }
}

/// Consensus values are stored in their canonical encoding: declare `extension T: StorageCodable {}`.
extension StorageCodable where Self: CanonicalCodable {
    public func withStorageBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try canonicalBytes.withUnsafeBytes(body)
    }

    public init(storageBytes raw: UnsafeRawBufferPointer) throws {
        try self.init(canonicalBytes: Array(raw))
    }
}
