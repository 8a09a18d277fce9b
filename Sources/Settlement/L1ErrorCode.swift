/// Application error codes of the L1 RPC (docs/rpc.md).
public enum L1ErrorCode: Sendable {
    public static let unknownRollup = -32020
    public static let unauthorized = -32021
    public static let tooLarge = -32022
    public static let badBlob = -32023
    public static let seqConflict = -32024
    public static let outOfOrder = -32025
    public static let insufficientBond = -32026
    public static let outputRejected = -32027
    public static let challengeRejected = -32028
    public static let windowClosed = -32029
    public static let notFound = -32030
    public static let alreadyInvalidated = -32031
    /// The block already holds `l1.maxChallengesPerBlock` adjudicated challenges: resubmit (retryable).
    public static let challengeCapReached = -32032
    /// The proposal's parent is not the newest standing output (another was accepted above it, or
    /// one was invalidated): check the newest and build on it. Nothing changed.
    public static let staleParent = -32033
}
