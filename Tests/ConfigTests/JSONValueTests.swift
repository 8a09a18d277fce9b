import Config
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func everyKindOfValueParsesExactlyAndRoundTrips() throws {
        let text = #"[true, false, 1, -2, 18446744073709551615, 1.5, "s", "1", null, {"a": [true]}]"#
        let value = try JSONValue.parse(Data(text.utf8))
        #expect(
            value
                == .array([
                    .bool(true), .bool(false), .integer(1), .integer(-2), .unsigned(UInt64.max), .fraction(1.5),
                    .string("s"),
                    .string("1"), .null, .object(["a": .array([.bool(true)])]),
                ]))
        #expect(try JSONValue.parse(try value.serialized()) == value)
        #expect(value.unsignedValue == nil)
        #expect(JSONValue.number(UInt64.max).unsignedValue == UInt64.max)
        #expect(JSONValue.object(["k": .bool(true)])["k"]?.boolValue == true)
    }
}
