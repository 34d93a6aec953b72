import Foundation
import Quartier
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cancelling a task that waits on the core stops the work there and leaks nothing (the core's own
/// count of live observations and running calls goes back down), and many tasks at once are safe.
final class CancellationTests: XCTestCase {
    private var dir: URL!
    private var store: QuartierStore!

    override func setUp() async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("quartier-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try await QuartierStore.open(path: dir.appendingPathComponent("quartier.db").path)
    }

    override func tearDown() async throws {
        store = nil
        try? FileManager.default.removeItem(at: dir)
    }

    /// Waits (bounded) until `condition` holds: the core lets go on its own threads, a moment later.
    private func eventually(_ what: String, _ condition: @escaping @Sendable () -> Bool) async throws {
        for _ in 0..<2_000 where !condition() {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTAssertTrue(condition(), what)
    }

    func testCancellingASyncStuckOnASilentServerStopsItInTheCore() async throws {
        // A socket that listens and never answers: connections wait in its backlog.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(fd, 16), 0)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)

        let sync = try store.sync(
            serverUrl: "http://127.0.0.1:\(port)",
            secrets: fileSecretStore(path: dir.appendingPathComponent("s.json").path))
        let before = diagnostics().runningCalls
        let registering = Task { try await sync.register() }
        try await eventually("the call runs in the core") { diagnostics().runningCalls == before + 1 }
        registering.cancel()
        do {
            try await registering.value
            XCTFail("a cancelled registration ended normally")
        } catch is CancellationError {
        }
        try await eventually("the cancelled call ended in the core") { diagnostics().runningCalls == before }
        XCTAssertFalse(try sync.isRegistered())
    }

    func testCancellingAReaderReleasesItsObservation() async throws {
        let store = self.store!
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        let before = diagnostics().liveObservations
        let favours = try store.observeFavours(in: nid)
        let items = try store.observeItems(in: nid)
        let statuses = try store.sync(
            serverUrl: "http://127.0.0.1:9", secrets: fileSecretStore(path: dir.appendingPathComponent("s.json").path)
        ).observeStatus()
        let readers = [
            Task { for await _ in favours {} },
            Task { for await _ in items {} },
            Task { for await _ in statuses {} },
        ]
        try await eventually("three observations run") { diagnostics().liveObservations == before + 3 }
        readers.forEach { $0.cancel() }
        for reader in readers { await reader.value }
        try await eventually("every observation was released") { diagnostics().liveObservations == before }
    }

    func testManyTasksWritingAndReadingAtOnceAreSafe() async throws {
        let store = self.store!
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        let writers = 8
        let each = 25
        let watching = try store.observeFavours(in: nid)
        let watcher = Task { () -> Int in
            for await list in watching where list.count == writers * each { return list.count }
            return -1
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for i in 0..<each {
                        _ = try await store.askFavour(in: nid, title: "Favour \(w)-\(i)", category: "errands")
                        let page = try await store.favours(in: nid, limit: 10)
                        XCTAssertLessThanOrEqual(page.count, 10)
                    }
                }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<each {
                        _ = try await store.search(in: nid, text: "favour")
                        _ = try await store.inbox(in: nid)
                    }
                }
            }
            try await group.waitForAll()
        }
        let pending = try await store.outboxCount()
        XCTAssertEqual(pending, UInt64(1 + writers * each))
        let titles = Set(try await store.favours(in: nid, limit: 200).map(\.title))
        XCTAssertEqual(titles.count, writers * each)
        let seen = try await within(seconds: 30) { await watcher.value }
        XCTAssertEqual(seen, writers * each)
    }
}
