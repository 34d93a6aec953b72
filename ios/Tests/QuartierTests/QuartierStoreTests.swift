import Foundation
import Quartier
import XCTest

/// The Swift shell over the real Rust library and a real database in a temporary folder.
final class QuartierStoreTests: XCTestCase {
    private var dir: URL!
    private var store: QuartierStore!

    override func setUp() async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("quartier-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try await QuartierStore.open(path: dir.appendingPathComponent("quartier.db").path)
    }

    override func tearDown() async throws {
        store = nil
        try? FileManager.default.removeItem(at: dir)
    }

    func testAFavourAskedIsListedAndArrivesThroughTheStream() async throws {
        let store = self.store!
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        let stream = try store.observeFavours(in: nid)
        let (first, second, id) = try await within(seconds: 10) { () -> ([Favour]?, [Favour]?, String) in
            var lists = stream.makeAsyncIterator()
            // The first list (empty) is there before the favour is asked.
            let first = await lists.next()
            let id = try await store.askFavour(in: nid, title: "Water my plants on Saturday", category: "garden")
            return (first, await lists.next(), id)
        }
        XCTAssertEqual(first, [])
        let favour = try XCTUnwrap(second?.first)
        XCTAssertEqual(second?.count, 1)
        XCTAssertEqual(favour.id, id)
        XCTAssertEqual(favour.title, "Water my plants on Saturday")
        XCTAssertEqual(favour.kind, .ask)
        XCTAssertEqual(favour.status, .open)
        XCTAssertEqual(favour.authorName, "Alice")
        XCTAssertEqual(favour.authorId, store.identity.personId)
        let listed = try await store.favours(in: nid)
        XCTAssertEqual(listed, [favour])
        // The neighbourhood and the favour wait in the outbox for the server.
        let pending = try await store.outboxCount()
        XCTAssertEqual(pending, 2)
    }

    func testTheNeighbourhoodsStreamYieldsWhenOneIsFoundedAndWhenItIsEdited() async throws {
        let store = self.store!
        let stream = try store.observeNeighbourhoods()
        let (lists, nid) = try await within(seconds: 10) { () -> ([[Neighbourhood]?], String) in
            var lists = stream.makeAsyncIterator()
            let first = await lists.next()
            let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
            let second = await lists.next()
            // A favour is no change of the list: nothing is yielded for it.
            _ = try await store.askFavour(in: nid, title: "Water my plants on Saturday", category: "garden")
            try await store.editNeighbourhood(in: nid, name: "Aligre-Cotte", description: "Around the market")
            return ([first, second, await lists.next()], nid)
        }
        XCTAssertEqual(lists[0], [])
        XCTAssertEqual(lists[1], [Neighbourhood(id: nid, name: "Aligre", description: "")])
        XCTAssertEqual(lists[2], [Neighbourhood(id: nid, name: "Aligre-Cotte", description: "Around the market")])
        let listed = try await store.neighbourhoods()
        XCTAssertEqual(listed, lists[2])
    }

    func testAnEmptyTitleIsRefusedWithATypedError() async throws {
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        do {
            _ = try await store.askFavour(in: nid, title: "   ", category: "garden")
            XCTFail("an empty title was accepted")
        } catch QuartierError.Refused(let code, let reason) {
            XCTAssertEqual(code, "invalid")
            XCTAssertTrue(reason.contains("title"), reason)
        }
        let listed = try await store.favours(in: nid)
        XCTAssertEqual(listed, [])
        let pending = try await store.outboxCount()
        XCTAssertEqual(pending, 1, "a refusal saves nothing")
    }

    func testLendingInvitationsAndSearchGoThroughTheCore() async throws {
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        let drill = try await store.addItem(in: nid, title: "Cordless drill", category: "tools", condition: .good)
        let items = try await store.items(in: nid)
        XCTAssertEqual(items.map(\.ownerName), ["Alice"])
        do {
            _ = try await store.requestLoan(in: nid, itemId: drill, firstDay: "2031-03-03", lastDay: "2031-03-04")
            XCTFail("the owner borrowed her own drill")
        } catch QuartierError.Refused(let code, _) {
            XCTAssertEqual(code, "forbidden")
        }
        do {
            _ = try await store.requestLoan(in: nid, itemId: drill, firstDay: "next monday", lastDay: "2031-03-04")
            XCTFail("a day that is not YYYY-MM-DD was accepted")
        } catch QuartierError.Invalid(let reason) {
            XCTAssertTrue(reason.contains("YYYY-MM-DD"), reason)
        }
        let invitation = try await store.invite(in: nid, maxUses: 3)
        XCTAssertEqual(invitation.code.count, 19)
        XCTAssertEqual(invitation.maxUses, 3)
        let hits = try await store.search(in: nid, text: "drill")
        XCTAssertEqual(hits.map(\.id), [drill])
        XCTAssertEqual(hits.map(\.kind), [.item])
        let bits = try await store.addItem(in: nid, title: "Drill bits", category: "tools", condition: .good)
        let newest = try await store.search(in: nid, text: "dril", newestFirst: true)
        XCTAssertEqual(newest.map(\.id), [bits, drill])
    }

    func testTheCoresLogLinesReachTheSink() async throws {
        let lines = Lines()
        try QuartierLogs.install(level: .debug) { lines.append($0) }
        defer { QuartierLogs.uninstall() }
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        _ = try await store.askFavour(in: nid, title: "Lend me a ladder", category: "diy")
        let saved = lines.all.filter { $0.target.hasPrefix("quartier_core") && $0.message.hasPrefix("saved locally") }
        XCTAssertEqual(saved.count, 2, "\(lines.all)")
        XCTAssertEqual(saved.map(\.level), [.debug, .debug])
        XCTAssertTrue(saved.last?.message.contains("favour.post") ?? false)
    }

    func testSyncWithoutRegistrationIsATypedErrorAndKeepsTheOutbox() async throws {
        let secrets = fileSecretStore(path: dir.appendingPathComponent("secrets.json").path)
        let engine = try store.syncEngine(serverUrl: "http://127.0.0.1:9", secrets: secrets)
        XCTAssertFalse(try engine.isRegistered())
        _ = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        do {
            _ = try await engine.syncOnce(budgetMs: 2_000)
            XCTFail("an unregistered device synced")
        } catch QuartierError.NotRegistered {
        }
        XCTAssertEqual(engine.status().pending, 1)
    }

    func testASecretStoreWrittenInSwiftIsCalledAndItsFailureIsTyped() async throws {
        let broken = BrokenSecrets()
        let engine = try store.syncEngine(serverUrl: "http://127.0.0.1:9", secrets: broken)
        do {
            _ = try engine.isRegistered()
            XCTFail("a failing secret store was not reported")
        } catch QuartierError.Storage(let problem, let reason) {
            XCTAssertEqual(problem, .secrets)
            XCTAssertTrue(reason.contains("the Keychain is locked"), reason)
        }
        XCTAssertEqual(broken.asked, 1)
    }

    func testAMissingFolderIsAStorageError() async throws {
        let missing = dir.appendingPathComponent("no/such/folder/quartier.db").path
        do {
            _ = try await QuartierStore.open(path: missing)
            XCTFail("a database opened in a missing folder")
        } catch QuartierError.Storage {
        }
    }
}

private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [LogRecord] = []

    func append(_ line: LogRecord) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}

/// A secret store that fails, as a locked Keychain would.
private final class BrokenSecrets: SecretStore, @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var asked: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func get(key: String) throws -> String? {
        lock.lock()
        count += 1
        lock.unlock()
        throw QuartierError.Storage(problem: .secrets, reason: "the Keychain is locked")
    }

    func set(key: String, value: String) throws {
        throw QuartierError.Internal(reason: "not expected")
    }

    func delete(key: String) throws {
        throw QuartierError.Internal(reason: "not expected")
    }
}

struct TimedOut: Error {}

/// Runs `body`, failing if it takes longer than `seconds` (a stream that never yields would hang).
func within<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            throw TimedOut()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimedOut() }
        return first
    }
}
