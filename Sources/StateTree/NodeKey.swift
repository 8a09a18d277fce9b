import Primitives

/// A tree version: the block height whose state the tree holds. Versions strictly increase.
public typealias Version = UInt64

/// The first `count` nibbles of a key hash: the position of a stored node in the 16-ary layout.
public struct NibblePath: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The nibbles, left-aligned in a hash whose remaining bits are zero.
    public let prefix: Hash
    /// The number of nibbles (0...64).
    public let count: Int

    /// The root position.
    public static let root = NibblePath(prefix: .zero, count: 0)

    @inlinable
    init(prefix: Hash, count: Int) {
        self.prefix = prefix
        self.count = count
    }

    /// The first `count` nibbles of `key`.
    public init(key: Hash, count: Int) {
        precondition((0...64).contains(count))
        self.init(prefix: key.keepingPrefix(bits: count * 4), count: count)
    }

    /// The path one nibble deeper.
    @inlinable
    public func child(_ nibble: UInt8) -> NibblePath {
        NibblePath(prefix: prefix.settingNibble(count, to: nibble), count: count + 1)
    }

    public static func < (lhs: NibblePath, rhs: NibblePath) -> Bool {
        lhs.prefix != rhs.prefix ? lhs.prefix < rhs.prefix : lhs.count < rhs.count
    }

    public var description: String {
        String(Hex.encode(prefix.bytes).prefix(count))
    }
}

/// The storage key of a node: the version that wrote it and its position.
///
/// Encoded as `version (8 bytes BE) || nibble count (1) || ceil(count / 2) packed nibble bytes`, so
/// all nodes written by one version sort together after every earlier version's nodes.
public struct NodeKey: Hashable, Sendable, CustomStringConvertible {
    public let version: Version
    public let path: NibblePath

    public init(version: Version, path: NibblePath) {
        self.version = version
        self.path = path
    }

    /// The most bytes an encoded key takes.
    static let maxEncodedCount = 9 + 32

    /// Writes the encoded key at `out` (room for `maxEncodedCount` bytes); returns its length.
    func write(to out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: version.bigEndian, as: UInt64.self)
        out.storeBytes(of: UInt8(path.count), toByteOffset: 8, as: UInt8.self)
        let packed = (path.count + 1) / 2
        path.prefix.withUnsafeBytes { (out + 9).copyMemory(from: $0.baseAddress!, byteCount: packed) }
        return 9 + packed
    }

    /// Calls `body` with the encoded key, built on the stack.
    public func withEncoded<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withStackEncoding(capacity: Self.maxEncodedCount, write(to:), body)
    }

    /// The encoded key.
    public var encoded: [UInt8] { withEncoded { Array($0) } }

    /// Decodes an encoded key, rejecting wrong lengths and stray nibble bits.
    public init(encoded raw: UnsafeRawBufferPointer) throws(StateTreeError) {
        guard raw.count >= 9 else { throw .corrupt("node key of \(raw.count) bytes") }
        let version = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let count = Int(raw[8])
        guard count <= 64, raw.count == 9 + (count + 1) / 2 else {
            throw .corrupt("node key with \(count) nibbles in \(raw.count) bytes")
        }
        var full = [UInt8](repeating: 0, count: 32)
        for i in 0..<(raw.count - 9) { full[i] = raw[9 + i] }
        let prefix = full.withUnsafeBytes { Hash(unchecked: $0) }
        guard prefix.keepingPrefix(bits: count * 4) == prefix else {
            throw .corrupt("node key has bits past its \(count) nibbles")
        }
        self.init(version: version, path: NibblePath(prefix: prefix, count: count))
    }

    public var description: String { "\(version)/\(path)" }
}

/// What the tree can fail with.
public enum StateTreeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A node the tree refers to is not in the store (pruned, or the store is damaged).
    case missingNode(NodeKey)
    /// A value a leaf refers to is not in the store.
    case missingValue(key: Hash, version: Version)
    /// No root is recorded for this version (never written, or pruned).
    case unknownVersion(Version)
    /// A new version must be greater than the version it builds on and every stored one.
    case versionNotIncreasing(base: Version?, new: Version)
    /// Stored bytes do not decode as a tree node or key.
    case corrupt(String)
    /// A witness does not cover this key (its path ends in an opaque subtree).
    case keyNotInWitness(Hash)
    /// A witness proves this key is present but does not carry its value.
    case valueNotInWitness(Hash)
    /// A witness does not hash to the expected root.
    case witnessRootMismatch(expected: Hash, actual: Hash)
    /// A witness is malformed or not canonical.
    case malformedWitness(String)

    public var description: String {
        switch self {
        case .missingNode(let key): return "state node \(key) is missing from the store"
        case .missingValue(let key, let version): return "state value of \(key) at version \(version) is missing"
        case .unknownVersion(let v): return "no state root is stored for version \(v) (never written or pruned)"
        case .versionNotIncreasing(let base, let new):
            return
                "new version \(new) must be greater than base \(base.map(String.init) ?? "none") and every stored version"
        case .corrupt(let why): return "corrupt state tree data: \(why)"
        case .keyNotInWitness(let key): return "the witness does not cover key \(key)"
        case .valueNotInWitness(let key): return "the witness does not carry the value of key \(key)"
        case .witnessRootMismatch(let expected, let actual):
            return "the witness hashes to \(actual), expected root \(expected)"
        case .malformedWitness(let why): return "malformed witness: \(why)"
        }
    }
}

/// Encodes into a stack buffer of `capacity` bytes with `write` (which returns the length written)
/// and calls `body` with the bytes: the allocation-free path of every stored key and node.
func withStackEncoding<R>(
    capacity: Int, _ write: (UnsafeMutableRawPointer) -> Int, _ body: (UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    try withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 8) { buffer in
        let count = write(buffer.baseAddress!)
        return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<count]))
    }
}
