import Primitives

/// Where account data lives in the state: every key is the SHA-256 of a tag byte and the fields it
/// names, so the tree's keys are uniformly spread and kinds never collide.
///
/// | key | value |
/// | --- | --- |
/// | `SHA-256(0x01 ‖ address)` | the account's next nonce (u64 BE); absent means 0 |
/// | `SHA-256(0x02 ‖ address ‖ asset name (canonical))` | the balance (u64 BE); absent means 0, zero is never stored |
public enum StateKey {
    /// The key of `address`'s nonce.
    public static func nonce(_ address: Address) -> Hash {
        var e = CanonicalEncoder(reservingCapacity: 21)
        e.write(UInt8(0x01))
        e.write(address)
        return Hash.sha256(e.bytes)
    }

    /// The key of `address`'s balance of `asset`.
    public static func balance(_ address: Address, _ asset: AssetName) -> Hash {
        var e = CanonicalEncoder(reservingCapacity: 60)
        e.write(UInt8(0x02))
        e.write(address)
        e.write(asset)
        return Hash.sha256(e.bytes)
    }
}

/// Typed account reads and writes over a block's overlay.
public struct Accounts {
    public let state: StateOverlay

    public init(_ state: StateOverlay) { self.state = state }

    /// The next nonce `address` must use.
    public func nonce(of address: Address) throws -> UInt64 {
        try Self.decodeAmount(try state.get(StateKey.nonce(address)), what: "nonce")
    }

    public func setNonce(_ nonce: UInt64, of address: Address) {
        state.set(StateKey.nonce(address), nonce == 0 ? nil : nonce.canonicalBytes)
    }

    /// `address`'s balance of `asset`.
    public func balance(of address: Address, _ asset: AssetName) throws -> UInt64 {
        try Self.decodeAmount(try state.get(StateKey.balance(address, asset)), what: "balance")
    }

    public func setBalance(_ amount: UInt64, of address: Address, _ asset: AssetName) {
        state.set(StateKey.balance(address, asset), amount == 0 ? nil : amount.canonicalBytes)
    }

    static func decodeAmount(_ raw: [UInt8]?, what: String) throws -> UInt64 {
        guard let raw else { return 0 }
        let value = try UInt64(canonicalBytes: raw)
        // Zero is stored as absence, so a stored zero is a second encoding of the same state.
        guard value != 0 else { throw CanonicalDecodingError.nonCanonical("a stored \(what) of zero") }
        return value
    }
}
