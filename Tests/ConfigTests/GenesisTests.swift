import Config
import Foundation
import Primitives
import Testing

/// The repository's `Genesis/` folder.
let genesisFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Genesis")

@Suite struct GenesisTests {
    @Test func theDevnetGenesisLoadsWithThreeRollups() throws {
        let genesis = try Genesis.load(path: genesisFolder.appendingPathComponent("devnet.json").path)
        #expect(genesis.rollups.map(\.name) == ["alpha", "beta", "gamma"])
        #expect(genesis.rollups.map(\.id.rawValue) == [1, 2, 3])
        #expect(genesis.rollups.map(\.nativeAsset.rawValue) == ["ALPHA", "BETA", "GAMMA"])
        #expect(genesis.l1.fraudWindowBlocks == 10)
        let alpha = try #require(genesis.rollup(named: "alpha"))
        #expect(alpha.sequencer.name == "alpha/sequencer")
        #expect(alpha.sequencer.publicKey == DevKeys.key(named: "alpha/sequencer").publicKey)
        #expect(alpha.devAccountKeys.first == DevKeys.account(0).publicKey)
        #expect(alpha.genesisBalances.reduce(0) { $0 + $1.amount } == alpha.supply)
        #expect(alpha.genesisBalances.map(\.address) == alpha.genesisBalances.map(\.address).sorted())
        #expect(genesis.rollup(id: RollupID(2))?.name == "beta")
    }

    @Test func everyProblemIsReportedWithItsJSONPath() throws {
        let json = """
            {
              "l1": { "rpc": "not a url", "blockTimeMs": 5, "fraudWindowBlocks": 1.5, "bond": -1,
                      "proposerSilenceBlocks": 3, "colour": "blue" },
              "rollups": [
                { "id": 1, "name": "Alpha", "rpc": "http://127.0.0.1:9545", "blockTimeMs": 500,
                  "maxBlockTransactions": 10, "outputIntervalBlocks": 5,
                  "batch": { "maxBytes": 65536, "maxBlocks": 5, "maxAgeMs": 1000 },
                  "nativeAsset": { "name": "AL PHA", "supply": 100 },
                  "devAccounts": { "count": 2, "balance": 60 }, "keys": {} },
                { "id": 1, "name": "beta", "rpc": "http://127.0.0.1:9545", "blockTimeMs": 500,
                  "maxBlockTransactions": 10, "outputIntervalBlocks": 5,
                  "batch": { "maxBytes": 65536, "maxBlocks": 5, "maxAgeMs": 1000, "zstdLevel": 30 },
                  "nativeAsset": { "name": "BETA", "supply": 100 },
                  "devAccounts": { "count": 1, "balance": 1 } }
              ]
            }
            """
        do {
            _ = try Genesis.parse(Data(json.utf8), source: "test.json")
            Issue.record("an invalid genesis loaded")
        } catch {
            let paths = Set(error.problems.map(\.path))
            for expected in [
                "$.l1.rpc", "$.l1.blockTimeMs", "$.l1.fraudWindowBlocks", "$.l1.bond", "$.l1.colour",
                "$.rollups[0].name", "$.rollups[0].nativeAsset.name", "$.rollups[0].devAccounts",
                "$.rollups[1].batch.zstdLevel",
            ] {
                #expect(paths.contains(expected), "missing \(expected) in \(error)")
            }
            #expect(error.description.hasPrefix("test.json: "))
            #expect(error.problems.contains { $0.path == "$.l1.colour" && $0.message.contains("not a known field") })
            #expect(
                error.problems.contains { $0.path == "$.l1.fraudWindowBlocks" && $0.message.contains("whole number") })
        }
    }

    @Test func duplicateIdsNamesAndAddressesAreReported() throws {
        let url = genesisFolder.appendingPathComponent("devnet.json")
        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"id\": 2,", with: "\"id\": 1,")
        text = text.replacingOccurrences(of: "9546", with: "9545")
        do {
            _ = try Genesis.parse(Data(text.utf8))
            Issue.record("a genesis with duplicate ids loaded")
        } catch {
            #expect(error.problems.contains { $0.path == "$.rollups[1].id" && $0.message.contains("$.rollups[0]") })
            #expect(error.problems.contains { $0.path == "$.rollups[1].rpc" })
        }
    }

    /// Issue 22, finding 5: beta's native asset named like alpha's wrapped one would make two value
    /// entries of one message land on one balance. A native name may not contain `/`.
    @Test func aNativeAssetNamedLikeAWrappedOneIsRefused() throws {
        let url = genesisFolder.appendingPathComponent("devnet.json")
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(
            of: "\"BETA\"", with: "\"alpha/ALPHA\"")
        #expect(text.contains("alpha/ALPHA"))
        do {
            _ = try Genesis.parse(Data(text.utf8))
            Issue.record("a genesis with a native asset named alpha/ALPHA loaded")
        } catch {
            #expect(
                error.problems.contains {
                    $0.path == "$.rollups[1].nativeAsset.name" && $0.message.contains("must not contain \"/\"")
                }, "\(error.problems)")
        }
        // One past the rule is refused, the rule itself is not: `.`, `_` and `-` are fine.
        let fine = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(
            of: "\"BETA\"", with: "\"B.E_T-A\"")
        #expect(try Genesis.parse(Data(fine.utf8)).rollups[1].nativeAsset.rawValue == "B.E_T-A")
    }

    /// A block must fit one blob whatever its content: the default is the largest that does, and a
    /// larger one is refused.
    @Test func theBlockByteLimitFitsOneBlob() throws {
        let url = genesisFolder.appendingPathComponent("devnet.json")
        let genesis = try Genesis.load(path: url.path)
        let cap = RollupParameters.blockBytes(fitting: genesis.l1.maxBlobBytes)
        #expect(genesis.rollups.allSatisfy { $0.maxBlockBytes == cap })
        #expect(cap < genesis.l1.maxBlobBytes && cap > genesis.l1.maxBlobBytes - 8192)
        let text = try String(contentsOf: url, encoding: .utf8)
        func with(_ bytes: UInt64) throws -> Genesis {
            try Genesis.parse(
                Data(
                    text.replacingOccurrences(of: "\"name\": \"alpha\",", with: "\"name\": \"alpha\", \"maxBlockBytes\": \(bytes),")
                        .utf8))
        }
        #expect(try with(cap).rollups[0].maxBlockBytes == cap)
        do {
            _ = try with(cap + 1)
            Issue.record("a block limit one past what a blob holds was accepted")
        } catch let error as ConfigError {
            #expect(
                error.problems.contains { $0.path == "$.rollups[0].maxBlockBytes" && $0.message.contains("at most \(cap)") },
                "\(error.problems)")
        }
    }

    @Test func unreadableOrMalformedFilesSayWhy() {
        #expect(throws: ConfigError.self) { _ = try Genesis.load(path: "/nonexistent/genesis.json") }
        do {
            _ = try Genesis.parse(Data("{ not json".utf8), source: "x.json")
        } catch {
            #expect(error.problems.first?.path == "$")
            #expect(error.problems.first?.message.contains("not valid JSON") == true)
        }
    }

    /// The parameters of issue 13's fixes: the challenge bond (default a tenth of the output bond), the
    /// per-block challenge cap (default 4) and each rollup's mempool price (default 1 per byte).
    @Test func challengeBondChallengeCapAndMempoolPriceHaveDefaultsAndRanges() throws {
        let devnet = try Genesis.load(path: genesisFolder.appendingPathComponent("devnet.json").path)
        #expect(devnet.l1.challengeBond == devnet.l1.bond / 10)
        #expect(devnet.l1.maxChallengesPerBlock == 4)
        #expect(devnet.rollups.allSatisfy { $0.mempool.minFeePerByte == 1 })
        let url = genesisFolder.appendingPathComponent("devnet.json")
        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"maxBlobBytes\": 1048576", with: "\"maxBlobBytes\": 1048576, \"challengeBond\": 7, \"maxChallengesPerBlock\": 9")
        text = text.replacingOccurrences(of: "\"keys\": {}", with: "\"keys\": {}, \"mempool\": {\"minFeePerByte\": 3}")
        let custom = try Genesis.parse(Data(text.utf8))
        #expect(custom.l1.challengeBond == 7 && custom.l1.maxChallengesPerBlock == 9)
        #expect(custom.rollups.allSatisfy { $0.mempool.minFeePerByte == 3 })
        #expect(custom.rollups[0].mempool.minimumFee(encodedSize: 154) == 462)
        let bad = text.replacingOccurrences(of: "\"maxChallengesPerBlock\": 9", with: "\"maxChallengesPerBlock\": 0")
            .replacingOccurrences(of: "{\"minFeePerByte\": 3}", with: "{\"minFeePerByte\": -1, \"tip\": 2}")
        do {
            _ = try Genesis.parse(Data(bad.utf8))
            Issue.record("out-of-range parameters loaded")
        } catch {
            let paths = Set(error.problems.map(\.path))
            for expected in ["$.l1.maxChallengesPerBlock", "$.rollups[0].mempool.minFeePerByte", "$.rollups[0].mempool.tip"] {
                #expect(paths.contains(expected), "missing \(expected) in \(error)")
            }
        }
    }
}
