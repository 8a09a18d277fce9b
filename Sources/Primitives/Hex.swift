/// Lower-case hexadecimal forms of byte strings, used for display and JSON.
public enum Hex {
    /// Errors from parsing hexadecimal text.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        /// The text has an odd number of digits.
        case oddLength(Int)
        /// A character is not a hexadecimal digit.
        case invalidCharacter(Character, offset: Int)
        /// The text decodes to the wrong number of bytes for the expected type.
        case wrongLength(expected: Int, actual: Int)

        public var description: String {
            switch self {
            case .oddLength(let n): return "hex text has an odd number of digits (\(n))"
            case .invalidCharacter(let c, let offset):
                return "'\(c)' at offset \(offset) is not a hexadecimal digit"
            case .wrongLength(let expected, let actual):
                return "expected \(expected) bytes of hex, got \(actual)"
            }
        }
    }

    private static let digits = Array("0123456789abcdef".utf8)

    /// Encodes `bytes` as lower-case hex without a prefix.
    public static func encode<C: Collection<UInt8>>(_ bytes: C) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex text; a leading `0x` is accepted, upper and lower case digits alike.
    public static func decode(_ text: some StringProtocol) throws(ParseError) -> [UInt8] {
        var utf8 = Array(text.utf8)
        if utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] | 0x20 == UInt8(ascii: "x") {
            utf8.removeFirst(2)
        }
        guard utf8.count % 2 == 0 else { throw .oddLength(utf8.count) }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]) else {
                throw .invalidCharacter(Character(Unicode.Scalar(utf8[i])), offset: i)
            }
            guard let lo = nibble(utf8[i + 1]) else {
                throw .invalidCharacter(Character(Unicode.Scalar(utf8[i + 1])), offset: i + 1)
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// Decodes hex text that must be exactly `count` bytes long.
    public static func decode(_ text: some StringProtocol, count: Int) throws(ParseError) -> [UInt8] {
        let bytes = try decode(text)
        guard bytes.count == count else { throw .wrongLength(expected: count, actual: bytes.count) }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
