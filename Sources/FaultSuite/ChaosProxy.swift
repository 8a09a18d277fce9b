import API
import AsyncHTTPClient
import Config
import Devnet
import Foundation
import Hummingbird
import Logging
import NIOCore
import RPC

/// An HTTP proxy in front of one process's RPC port. The genesis names the proxies, so every call
/// between processes (a batcher posting to the L1, a relayer reading a peer, the load reaching a
/// sequencer) passes through one. Off, it forwards; on, it delays calls by a random time (so
/// concurrent calls arrive out of order), sends some twice and re-sends some writes seconds later.
final class ChaosProxy: DevnetFront, @unchecked Sendable {
    struct Settings: Sendable {
        var enabled = false
        var maxDelayMs = 400
        var duplicateChance = 0.25
        var replayChance = 0.15
    }

    /// Calls that change state: the ones worth replaying.
    static let writes: Set<String> = Set(
        [L1Method.postBlob, .proposeOutput, .challenge].map(\.rawValue) + [RollupMethod.sendTransaction.rawValue])

    let name: String
    let port: Int
    private let lock = NSLock()
    /// Where calls go: the process's own RPC address, learned at each of its starts.
    private var targetURL: String
    var target: String { lock.withLock { targetURL } }
    private var settings = Settings()
    private var rng: SplitMix64
    private var stash: [Data] = []
    private var counts: [String: Int] = [:]
    private var server: Task<Void, Error>?
    private var replayer: Task<Void, Never>?

    /// A proxy on `port` for a process not started yet (`retarget` once it reports its address).
    init(name: String, port: Int, seed: UInt64) {
        self.name = name
        self.port = port
        self.targetURL = "http://127.0.0.1:0/"
        self.rng = SplitMix64(seed: seed)
    }

    /// Points the proxy at the process's RPC address (each start binds a port of its own).
    func retarget(_ url: String) { lock.withLock { targetURL = url.hasSuffix("/") ? url : url + "/" } }

    var url: String { "http://127.0.0.1:\(port)" }

    func set(_ change: (inout Settings) -> Void) { lock.withLock { change(&settings) } }

    /// The faults injected since the last call, by kind; resets the counts.
    func takeCounts() -> [String: Int] {
        lock.withLock {
            defer { counts = [:] }
            return counts
        }
    }

    private func random() -> Double { lock.withLock { Double(rng.next() >> 11) / Double(1 << 53) } }

    func start() {
        let router = Router()
        let proxy = self
        router.post("/") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 << 20)
            return await proxy.forward(Data(buffer: body))
        }
        router.get("/health") { _, _ -> Response in
            await proxy.forward(nil)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "chaos-\(name)"),
            logger: .init(label: "chaos.\(name)", factory: { _ in SwiftLogNoOpLogHandler() }))
        server = Task { try await app.runService() }
        replayer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(300))
                guard let self, let body = self.takeReplay() else { continue }
                _ = try? await self.send(body)
            }
        }
    }

    func stop() {
        server?.cancel()
        replayer?.cancel()
    }

    /// A stashed write to send again, while chaos is on (at most one every 300 ms).
    private func takeReplay() -> Data? {
        lock.withLock {
            guard settings.enabled, !stash.isEmpty, Double(rng.next() % 100) < 35 else { return nil }
            let body = stash.remove(at: Int(rng.next() % UInt64(stash.count)))
            counts["replayed call", default: 0] += 1
            return body
        }
    }

    private func send(_ body: Data?) async throws -> (Int, ByteBuffer) {
        var request = HTTPClientRequest(url: body == nil ? target + "health" : target)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), try await response.body.collect(upTo: 64 << 20))
    }

    private func forward(_ body: Data?) async -> Response {
        let s = lock.withLock { settings }
        var duplicate = false
        if s.enabled, let body {
            let delay = Int(random() * Double(s.maxDelayMs))
            duplicate = random() < s.duplicateChance
            let method = (try? JSONValue.parse(body))?["method"]?.stringValue ?? ""
            lock.withLock {
                if delay > 0 { counts["delayed call", default: 0] += 1 }
                if duplicate { counts["duplicated call", default: 0] += 1 }
                if Self.writes.contains(method), Double(rng.next() % 1000) < s.replayChance * 1000, stash.count < 200 {
                    stash.append(body)
                }
            }
            try? await Task.sleep(for: .milliseconds(delay))
        }
        do {
            if duplicate, let body {
                // Both copies reach the process; the caller gets whichever answer comes first.
                async let first = send(body)
                async let second = send(body)
                let (a, b) = try await (first, second)
                let (status, bytes) = random() < 0.5 ? a : b
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: bytes))
            }
            let (status, bytes) = try await send(body)
            return Response(
                status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: bytes)
            )
        } catch {
            return Response(
                status: .badGateway, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "\(name) unreachable: \(error)")))
        }
    }
}
