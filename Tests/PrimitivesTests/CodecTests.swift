import Primitives
import Testing
import TributaryTesting

/// A value exercising every kind of field the canonical codec has.
struct Sample: CanonicalCodable, Equatable {
    var a: UInt8, b: UInt16, c: UInt32, d: UInt64
    var flag: Bool
    var hash: Hash
    var blob: [UInt8]
    var name: String
    var maybe: UInt32?
    var list: [UInt64]
    var rollup: RollupID

    func encode(to e: inout CanonicalEncoder) {
        e.write(a); e.write(b); e.write(c); e.write(d); e.write(flag); e.write(hash)
        e.writeBytes(blob); e.write(name); e.write(maybe); e.write(list); e.write(rollup)
    }

    init(from r: inout CanonicalDecoder) throws(CanonicalDecodingError) {
        a = try r.read(UInt8.self); b = try r.read(UInt16.self); c = try r.read(UInt32.self);
        d = try r.read(UInt64.self)
        flag = try r.read(Bool.self); hash = try r.read(Hash.self); blob = try r.readBytes(maxLength: 1024)
        name = try r.read(String.self); maybe = try r.readOptional(UInt32.self)
        list = try r.readArray(UInt64.self, maxCount: 64); rollup = try r.read(RollupID.self)
    }

    init(_ rng: inout SplitMix64) {
        a = UInt8(truncatingIfNeeded: rng.next()); b = UInt16(truncatingIfNeeded: rng.next())
        c = UInt32(truncatingIfNeeded: rng.next()); d = rng.next(); flag = rng.next() & 1 == 1
        hash = Hash(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
        blob = rng.bytes(Int(rng.next() % 100))
        name =
            String(decoding: (0..<Int(rng.next() % 20)).map { _ in UInt8(97 + rng.next() % 26) }, as: UTF8.self) + "é✓"
        maybe = rng.next() & 1 == 1 ? UInt32(truncatingIfNeeded: rng.next()) : nil
        list = (0..<Int(rng.next() % 10)).map { _ in rng.next() }
        rollup = RollupID(UInt32(truncatingIfNeeded: rng.next()))
    }
}

@Suite struct CodecTests {
    @Test(arguments: [UInt64(1), 2, 3, 0xdead_beef])
    func randomValuesRoundTripAndEveryPrefixOrExtensionFails(seed: UInt64) throws {
        print("seed \(seed)")
        var rng = SplitMix64(seed: seed)
        for _ in 0..<200 {
            let value = Sample(&rng)
            let bytes = value.canonicalBytes
            #expect(try Sample(canonicalBytes: bytes) == value)
            for cut in 0..<bytes.count {
                #expect(throws: CanonicalDecodingError.self) { _ = try Sample(canonicalBytes: Array(bytes[..<cut])) }
                do {
                    _ = try Sample(canonicalBytes: Array(bytes[..<cut]))
                } catch {
                    guard case .truncated = error else {
                        Issue.record("prefix of \(cut) bytes failed with \(error), expected truncation")
                        continue
                    }
                }
            }
            #expect(throws: CanonicalDecodingError.trailingBytes(count: 1)) {
                _ = try Sample(canonicalBytes: bytes + [UInt8(truncatingIfNeeded: rng.next())])
            }
        }
    }

    @Test func integersAreFixedWidthBigEndian() {
        var e = CanonicalEncoder()
        e.write(UInt16(0x0102)); e.write(UInt32(0x0304_0506)); e.write(UInt64(0x0708_090a_0b0c_0d0e))
        #expect(e.bytes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        #expect(UInt64(1).canonicalBytes == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect([UInt8]("ab".utf8).count == 2)
        #expect("ab".canonicalBytes == [0, 0, 0, 2, 0x61, 0x62])
    }

    @Test func nonCanonicalFormsAreRejectedEachWithItsOwnError() {
        #expect(throws: CanonicalDecodingError.nonCanonical("boolean byte 2 is not 0 or 1")) {
            _ = try Bool(canonicalBytes: [2])
        }
        #expect(throws: CanonicalDecodingError.self) {
            var d = CanonicalDecoder([2, 0, 0, 0, 0])
            _ = try d.readOptional(UInt32.self)
        }
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 2000, limit: 1024)) {
            var d = CanonicalDecoder([0, 0, 0x07, 0xd0] + [UInt8](repeating: 0, count: 2000))
            _ = try d.readBytes(maxLength: 1024)
        }
        #expect(throws: CanonicalDecodingError.lengthExceedsLimit(length: 0xffff_ffff, limit: 16)) {
            var d = CanonicalDecoder([0xff, 0xff, 0xff, 0xff], limits: DecodingLimits(maxLength: 16, maxCount: 16))
            _ = try d.readBytes()
        }
        #expect(throws: CanonicalDecodingError.invalidValue("string is not valid UTF-8")) {
            _ = try String(canonicalBytes: [0, 0, 0, 2, 0xc3, 0x28])
        }
        #expect(throws: CanonicalDecodingError.truncated(needed: 3, remaining: 5)) {
            // A forged element count larger than the input fails before allocating.
            var d = CanonicalDecoder([0, 0, 0, 8, 1, 2, 3, 4, 5])
            _ = try d.readArray(UInt8.self)
        }
    }
}
