import ArgumentParser
import Chain
import Devnet
import Foundation
import Primitives
import RPC

/// `tributary-faults` (run by `Scripts/faults`): a devnet under steady load is crashed, cut off and
/// disordered, and after every fault the suite checks that nothing acknowledged was lost, every
/// store verifies, value is conserved and no output finalized wrongly. The last line is the
/// summary a script reads; the exit status is 1 when any check failed.
@main
struct FaultSuite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-faults",
        abstract: "Inject crashes, outages and disordered RPC into a real devnet under load; check every invariant.")

    @Flag(help: "The short form (CI): a few crashes of each kind, every outage, a short spell of disorder.")
    var quick = false

    @Option(help: "SIGKILLs to inject in the crash phase (default: 12 with --quick, 120 otherwise).")
    var crashes: Int?

    @Option(help: "Seconds of disordered RPC (default: 20 with --quick, 90 otherwise).")
    var disorderSeconds: Int?

    @Option(help: "The seed of every random choice (victims, moments, delays).")
    var seed: UInt64 = 1

    @Option(help: "Phases to run, comma-separated: crashes, outages, disorder, adversary, disk.")
    var only: String = "crashes,outages,disorder,adversary,disk"

    @Option(
        help:
            "Rounds of lies drawn at random in the adversary phase, after the rounds of the review's findings (default: 1 with --quick, 24 otherwise)."
    )
    var rounds: Int?

    @Option(
        help: ArgumentHelp(
            "The adversary phase's rounds instead of the findings' rounds and random draws: each round's lies joined by +, rounds by commas (e.g. undecodable+outbox-root,silent).",
            valueName: "plan"))
    var lies: String?

    @Option(
        help: ArgumentHelp(
            "Testing the suite itself: alpha's sequencer lies about its state root from this height on, so the checks must report violations.",
            valueName: "height"))
    var lieFrom: UInt64?

    @Option(help: "Keep the devnet's directory (stores and logs) here instead of a temporary one.")
    var workdir: String?

    static let phases = ["crashes", "outages", "disorder", "adversary", "disk"]

    /// `--lies` as rounds of lies.
    func plan() throws -> [[Lie]]? {
        guard let lies else { return nil }
        return try lies.split(separator: ",").map { round in
            try round.split(separator: "+").map { name in
                guard let lie = Lie(rawValue: String(name)) else {
                    throw ValidationError(
                        "--lies: unknown lie \"\(name)\" (lies: \(Lie.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return lie
            }
        }
    }

    func validate() throws {
        for phase in only.split(separator: ",") where !Self.phases.contains(String(phase)) {
            throw ValidationError("--only: unknown phase \"\(phase)\" (phases: \(Self.phases.joined(separator: ", ")))")
        }
        if let crashes, crashes < 0 { throw ValidationError("--crashes must be 0 or more") }
        if let rounds, rounds < 0 { throw ValidationError("--rounds must be 0 or more") }
        _ = try plan()
    }

    mutating func run() async throws {
        let tally = Tally()
        let phases = Set(only.split(separator: ",").map(String.init))
        let net = try FaultNet(directory: workdir, timing: .init(), seed: seed, tally: tally)
        let dir = net.dir
        tally.log("tributary-faults: seed \(seed), devnet in \(dir), binary \(TributaryBinary.path)")
        // Interrupted, the suite takes its devnet down with it rather than leaving orphans running.
        let interrupts = ([SIGINT, SIGTERM] as [Int32]).map { signo in
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                for name in net.names { net.kill(name) }
                tally.log("interrupted; the devnet is in \(dir)")
                Foundation.exit(128 + signo)
            }
            source.resume()
            return source
        }
        defer { for source in interrupts { source.cancel() } }
        let run = Run(
            net: net, seen: Observations(), rng: SplitMix64(seed: seed),
            crashes: crashes ?? (quick ? 12 : 120), disorderSeconds: disorderSeconds ?? (quick ? 20 : 90),
            lieFrom: lieFrom)
        do {
            try await run.setUp()
            if phases.contains("crashes") { await run.crashPhase() }
            if phases.contains("outages") { await run.outagePhase() }
            if phases.contains("disorder") { await run.disorderPhase() }
            if phases.contains("adversary") {
                await run.adversaryPhase(rounds: rounds ?? (quick ? 1 : 24), plan: try plan())
            }
            if phases.contains("disk") { await run.diskPhase() }
            await run.finish()
        } catch {
            await tally.violate("the suite could not go on: \(error)")
        }
        run.tearDown()
        if await tally.violations.isEmpty {
            // The signal handlers hold the devnet until the process exits: its temporary directory
            // goes now, not with the value.
            if workdir == nil { try? FileManager.default.removeItem(atPath: dir) }
        } else {
            // Kept for inspection (a temporary directory under another name, so a later run's
            // "nothing left behind" check tells it from a leak).
            net.keep()
            let kept = workdir == nil ? dir + "-failed" : dir
            if workdir == nil { try? FileManager.default.moveItem(atPath: dir, toPath: kept) }
            tally.log("logs and stores: \(kept)")
        }
        print(await tally.summary())
        if await !tally.violations.isEmpty { throw ExitCode(1) }
    }
}
