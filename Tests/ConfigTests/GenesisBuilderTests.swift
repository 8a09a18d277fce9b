import Config
import Foundation
import Primitives
import Testing

@Suite struct GenesisBuilderTests {
    @Test func aBuiltGenesisLoadsWithTheDevnetDefaultsAndItsNames() throws {
        var builder = GenesisBuilder(rollups: 10, basePort: 9600, l1Port: 8600)
        builder.l1.extra["maxBlobBytes"] = .number(524_288)
        builder.rollups[2].extra["maxBlockBytes"] = .number(100_000)
        let genesis = try Genesis.parse(try builder.data())
        #expect(genesis.rollups.map(\.name).prefix(9) == ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "rollup9"])
        #expect(genesis.rollups.map(\.id.rawValue) == Array(1...10))
        #expect(genesis.rollups[3].rpc == "http://127.0.0.1:9603" && genesis.l1.rpc == "http://127.0.0.1:8600")
        #expect(genesis.rollups[0].nativeAsset.rawValue == "ALPHA")
        #expect(genesis.devSeed == DevKeys.publishedSeed)
        #expect(genesis.l1.maxBlobBytes == 524_288)
        #expect(genesis.rollups[2].maxBlockBytes == 100_000)
        #expect(genesis.l1.fraudWindowBlocks == 10 && genesis.rollups[0].blockTimeMs == 500)
        // The same builder gives the same bytes (keys sorted).
        #expect(try builder.data() == builder.data())
    }

    @Test func aBuilderNeverHandsOutAGenesisThatDoesNotLoad() {
        var builder = GenesisBuilder(rollups: 2)
        builder.rollups[1].zstdLevel = 99
        #expect(throws: ConfigError.self) { _ = try builder.data() }
        var clash = GenesisBuilder(rollups: 2)
        clash.rollups[1].name = "alpha"
        #expect(throws: ConfigError.self) { _ = try clash.data() }
    }
}
