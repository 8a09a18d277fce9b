import Primitives

/// Decodes exactly one `T` from `bytes` and, when that succeeds, checks the codec's promises: the
/// value re-encodes to exactly `bytes` (one encoding per value), the re-encoding decodes to an
/// equal value, and no strict prefix of `bytes` decodes (an encoding ends where its value ends).
/// Returns the value, or nil when `bytes` is not an encoding of a `T`.
func canonicalValue<T: CanonicalCodable & Equatable>(_: T.Type, _ bytes: [UInt8], input: [UInt8]) -> T? {
    guard let value = try? T(canonicalBytes: bytes) else { return nil }
    let encoded = value.canonicalBytes
    fuzzCheck(encoded == bytes, "\(T.self) decodes from bytes that are not its encoding \(encoded)", input: input)
    let again: T
    do { again = try T(canonicalBytes: encoded) } catch {
        fuzzFailure("the encoding of a decoded \(T.self) does not decode: \(error)", input: input)
    }
    fuzzCheck(again == value, "\(T.self) changes in a round trip", input: input)
    if !bytes.isEmpty {
        fuzzCheck(
            (try? T(canonicalBytes: Array(bytes.dropLast()))) == nil,
            "a strict prefix of a \(T.self) encoding decodes too", input: input)
    }
    return value
}
