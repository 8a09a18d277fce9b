import Primitives
import Settlement
import StateTree

/// The proofs target. The first byte picks what the rest is:
///
/// * 0: `leaf (32) ‖ OutboxProof`. The proof's root for the leaf (RFC 9162 §2.1.3.2, what relays
///   check) must equal a reference computed from RFC 6962's recursive definition of an audit
///   path, including refusing every path whose length does not fit the index and tree size.
/// * 1: `key (32) ‖ SparseMerkleProof ‖ value`. When the proof gives a root for the key, it must
///   not prove the key both absent and present, and must prove exactly what its terminal says.
/// * 2: a `FraudProof`; its witnesses are checked as in the witness target.
/// * 3: a `Challenge`; a valid signature must stop verifying when the challenged output changes.
///
/// Every decoded value must also satisfy `canonicalValue`'s promises. Returns whether the input
/// decoded.
@discardableResult
public func fuzzProofs(_ input: [UInt8]) -> Bool {
    guard let selector = input.first else { return false }
    let bytes = Array(input.dropFirst())
    switch selector % 4 {
    case 0: return fuzzOutboxProof(bytes, input: input)
    case 1: return fuzzStateProof(bytes, input: input)
    case 2:
        switch canonicalValue(FraudProof.self, bytes, input: input) {
        case .block(_, let witness)?, .span(_, let witness)?: checkWitness(witness, probes: [], input: input)
        case .output?, .notInDA?: break
        case nil: return false
        }
    default:
        guard let challenge = canonicalValue(Challenge.self, bytes, input: input) else { return false }
        _ = challenge.id
        if challenge.hasValidSignature {
            var changed = challenge
            changed.outputIndex &+= 1
            fuzzCheck(!changed.hasValidSignature, "a challenge signature survives a new output index", input: input)
        }
    }
    return true
}

private func fuzzOutboxProof(_ bytes: [UInt8], input: [UInt8]) -> Bool {
    var decoder = CanonicalDecoder(bytes)
    guard let leaf = try? decoder.read(Hash.self),
        let proof = canonicalValue(OutboxProof.self, Array(bytes.dropFirst(decoder.offset)), input: input)
    else { return false }
    let root = proof.root(for: leaf)
    let expected = referenceRoot(
        index: proof.index, size: proof.treeSize, node: MerkleList.leafHash(leaf), path: proof.path[...])
    fuzzCheck(
        root == expected, "outbox proof root \(String(describing: root)) != reference \(String(describing: expected))",
        input: input)
    return true
}

/// The root an audit path gives per RFC 6962 §2.1.1: `PATH(m, D[n])` is `PATH(m, D[0:k]) : MTH(D[k:n])`
/// when `m < k`, else `PATH(m - k, D[k:n]) : MTH(D[0:k])`, with `k` the largest power of two below
/// `n`, and empty for `n = 1`; so the path's last hash is the top-level sibling. Nil when the path's
/// length does not fit the shape or the index is outside the tree.
private func referenceRoot(index: UInt64, size: UInt64, node: Hash, path: ArraySlice<Hash>) -> Hash? {
    guard index < size else { return nil }
    if size == 1 { return path.isEmpty ? node : nil }
    guard let sibling = path.last else { return nil }
    var split: UInt64 = 1
    while split < size - split { split <<= 1 }
    if index < split {
        guard let left = referenceRoot(index: index, size: split, node: node, path: path.dropLast()) else { return nil }
        return Hash.sha256(tag: 0x01, left, sibling)
    }
    guard let right = referenceRoot(index: index - split, size: size - split, node: node, path: path.dropLast())
    else { return nil }
    return Hash.sha256(tag: 0x01, sibling, right)
}

private func fuzzStateProof(_ bytes: [UInt8], input: [UInt8]) -> Bool {
    var decoder = CanonicalDecoder(bytes)
    guard let key = try? decoder.read(Hash.self), let proof = try? decoder.read(SparseMerkleProof.self) else {
        return false
    }
    let proofBytes = Array(bytes[32..<decoder.offset])
    guard canonicalValue(SparseMerkleProof.self, proofBytes, input: input) != nil else {
        fuzzFailure("a state proof decodes in a stream but not alone", input: input)
    }
    let value = Array(bytes.dropFirst(decoder.offset))
    guard let root = proof.rootHash(for: key) else {
        fuzzCheck(
            !proof.verify(key: key, value: nil, root: .zero) && !proof.verify(key: key, value: value, root: .zero),
            "a state proof with no root verifies", input: input)
        return true
    }
    let absent = proof.verify(key: key, value: nil, root: root)
    let present = proof.verify(key: key, value: value, root: root)
    fuzzCheck(!(absent && present), "a state proof shows a key both absent and present", input: input)
    switch proof.terminal {
    case .empty:
        fuzzCheck(absent, "a proof ending in the empty subtree does not prove absence", input: input)
    case .leaf(let leafKey, let valueHash):
        fuzzCheck(
            absent == (leafKey != key), "a proof ending in another key's leaf does not prove absence", input: input)
        fuzzCheck(
            present == (leafKey == key && valueHash == TreeHash.value(value)),
            "a proof ending in the key's leaf proves the wrong value", input: input)
    }
    return true
}
