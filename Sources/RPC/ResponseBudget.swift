import Config
import Synchronization

/// The bytes of JSON one HTTP request may make a node serialise, shared by every call of a JSON-RPC
/// batch (docs/rpc.md, "Response size").
///
/// Without it, a batch of 1,000 `l1_getBlobs` calls makes the L1 build 1,000 answers of up to 32 MiB
/// of hex each before it writes one byte. The dispatcher charges each answer's size as it is made;
/// the first answer that would go over is replaced by error -32040 (`responseTooLarge`), and so is
/// every later call of the batch (the calls before keep their answers). Handlers that can answer
/// with much (`l1_getBlobs`) read `remaining` first and shorten their answer to fit.
public final class ResponseBudget: Sendable {
    /// The budget this request started with.
    public let limit: Int
    private let left: Mutex<Int>

    public init(limit: Int) {
        self.limit = limit
        left = Mutex(limit)
    }

    /// The bytes still available.
    public var remaining: Int { left.withLock { $0 } }

    /// Takes `bytes` from the budget; false (and nothing taken) when fewer remain.
    public func charge(_ bytes: Int) -> Bool {
        left.withLock { left in
            guard bytes <= left else { return false }
            left -= bytes
            return true
        }
    }

    /// The budget of the request the current task serves, if the dispatcher set one.
    @TaskLocal public static var current: ResponseBudget?
}

extension RPCError {
    /// The code of `responseTooLarge`.
    public static let responseTooLargeCode = -32040

    /// The answer would exceed what is left of the request's response budget.
    public static func responseTooLarge(limit: Int) -> RPCError {
        RPCError(
            code: responseTooLargeCode,
            message:
                "the response would exceed this request's budget of \(limit) bytes (shared by every call of a batch): ask for less (a smaller limit) or split the batch"
        )
    }
}

extension JSONValue {
    /// The size of the value's JSON text, counting strings unescaped (an estimate from below only for
    /// strings with characters JSON escapes; the answers that matter are hex).
    public var serializedSizeEstimate: Int {
        switch self {
        case .null: return 4
        case .bool(let b): return b ? 4 : 5
        case .integer, .unsigned, .fraction: return 20
        case .string(let s): return s.utf8.count + 2
        case .array(let items): return 2 + items.reduce(0) { $0 + $1.serializedSizeEstimate + 1 }
        case .object(let fields):
            return 2 + fields.reduce(0) { $0 + $1.key.utf8.count + 4 + $1.value.serializedSizeEstimate }
        }
    }
}
