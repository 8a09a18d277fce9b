import Primitives

/// What can go wrong with a chain store (a rollup's or the L1's) beyond storage errors.
public enum ChainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The store was created for another genesis (or another rollup).
    case genesisMismatch(stored: Hash, expected: Hash)
    /// The store has data but no head pointer, or a head without its header.
    case corrupt(String)
    /// The store was written by a tributary whose records have another layout.
    case otherLayout(found: UInt64, expected: UInt64)
    /// Verification found a block whose stored data disagrees with its re-execution.
    case verificationFailed(height: UInt64, what: String)

    public var description: String {
        switch self {
        case .genesisMismatch(let stored, let expected):
            return
                "the store belongs to genesis \(stored), not \(expected): use another --datadir or the matching genesis"
        case .corrupt(let why): return "the chain store is damaged: \(why)"
        case .otherLayout(let found, let expected):
            return
                "the store was written by another tributary version (store layout \(found); this one reads layout \(expected)); start on a fresh datadir (Scripts/devnet up --fresh, or remove --datadir)"
        case .verificationFailed(let height, let what): return "block \(height) does not verify: \(what)"
        }
    }
}
