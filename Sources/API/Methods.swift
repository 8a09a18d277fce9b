// The RPC API's method names, written once: the servers register these, the typed clients call
// them, docs/rpc.md lists them (a test keeps the three in step).

/// The `l1_*` methods of the L1 node (docs/rpc.md).
public enum L1Method: String, CaseIterable, Sendable {
    case blockNumber = "l1_blockNumber"
    case challenge = "l1_challenge"
    case getBalance = "l1_getBalance"
    case getBlob = "l1_getBlob"
    case getBlobs = "l1_getBlobs"
    case getBlock = "l1_getBlock"
    case getChallenge = "l1_getChallenge"
    case getOutputs = "l1_getOutputs"
    case postBlob = "l1_postBlob"
    case proposeOutput = "l1_proposeOutput"
    case status = "l1_status"
}

/// The `rollup_*` methods of a rollup node (docs/rpc.md).
public enum RollupMethod: String, CaseIterable, Sendable {
    case blockNumber = "rollup_blockNumber"
    case getAccount = "rollup_getAccount"
    case getBlock = "rollup_getBlock"
    case getEscrow = "rollup_getEscrow"
    case getMailbox = "rollup_getMailbox"
    case getMessage = "rollup_getMessage"
    case getMessageProof = "rollup_getMessageProof"
    case getMessageStatus = "rollup_getMessageStatus"
    case getMessages = "rollup_getMessages"
    case getNonce = "rollup_getNonce"
    case getReceipt = "rollup_getReceipt"
    case getRelay = "rollup_getRelay"
    case getTransaction = "rollup_getTransaction"
    case sendTransaction = "rollup_sendTransaction"
    case status = "rollup_status"
}
