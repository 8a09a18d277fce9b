import Config
import Primitives
import RPC
import StateMachine

// The `rollup_*` namespace (docs/rpc.md), written once: its result types (each with its one JSON
// form), the protocol every implementation conforms to — a rollup node's server (`RollupRPC`),
// the typed client over HTTP or in process (`RollupClient`) — and the binding that serves any
// implementation's methods from JSON-RPC requests.

/// A rollup node's methods, typed. `register(into:maxTransactionBytes:)` serves any implementation.
public protocol RollupAPI: Sendable {
    func blockNumber() async throws -> UInt64
    func status() async throws -> RollupNodeStatus
    /// Submits a signed transaction to the mempool; returns its id.
    func sendTransaction(_ tx: SignedTransaction) async throws -> Hash
    func transaction(_ id: Hash) async throws -> TransactionLookup?
    func receipt(_ id: Hash) async throws -> TransactionReceipt?
    /// The block a selector names (nil: the head), with its transactions whole (`full`) or as ids.
    func block(_ selector: BlockSelector?, full: Bool) async throws -> RollupBlock?
    /// The account at the head: the native asset's balance, or `assets`'; with state proofs on `proof`.
    func account(_ address: Address, assets: [AssetName]?, proof: Bool) async throws -> Account
    func nonce(of address: Address) async throws -> AccountNonces
    func message(_ id: Hash) async throws -> SentMessage?
    /// Messages sent (to `destination`, or all) from a nonce on, in blocks up to `through` (nil: the
    /// head), at most `limit` (≤ 1000, default 100), each with its proof against the outbox after
    /// `through`; nil when the node holds no block `through`.
    func messages(to destination: RollupID?, fromNonce: UInt64, through: UInt64?, limit: UInt64?) async throws
        -> MessagesPage?
    func messageProof(_ id: Hash, through: UInt64?) async throws -> MessageProof?
    func relay(_ id: Hash) async throws -> Relay?
    func messageStatus(_ id: Hash) async throws -> MessageStatus?
    func mailbox(recipient: Address, source: RollupID, sender: Address) async throws -> [UInt8]?
    func escrow(_ id: Hash) async throws -> Escrow?
}

/// Which block `rollup_getBlock` returns.
public enum BlockSelector: Sendable, Hashable {
    case latest
    case height(UInt64)
    case hash(Hash)

    public var json: JSONValue {
        switch self {
        case .latest: return .string("latest")
        case .height(let h): return .number(h)
        case .hash(let hash): return .string(hash.hex)
        }
    }
}

// MARK: Result types

/// `rollup_status`: who the node is, its head, its mempool and — unless standalone — its view of the L1.
public struct RollupNodeStatus: APIValue, Equatable {
    /// What the node does: produce blocks, or derive them from the L1.
    public enum Mode: String, Sendable {
        case sequencer, follower
    }

    /// The node's view of the L1 (absent on a `--standalone` node).
    public struct L1View: Sendable, Equatable {
        public var url: String
        /// The L1 height the node last saw.
        public var height: UInt64
        public var daHeight: UInt64?
        public var finalizedHeight: UInt64?
        public var brokenAt: UInt64?
        /// The first height whose posted header disagrees with re-execution.
        public var firstFault: UInt64?
        /// Why derivation cannot go on.
        public var halted: String?

        public init(
            url: String, height: UInt64, daHeight: UInt64? = nil, finalizedHeight: UInt64? = nil,
            brokenAt: UInt64? = nil, firstFault: UInt64? = nil, halted: String? = nil
        ) {
            self.url = url
            self.height = height
            self.daHeight = daHeight
            self.finalizedHeight = finalizedHeight
            self.brokenAt = brokenAt
            self.firstFault = firstFault
            self.halted = halted
        }
    }

    public var rollup: RollupID
    public var name: String
    public var nativeAsset: AssetName
    public var genesisHash: Hash
    public var head: BlockHeader
    /// Transactions in the mempool.
    public var mempool: UInt64
    public var sequencer: Address
    public var mode: Mode
    public var minFeePerByte: UInt64
    public var l1: L1View?

    public init(
        rollup: RollupID, name: String, nativeAsset: AssetName, genesisHash: Hash, head: BlockHeader, mempool: UInt64,
        sequencer: Address, mode: Mode, minFeePerByte: UInt64, l1: L1View?
    ) {
        self.rollup = rollup
        self.name = name
        self.nativeAsset = nativeAsset
        self.genesisHash = genesisHash
        self.head = head
        self.mempool = mempool
        self.sequencer = sequencer
        self.mode = mode
        self.minFeePerByte = minFeePerByte
        self.l1 = l1
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "rollup": .number(rollup.rawValue), "name": .string(name), "nativeAsset": .string(nativeAsset.rawValue),
            "genesisHash": .string(genesisHash.hex), "head": .object(JSONForm.json(head)), "mempool": .number(mempool),
            "sequencer": .string(sequencer.hex), "mode": .string(mode.rawValue),
            "minFeePerByte": .number(minFeePerByte),
        ]
        if let l1 {
            var v: [String: JSONValue] = ["url": .string(l1.url), "height": .number(l1.height)]
            if let daHeight = l1.daHeight {
                v["daHeight"] = .number(daHeight)
                v["finalizedHeight"] = l1.finalizedHeight.map { .number($0) } ?? .null
                v["brokenAt"] = l1.brokenAt.map { .number($0) } ?? .null
            }
            if let fault = l1.firstFault { v["firstFault"] = .number(fault) }
            if let halted = l1.halted { v["halted"] = .string(halted) }
            o["l1"] = .object(v)
        }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "rollup status")
        guard let asset = AssetName(rawValue: try f.string("nativeAsset")) else { throw f.malformed("nativeAsset") }
        guard let mode = Mode(rawValue: try f.string("mode")) else { throw f.malformed("mode") }
        var l1: L1View?
        if let view = json["l1"], view != .null {
            let v = try JSONFields(view, "rollup status l1")
            l1 = L1View(
                url: try v.string("url"), height: try v.unsigned("height"), daHeight: try v.optionalUnsigned("daHeight"),
                finalizedHeight: try v.optionalUnsigned("finalizedHeight"), brokenAt: try v.optionalUnsigned("brokenAt"),
                firstFault: try v.optionalUnsigned("firstFault"),
                halted: v.isAbsent("halted") ? nil : try v.string("halted"))
        }
        self.init(
            rollup: try f.rollup("rollup"), name: try f.string("name"), nativeAsset: asset,
            genesisHash: try f.hex("genesisHash"), head: try JSONForm.header(json["head"] ?? .null),
            mempool: try f.unsigned("mempool"), sequencer: try f.hex("sequencer"), mode: mode,
            minFeePerByte: try f.unsigned("minFeePerByte"), l1: l1)
    }
}

/// `rollup_getNonce`: the committed next nonce and the next after the sender's pending transactions
/// (what a client signs its next transaction with).
public struct AccountNonces: APIValue, Equatable {
    public var nonce: UInt64
    public var pending: UInt64

    public init(nonce: UInt64, pending: UInt64) {
        self.nonce = nonce
        self.pending = pending
    }

    public var json: JSONValue { .object(["nonce": .number(nonce), "pending": .number(pending)]) }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "nonces")
        self.init(nonce: try f.unsigned("nonce"), pending: try f.unsigned("pending"))
    }
}

/// `rollup_getAccount`: nonces and balances at the head, optionally with state proofs (the hex of
/// `SparseMerkleProof`s against `stateRoot`, keyed `nonce` and `balance:ASSET`).
public struct Account: APIValue, Equatable {
    public var address: Address
    public var nonce: UInt64
    public var pendingNonce: UInt64
    public var balances: [AssetName: UInt64]
    public var height: UInt64
    public var stateRoot: Hash
    public var proofs: [String: [UInt8]]?

    public init(
        address: Address, nonce: UInt64, pendingNonce: UInt64, balances: [AssetName: UInt64], height: UInt64,
        stateRoot: Hash, proofs: [String: [UInt8]]?
    ) {
        self.address = address
        self.nonce = nonce
        self.pendingNonce = pendingNonce
        self.balances = balances
        self.height = height
        self.stateRoot = stateRoot
        self.proofs = proofs
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "address": .string(address.hex), "nonce": .number(nonce), "pendingNonce": .number(pendingNonce),
            "balances": .object(Dictionary(uniqueKeysWithValues: balances.map { ($0.key.rawValue, .number($0.value)) })),
            "height": .number(height), "stateRoot": .string(stateRoot.hex),
        ]
        if let proofs {
            o["proofs"] = .object(proofs.mapValues { .string("0x" + Hex.encode($0)) })
        }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "account")
        guard case .object(let raw)? = json["balances"] else { throw f.malformed("balances") }
        var balances: [AssetName: UInt64] = [:]
        for (name, amount) in raw {
            guard let asset = AssetName(rawValue: name), let n = amount.unsignedValue else { throw f.malformed("balances") }
            balances[asset] = n
        }
        var proofs: [String: [UInt8]]?
        if case .object(let items)? = json["proofs"] {
            proofs = try items.mapValues { value in
                guard let text = value.stringValue, let bytes = try? Hex.decode(text) else { throw f.malformed("proofs") }
                return bytes
            }
        }
        self.init(
            address: try f.hex("address"), nonce: try f.unsigned("nonce"), pendingNonce: try f.unsigned("pendingNonce"),
            balances: balances, height: try f.unsigned("height"), stateRoot: try f.hex("stateRoot"), proofs: proofs)
    }
}

/// `rollup_getTransaction`: an included transaction with where it is, or one still in (or dropped
/// from) the mempool.
public enum TransactionLookup: APIValue, Equatable {
    case included(SignedTransaction, blockHeight: UInt64, blockHash: Hash, index: UInt64)
    case pending(Hash)
    case dropped(Hash, reason: String)

    public var id: Hash {
        switch self {
        case .included(let tx, _, _, _): return tx.id
        case .pending(let id), .dropped(let id, _): return id
        }
    }

    public var json: JSONValue {
        switch self {
        case .included(let tx, let height, let hash, let index):
            var o = JSONForm.json(tx)
            o["status"] = .string("included")
            o["blockHeight"] = .number(height)
            o["blockHash"] = .string(hash.hex)
            o["index"] = .number(index)
            return .object(o)
        case .pending(let id): return .object(["id": .string(id.hex), "status": .string("pending")])
        case .dropped(let id, let reason):
            return .object(["id": .string(id.hex), "status": .string("dropped"), "reason": .string(reason)])
        }
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "transaction")
        switch try f.string("status") {
        case "included":
            self = .included(
                try JSONForm.transaction(json), blockHeight: try f.unsigned("blockHeight"),
                blockHash: try f.hex("blockHash"), index: try f.unsigned("index"))
        case "pending": self = .pending(try f.hex("id"))
        case "dropped": self = .dropped(try f.hex("id"), reason: try f.string("reason"))
        default: throw f.malformed("status")
        }
    }
}

extension ReceiptStatus {
    /// The name the RPC uses (docs/rpc.md's table).
    public var name: String { "\(self)" }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}

/// `rollup_getReceipt`: the receipt of an included transaction and where it is.
public struct TransactionReceipt: APIValue, Equatable {
    public var transaction: Hash
    public var status: ReceiptStatus
    public var feePaid: UInt64
    /// The message it sent, and the return message a failed relay sent back (nil: none).
    public var message: Hash?
    public var returnMessage: Hash?
    public var blockHeight: UInt64
    public var blockHash: Hash
    public var index: UInt64

    public init(
        transaction: Hash, status: ReceiptStatus, feePaid: UInt64, message: Hash?, returnMessage: Hash?,
        blockHeight: UInt64, blockHash: Hash, index: UInt64
    ) {
        self.transaction = transaction
        self.status = status
        self.feePaid = feePaid
        self.message = message
        self.returnMessage = returnMessage
        self.blockHeight = blockHeight
        self.blockHash = blockHash
        self.index = index
    }

    public var success: Bool { status == .success }

    public var json: JSONValue {
        .object([
            "transaction": .string(transaction.hex), "status": .string(status.name), "success": .bool(success),
            "feePaid": .number(feePaid), "message": message.map { .string($0.hex) } ?? .null,
            "returnMessage": returnMessage.map { .string($0.hex) } ?? .null, "blockHeight": .number(blockHeight),
            "blockHash": .string(blockHash.hex), "index": .number(index),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "receipt")
        guard let status = ReceiptStatus(name: try f.string("status")) else { throw f.malformed("status") }
        guard try f.bool("success") == (status == .success) else { throw f.malformed("success") }
        self.init(
            transaction: try f.hex("transaction"), status: status, feePaid: try f.unsigned("feePaid"),
            message: try f.optionalHex("message"), returnMessage: try f.optionalHex("returnMessage"),
            blockHeight: try f.unsigned("blockHeight"), blockHash: try f.hex("blockHash"), index: try f.unsigned("index"))
    }
}

/// `rollup_getBlock`: a header and its transactions, whole or as their ids.
public struct RollupBlock: APIValue, Equatable {
    public enum Transactions: Sendable, Equatable {
        case ids([Hash])
        case full([SignedTransaction])

        public var ids: [Hash] {
            switch self {
            case .ids(let ids): return ids
            case .full(let txs): return txs.map(\.id)
            }
        }
    }

    public var header: BlockHeader
    public var transactions: Transactions

    /// An empty block's transactions are `.ids([])` either way: the two forms are the same `[]`.
    public init(_ block: Block, full: Bool) {
        header = block.header
        transactions = full && !block.transactions.isEmpty ? .full(block.transactions) : .ids(block.transactions.map(\.id))
    }

    public var json: JSONValue {
        switch transactions {
        case .full(let txs): return .object(JSONForm.json(Block(header: header, transactions: txs), full: true))
        case .ids(let ids):
            var o = JSONForm.json(header)
            o["transactions"] = .array(ids.map { .string($0.hex) })
            return .object(o)
        }
    }

    /// Reads the block and checks its transactions against the header's transactions root.
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "block")
        header = try JSONForm.header(json)
        let items = try f.array("transactions")
        if items.allSatisfy({ $0.stringValue != nil }) {
            transactions = .ids(
                try items.map { item in
                    guard let text = item.stringValue, let id = try? Hash(hex: text) else {
                        throw f.malformed("transactions")
                    }
                    return id
                })
        } else {
            transactions = .full(try items.map(JSONForm.transaction))
        }
        guard MerkleList.root(transactions.ids) == header.transactionsRoot else {
            throw RPCClient.TransportError.malformedResponse(
                "block \(header.height): its transactions do not give its transactions root")
        }
    }
}

/// A message this rollup sent, with the block that sent it (`rollup_getMessage`; the form adds
/// `encoded`, the message's canonical hex).
public struct SentMessage: APIValue, Equatable {
    public var message: Message
    public var height: UInt64

    public init(message: Message, height: UInt64) {
        self.message = message
        self.height = height
    }

    var fields: [String: JSONValue] {
        var o = JSONForm.json(message)
        o["height"] = .number(height)
        o["encoded"] = .string("0x" + Hex.encode(message.canonicalBytes))
        return o
    }

    public var json: JSONValue { .object(fields) }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "sent message")
        message = try JSONForm.message(json)
        height = try f.unsigned("height")
        guard try f.bytes("encoded") == message.canonicalBytes else { throw f.malformed("encoded") }
    }
}

extension OutboxProof {
    /// `{index, treeSize, path, encoded}`.
    public var json: JSONValue {
        .object([
            "index": .number(index), "treeSize": .number(treeSize), "path": .array(path.map { .string($0.hex) }),
            "encoded": .string("0x" + Hex.encode(canonicalBytes)),
        ])
    }

    /// Reads the proof from its encoding, and checks the fields say the same.
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "outbox proof")
        self = try f.canonical("encoded")
        guard try f.unsigned("index") == index, try f.unsigned("treeSize") == treeSize,
            try f.array("path").map({ $0.stringValue ?? "" }) == path.map(\.hex)
        else { throw f.malformed("encoded") }
    }
}

/// `rollup_getMessages`: messages with their proofs against the outbox after block `throughHeight`.
public struct MessagesPage: APIValue, Equatable {
    public struct Proven: Sendable, Equatable {
        public var sent: SentMessage
        public var proof: OutboxProof

        public init(sent: SentMessage, proof: OutboxProof) {
            self.sent = sent
            self.proof = proof
        }
    }

    public var throughHeight: UInt64
    public var treeSize: UInt64
    public var outboxRoot: Hash
    public var messages: [Proven]

    public init(throughHeight: UInt64, treeSize: UInt64, outboxRoot: Hash, messages: [Proven]) {
        self.throughHeight = throughHeight
        self.treeSize = treeSize
        self.outboxRoot = outboxRoot
        self.messages = messages
    }

    public var json: JSONValue {
        .object([
            "throughHeight": .number(throughHeight), "treeSize": .number(treeSize),
            "outboxRoot": .string(outboxRoot.hex),
            "messages": .array(
                messages.map { m in
                    var o = m.sent.fields
                    o["proof"] = m.proof.json
                    return .object(o)
                }),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "messages")
        self.init(
            throughHeight: try f.unsigned("throughHeight"), treeSize: try f.unsigned("treeSize"),
            outboxRoot: try f.hex("outboxRoot"),
            messages: try f.array("messages").map {
                Proven(sent: try SentMessage(json: $0), proof: try OutboxProof(json: $0["proof"] ?? .null))
            })
    }
}

/// `rollup_getMessageProof`: a sent message's proof against the outbox after block `throughHeight`.
public struct MessageProof: APIValue, Equatable {
    public var proof: OutboxProof
    public var outboxRoot: Hash
    public var throughHeight: UInt64

    public init(proof: OutboxProof, outboxRoot: Hash, throughHeight: UInt64) {
        self.proof = proof
        self.outboxRoot = outboxRoot
        self.throughHeight = throughHeight
    }

    public var json: JSONValue {
        .object(["proof": proof.json, "outboxRoot": .string(outboxRoot.hex), "throughHeight": .number(throughHeight)])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "message proof")
        self.init(
            proof: try OutboxProof(json: json["proof"] ?? .null), outboxRoot: try f.hex("outboxRoot"),
            throughHeight: try f.unsigned("throughHeight"))
    }
}

/// `rollup_getRelay`: what became of a message relayed here.
public struct Relay: APIValue, Equatable {
    public var status: ReceiptStatus
    /// The return message a failed relay sent back (nil: none).
    public var returnMessage: Hash?

    public init(status: ReceiptStatus, returnMessage: Hash?) {
        self.status = status
        self.returnMessage = returnMessage
    }

    public var success: Bool { status == .success }

    public var json: JSONValue {
        .object([
            "status": .string(status.name), "success": .bool(success),
            "returnMessage": returnMessage.map { .string($0.hex) } ?? .null,
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "relay")
        guard let status = ReceiptStatus(name: try f.string("status")) else { throw f.malformed("status") }
        guard try f.bool("success") == (status == .success) else { throw f.malformed("success") }
        self.init(status: status, returnMessage: try f.optionalHex("returnMessage"))
    }
}

/// `rollup_getMessageStatus`: a message end to end, `sent → inOutput → finalized → relayed | failed`.
/// Asked of the sending node it carries the message's route and the covering output; asked of the
/// destination only the relay.
public struct MessageStatus: APIValue, Equatable {
    public enum Stage: String, Sendable {
        case sent, inOutput, finalized, relayed, failed
    }

    /// Where it was sent from (nil when asked of the destination).
    public struct Route: Sendable, Equatable {
        public var source: RollupID
        public var destination: RollupID
        public var nonce: UInt64
        public var sentInBlock: UInt64

        public init(source: RollupID, destination: RollupID, nonce: UInt64, sentInBlock: UInt64) {
            self.source = source
            self.destination = destination
            self.nonce = nonce
            self.sentInBlock = sentInBlock
        }
    }

    /// The first standing output that covers the sending block.
    public struct Covering: Sendable, Equatable {
        public var output: UInt64
        public var blocksLeft: UInt64
        public var windowEnd: UInt64

        public init(output: UInt64, blocksLeft: UInt64, windowEnd: UInt64) {
            self.output = output
            self.blocksLeft = blocksLeft
            self.windowEnd = windowEnd
        }
    }

    public var id: Hash
    public var stage: Stage
    public var route: Route?
    public var covering: Covering?
    /// The relay's receipt status on the destination, once relayed or failed.
    public var relay: ReceiptStatus?
    public var returnMessage: Hash?
    /// The destination's RPC address, when the sending node could not ask it.
    public var destinationUnreachable: String?

    public init(
        id: Hash, stage: Stage, route: Route? = nil, covering: Covering? = nil, relay: ReceiptStatus? = nil,
        returnMessage: Hash? = nil, destinationUnreachable: String? = nil
    ) {
        self.id = id
        self.stage = stage
        self.route = route
        self.covering = covering
        self.relay = relay
        self.returnMessage = returnMessage
        self.destinationUnreachable = destinationUnreachable
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id.hex), "status": .string(stage.rawValue)]
        if let route {
            o["source"] = .number(route.source.rawValue)
            o["destination"] = .number(route.destination.rawValue)
            o["nonce"] = .number(route.nonce)
            o["sentInBlock"] = .number(route.sentInBlock)
        }
        if let covering {
            o["output"] = .number(covering.output)
            o["blocksLeft"] = .number(covering.blocksLeft)
            o["windowEndsAt"] = .number(covering.windowEnd)
        }
        if let relay {
            o["relay"] = .string(relay.name)
            o["returnMessage"] = returnMessage.map { .string($0.hex) } ?? .null
        }
        if let destinationUnreachable { o["destinationUnreachable"] = .string(destinationUnreachable) }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "message status")
        guard let stage = Stage(rawValue: try f.string("status")) else { throw f.malformed("status") }
        var route: Route?
        if !f.isAbsent("source") {
            route = Route(
                source: try f.rollup("source"), destination: try f.rollup("destination"), nonce: try f.unsigned("nonce"),
                sentInBlock: try f.unsigned("sentInBlock"))
        }
        var covering: Covering?
        if !f.isAbsent("output") {
            covering = Covering(
                output: try f.unsigned("output"), blocksLeft: try f.unsigned("blocksLeft"),
                windowEnd: try f.unsigned("windowEndsAt"))
        }
        var relay: ReceiptStatus?
        if !f.isAbsent("relay") {
            guard let status = ReceiptStatus(name: try f.string("relay")) else { throw f.malformed("relay") }
            relay = status
        }
        self.init(
            id: try f.hex("id"), stage: stage, route: route, covering: covering, relay: relay,
            returnMessage: try f.optionalHex("returnMessage"),
            destinationUnreachable: f.isAbsent("destinationUnreachable") ? nil : try f.string("destinationUnreachable"))
    }
}

/// `rollup_getEscrow`: an escrow lock (its id is the id of the message that made it).
public struct Escrow: APIValue, Equatable {
    public var id: Hash
    public var lock: EscrowLock

    public init(id: Hash, lock: EscrowLock) {
        self.id = id
        self.lock = lock
    }

    public var json: JSONValue {
        .object([
            "id": .string(id.hex), "source": .number(lock.source.rawValue), "sender": .string(lock.sender.hex),
            "beneficiary": .string(lock.beneficiary.hex), "value": JSONForm.json(lock.value),
            "hashLock": .string(lock.hashLock.hex), "timeout": .number(lock.timeout),
        ])
    }

    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "escrow")
        self.init(
            id: try f.hex("id"),
            lock: EscrowLock(
                source: try f.rollup("source"), sender: try f.hex("sender"), beneficiary: try f.hex("beneficiary"),
                value: try JSONForm.value(json["value"] ?? .null, "escrow"), hashLock: try f.hex("hashLock"),
                timeout: try f.unsigned("timeout")))
    }
}

// MARK: The JSON-RPC binding


extension RollupAPI {
    /// Serves this implementation's methods: each request's parameters read into the method's typed
    /// arguments, its result written in its one JSON form. A signed transaction longer than
    /// `maxTransactionBytes` is refused before it is decoded, by `tooLarge`.
    public func register(
        into d: inout RPCDispatcher, maxTransactionBytes: Int, tooLarge: @escaping @Sendable (Int) -> RPCError
    ) {
        d.register(RollupMethod.blockNumber) { params in
            try params.expect(atMost: 0)
            return .number(try await self.blockNumber())
        }
        d.register(RollupMethod.status) { _ in try await self.status().json }
        d.register(RollupMethod.sendTransaction) { params in
            try params.expect(atMost: 1)
            let raw = try params.hex(0, "signed transaction")
            // Size first: the bytes are refused before any decoding work.
            if raw.count > maxTransactionBytes { throw tooLarge(raw.count) }
            let tx: SignedTransaction
            do {
                // The type's own limits bound every field (docs/protocol.md); nothing looser is needed.
                tx = try SignedTransaction(canonicalBytes: raw)
            } catch {
                throw RPCError.invalidParams("parameter 0 is not a canonical signed transaction: \(error)")
            }
            return .string(try await self.sendTransaction(tx).hex)
        }
        d.register(RollupMethod.getTransaction) { params in
            try params.expect(atMost: 1)
            return try await self.transaction(try params.id(0, "transaction id")).json
        }
        d.register(RollupMethod.getReceipt) { params in
            try params.expect(atMost: 1)
            return try await self.receipt(try params.id(0, "transaction id")).json
        }
        d.register(RollupMethod.getBlock) { params in
            try params.expect(atMost: 2)
            let selector: BlockSelector
            switch params.optional(0) {
            case nil, .string("latest")?: selector = .latest
            case .string(let text)?:
                guard let hash = try? Hash(hex: text) else {
                    throw RPCError.invalidParams("parameter 0 must be a height, \"latest\" or a 32-byte block hash")
                }
                selector = .hash(hash)
            case let value?:
                guard let h = value.unsignedValue else {
                    throw RPCError.invalidParams("parameter 0 must be a height, \"latest\" or a block hash")
                }
                selector = .height(h)
            }
            return try await self.block(selector, full: params.optional(1)?.boolValue ?? false).json
        }
        d.register(RollupMethod.getAccount) { params in
            try params.expect(atMost: 2)
            let address = try params.address(0, "address")
            let options = params.optional(1)
            var assets: [AssetName]?
            if let list = options?["assets"] {
                guard case .array(let names) = list else {
                    throw RPCError.invalidParams("assets must be an array of asset names")
                }
                assets = try names.map { value in
                    guard let name = value.stringValue.flatMap(AssetName.init(rawValue:)) else {
                        throw RPCError.invalidParams("\(value) is not an asset name")
                    }
                    return name
                }
            }
            return try await self.account(address, assets: assets, proof: options?["proof"]?.boolValue ?? false).json
        }
        d.register(RollupMethod.getNonce) { params in
            try params.expect(atMost: 1)
            return try await self.nonce(of: try params.address(0, "address")).json
        }
        d.register(RollupMethod.getMessage) { params in
            try params.expect(atMost: 1)
            return try await self.message(try params.id(0, "message id")).json
        }
        d.register(RollupMethod.getMessages) { params in
            try params.expect(atMost: 4)
            let destination = try params.optional(0).map { v -> RollupID in
                guard let n = v.unsignedValue, let id = UInt32(exactly: n) else {
                    throw RPCError.invalidParams("parameter 0 (destination) must be a rollup id or null")
                }
                return RollupID(id)
            }
            let from = try params.unsigned(1, "fromNonce", default: 0)
            let through = try params.optional(2).map { _ in try params.unsigned(2, "throughHeight") }
            let limit = try params.optional(3).map { _ in try params.unsigned(3, "limit") }
            return try await self.messages(to: destination, fromNonce: from, through: through, limit: limit).json
        }
        d.register(RollupMethod.getMessageProof) { params in
            try params.expect(atMost: 2)
            let id = try params.id(0, "message id")
            let through = try params.optional(1).map { _ in try params.unsigned(1, "throughHeight") }
            return try await self.messageProof(id, through: through).json
        }
        d.register(RollupMethod.getRelay) { params in
            try params.expect(atMost: 1)
            return try await self.relay(try params.id(0, "message id")).json
        }
        d.register(RollupMethod.getMessageStatus) { params in
            try params.expect(atMost: 1)
            return try await self.messageStatus(try params.id(0, "message id")).json
        }
        d.register(RollupMethod.getMailbox) { params in
            try params.expect(atMost: 3)
            guard let recipient = try? Address(hex: try params.string(0, "recipient")),
                let sender = try? Address(hex: try params.string(2, "sender"))
            else { throw RPCError.invalidParams("recipient and sender must be 20-byte addresses") }
            let source = try params.unsigned(1, "source rollup")
            guard let id = UInt32(exactly: source) else {
                throw RPCError.invalidParams("parameter 1 (source rollup) must be a rollup id")
            }
            let payload = try await self.mailbox(recipient: recipient, source: RollupID(id), sender: sender)
            return payload.map { .string("0x" + Hex.encode($0)) } ?? .null
        }
        d.register(RollupMethod.getEscrow) { params in
            try params.expect(atMost: 1)
            return try await self.escrow(try params.id(0, "lock id")).json
        }
    }
}
