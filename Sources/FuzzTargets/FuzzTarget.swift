import Foundation

/// The decoder fuzz targets (docs/reliability.md, "Decoder fuzzing"). Each takes arbitrary bytes,
/// runs them through the product's real decoders and, when a decode succeeds, checks the
/// properties that must hold for every value: the canonical encoding is unique, decoding the
/// re-encoding gives the same value, and verification answers rather than traps.
///
/// A target returns normally for every input. A broken property prints what failed and calls
/// `abort()`, which libFuzzer reports as a crash and saves the input (a Swift trap inside an
/// ASan'd libFuzzer binary can hang instead of exiting, so properties never use `precondition`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The canonical codec of every consensus type (`fuzzCodec`).
    case codec
    /// Batch frames: zstd, then the batch payload, against a batch header (`fuzzBatch`).
    case batch
    /// Outbox and state proofs, fraud proofs and challenges (`fuzzProofs`).
    case proofs
    /// Witness decoding, validation and reads and writes on the witness tree (`fuzzWitness`).
    case witness

    /// Runs the target on one input; returns whether the input decoded (and, for witnesses,
    /// validated), so tests can tell seeds that reach the checks from inputs refused early.
    @discardableResult
    public func run(_ input: [UInt8]) -> Bool {
        switch self {
        case .codec: fuzzCodec(input)
        case .batch: fuzzBatch(input)
        case .proofs: fuzzProofs(input)
        case .witness: fuzzWitness(input)
        }
    }
}

/// Reports a broken property and ends the process with SIGABRT.
func fuzzFailure(_ what: String, input: [UInt8]) -> Never {
    let shown = input.prefix(256).map { byte in
        let digits = String(byte, radix: 16)
        return byte < 16 ? "0" + digits : digits
    }.joined()
    FileHandle.standardError.write(Data("fuzz property failed: \(what)\ninput (\(input.count) bytes): \(shown)\n".utf8))
    abort()
}

/// Checks `condition`, reporting `what` as a broken property when it is false.
func fuzzCheck(_ condition: Bool, _ what: @autoclosure () -> String, input: [UInt8]) {
    if !condition { fuzzFailure(what(), input: input) }
}
