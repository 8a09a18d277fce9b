import API
import Config
import Foundation
import HTTPServer
import L1Chain
import Node
import RPC
import Settlement
import Testing
import TributaryTesting

/// A plain TCP connection to a server under test, for clients that misbehave at the socket level.
final class RawConnection {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address) when given.
    init(port: Int, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawConnectionError("socket: errno \(errno)") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            // deinit closes the socket, also when init throws.
            guard bound == 0 else { throw RawConnectionError("bind \(source): errno \(errno)") }
        }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw RawConnectionError("connect: errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Whether the server has closed the connection (a read returns end of file or a reset), without waiting.
    var closedByServer: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        if n == 0 { return true }
        return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// Whether the server has sent something (or closed), without waiting.
    var hasData: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return n > 0 || n == 0
    }

    /// What the server sends until it closes the connection or `seconds` pass.
    func readAll(seconds: Int) -> String {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

struct RawConnectionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Raises this process's soft descriptor limit to its hard limit; returns the soft limit then.
func raiseOwnDescriptorLimit() -> Int { ConnectionLimits.raiseDescriptorLimit() }

/// Open descriptors of process `pid`.
func openDescriptors(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// Issue 22 finding 3: idle sockets cannot lock clients out of a server.
@Suite(.serialized) struct ConnectionLimitTests {
    /// 1,200 connections that never send a byte (the finding: they used up a 1,024-descriptor limit),
    /// from five loopback addresses, against an L1 with its default limits: past 512 the longest-idle
    /// are closed, the L1 holds no more descriptors than its cap allows, and a new client — the
    /// library client and the CLI, a fresh process — is served at once, again and again. Then 300
    /// from one more address: that address keeps its newest 256.
    @Test func anIdleConnectionFloodLeavesNewClientsServed() async throws {
        let dir = try TemporaryDirectory("conn-flood")
        let genesisPath = try fastGenesis(dir)
        let l1Node = try NodeProcess(
            ["l1", "--genesis", genesisPath, "--datadir", dir.appending("l1"), "--rpc-port", "0"],
            logPath: dir.appending("l1.log"))
        defer { l1Node.stop() }
        let port = try #require(URL(string: l1Node.url)?.port)
        let limits = ConnectionLimits.devnet
        let available = raiseOwnDescriptorLimit()
        try #require(available >= 2000, "this process may open only \(available) descriptors")
        let l1 = L1Client(url: l1Node.url)
        var flood: [RawConnection] = []
        for round in 0..<5 {
            for _ in 0..<240 { flood.append(try RawConnection(port: port, source: "127.0.0.\(2 + round)")) }
            _ = try await l1.blockNumber()
            let status = try TributaryBinary.run(["l1", "status", "--l1", l1Node.url])
            #expect(status.status == 0, "round \(round): \(status.stderr)")
        }
        #expect(try await eventually(20) { flood.filter { !$0.closedByServer }.count <= limits.maxConnections })
        let open = flood.filter { !$0.closedByServer }.count
        #expect(open >= limits.maxConnections - 16, "\(open) flood sockets still open: the cap, not fewer, is kept")
        // The shed ones were the oldest: the last ones opened are all still there.
        #expect(flood.suffix(400).allSatisfy { !$0.closedByServer })
        let descriptors = openDescriptors(l1Node.process.processIdentifier)
        #expect(descriptors > 0 && descriptors <= limits.maxConnections + 128, "the L1 holds \(descriptors) descriptors")
        // One address past its own cap loses its own longest-idle connections.
        var crowd: [RawConnection] = []
        for _ in 0..<300 { crowd.append(try RawConnection(port: port, source: "127.0.0.9")) }
        #expect(try await eventually(20) { crowd.filter(\.closedByServer).count == 300 - limits.maxPerAddress })
        // Oldest first, give or take the few the server's event loops accepted out of connect order.
        let shed = crowd.indices.filter { crowd[$0].closedByServer }
        #expect(shed.allSatisfy { $0 < 300 - limits.maxPerAddress + 32 }, "shed: \(shed)")
        let status = try TributaryBinary.run(["l1", "status", "--l1", l1Node.url])
        #expect(status.status == 0, "\(status.stderr)")
        flood.removeAll()
        crowd.removeAll()
        #expect(l1Node.stop() == 0)
    }

    /// With `--idle-timeout 2 --body-timeout 4`: a connection that sends nothing, one that never
    /// finishes its request head and one whose body stops arriving are closed after 2 s of silence;
    /// one that drips its body a byte a second gets a 408 with a JSON-RPC error at 4 s; the server goes
    /// on serving.
    @Test func slowClientsAreTimedOut() async throws {
        let dir = try TemporaryDirectory("conn-timeouts")
        let genesisPath = try fastGenesis(dir)
        let l1Node = try NodeProcess(
            [
                "l1", "--genesis", genesisPath, "--datadir", dir.appending("l1"), "--rpc-port", "0",
                "--idle-timeout", "2", "--body-timeout", "4",
            ], logPath: dir.appending("l1.log"))
        defer { l1Node.stop() }
        let port = try #require(URL(string: l1Node.url)?.port)
        let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
        let silent = try RawConnection(port: port)
        let slowHead = try RawConnection(port: port)
        slowHead.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        let stalled = try RawConnection(port: port)
        stalled.send(head + "{\"jsonrpc\"")
        let drip = try RawConnection(port: port)
        drip.send(head)
        let start = ContinuousClock.now
        var answer = ""
        for _ in 0..<20 where !drip.hasData {
            drip.send(" ")
            try await Task.sleep(for: .seconds(1))
        }
        answer = drip.readAll(seconds: 10)
        let seconds = (ContinuousClock.now - start).components.seconds
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer.prefix(200))")
        #expect(answer.contains("did not arrive within"), "\(answer)")
        #expect(seconds >= 3, "the body had \(seconds) s")
        for (name, connection) in [("silent", silent), ("partial head", slowHead), ("stalled body", stalled)] {
            #expect(connection.readAll(seconds: 10).isEmpty, "\(name)")
            #expect(connection.closedByServer, "\(name)")
        }
        #expect(try await L1Client(url: l1Node.url).blockNumber() >= 0)
        #expect(l1Node.stop() == 0)
    }
}
