import Primitives
import StateTree

/// The witness target: `Witness ‖ probes`, where the probes are up to four 32-byte keys. The witness must
/// satisfy `canonicalValue`'s promises and then go through `checkWitness` with the probes.
/// Returns whether the witness decoded and validated.
@discardableResult
public func fuzzWitness(_ input: [UInt8]) -> Bool {
    var decoder = CanonicalDecoder(input)
    guard let witness = try? decoder.read(Witness.self) else { return false }
    guard canonicalValue(Witness.self, Array(input.prefix(decoder.offset)), input: input) == witness else {
        fuzzFailure("a witness decodes differently in a stream and alone", input: input)
    }
    var probes: [Hash] = []
    var rest = input[decoder.offset...]
    while rest.count >= 32, probes.count < 4 {
        probes.append(Hash(bytes: rest.prefix(32))!)
        rest = rest.dropFirst(32)
    }
    return checkWitness(witness, probes: probes, input: input)
}

/// Validates `witness` as the L1 does (`WitnessTree`), against its own root. A witness that
/// validates must read back every value it carries, refuse to read the values it only hashes,
/// answer every other key or refuse it as not covered, and undo every write: setting a key and
/// then restoring its old value, or deleting a present key and re-inserting it, gives back the
/// root. Writes are tried on the probes and on the first six leaves and their neighbours (each
/// write rehashes the tree, so a few keys per input keep the target fast).
/// Returns whether the witness validated.
@discardableResult
func checkWitness(_ witness: Witness, probes: [Hash], input: [UInt8]) -> Bool {
    // The witness's own root is the root it fails to match when checked against another one.
    let root: Hash
    do {
        _ = try WitnessTree(witness: witness, expectedRoot: .zero)
        root = .zero
    } catch .witnessRootMismatch(_, let actual) {
        root = actual
    } catch {
        return false
    }
    let tree: WitnessTree
    do { tree = try WitnessTree(witness: witness, expectedRoot: root) } catch {
        fuzzFailure("a witness refuses its own root: \(error)", input: input)
    }
    fuzzCheck(tree.rootHash == root, "a witness tree's root is not the root it was checked against", input: input)

    var leaves: [(key: Hash, value: [UInt8]?)] = []
    collectLeaves(witness.root, into: &leaves)
    for (key, value) in leaves {
        switch Result(catching: { () throws(StateTreeError) in try tree.get(key) }) {
        case .success(let read):
            fuzzCheck(value != nil && read == value, "a witnessed key reads \(String(describing: read))", input: input)
        case .failure(.valueNotInWitness):
            fuzzCheck(value == nil, "a witness refuses a value it carries", input: input)
        case .failure(let error):
            fuzzFailure("a witness refuses a key it holds: \(error)", input: input)
        }
    }
    let written = leaves.prefix(6).flatMap {
        [$0.key, Hash(w0: $0.key.w0, w1: $0.key.w1, w2: $0.key.w2, w3: $0.key.w3 ^ 1)]
    }
    for key in probes + written { checkUndo(tree, key: key, input: input) }
    return true
}

private func collectLeaves(_ node: WitnessNode, into leaves: inout [(key: Hash, value: [UInt8]?)]) {
    switch node {
    case .empty, .opaque: return
    case .leaf(let key, _): leaves.append((key, nil))
    case .leafWithValue(let key, let value): leaves.append((key, value))
    case .branch(let left, let right):
        collectLeaves(left, into: &leaves)
        collectLeaves(right, into: &leaves)
    }
}

/// Writes `key` and restores it; the root must come back. A key whose path the witness does not
/// cover must be refused for writes too; one whose leaf it shows without the value can be
/// overwritten (the new leaf does not depend on the old value) and then reads the new value.
private func checkUndo(_ tree: WitnessTree, key: Hash, input: [UInt8]) {
    let old: [UInt8]?
    do { old = try tree.get(key) } catch {
        var written = tree
        let wrote = (try? written.set(key, [1])) != nil
        if case .valueNotInWitness = error {
            fuzzCheck(
                wrote && (try? written.get(key)) == [1], "a witness refuses to overwrite a leaf it shows", input: input)
        } else {
            fuzzCheck(!wrote, "a witness writes a key whose path it does not cover", input: input)
        }
        return
    }
    let root = tree.rootHash
    var changed = tree
    do {
        try changed.set(key, (old ?? []) + [0x5a])
        fuzzCheck((try changed.get(key)) == (old ?? []) + [0x5a], "a written key reads back differently", input: input)
        fuzzCheck(changed.rootHash != root, "writing a new value leaves the root unchanged", input: input)
        try changed.set(key, old)
    } catch {
        fuzzFailure("a witness refuses to write a key it reads: \(error)", input: input)
    }
    fuzzCheck(changed.rootHash == root, "writing a key and restoring it changes the root", input: input)
    guard old != nil else { return }
    var deleted = tree
    do { try deleted.set(key, nil) } catch {
        fuzzFailure("a witness refuses to delete a key it reads: \(error)", input: input)
    }
    // A deletion can collapse a sibling known only by its hash onto the key's path. The witness
    // then cannot tell the key's absence from that leaf, so it refuses to read the key or insert
    // it again (the state tree's witnesses show such siblings as leaves); a deleted key must never
    // read a value, and where its absence is proven, re-inserting it must give back the root.
    switch Result(catching: { () throws(StateTreeError) in try deleted.get(key) }) {
    case .success(let read):
        fuzzCheck(read == nil, "a deleted key still reads", input: input)
    case .failure(.keyNotInWitness):
        return
    case .failure(let error):
        fuzzFailure("a witness refuses to read a key it deleted: \(error)", input: input)
    }
    do { try deleted.set(key, old) } catch {
        fuzzFailure("a witness refuses to re-insert a key it proves absent: \(error)", input: input)
    }
    fuzzCheck(deleted.rootHash == root, "deleting a key and restoring it changes the root", input: input)
}
