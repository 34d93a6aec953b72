import Foundation
import Quartier
import XCTest

/// Two devices and the real sync server that scripts/test-shells.sh started for this run (its address in
/// the environment variable QUARTIER_SERVER_URL): the README's story, then a loan, a thread, a favour's
/// life, a pre-order and a refused change, each seen arriving on the other device through a stream.
final class ServerStoryTests: XCTestCase {
    private var dir: URL!

    override func setUp() async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("quartier-story-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func secrets(_ name: String) -> SecretStore {
        fileSecretStore(path: dir.appendingPathComponent("\(name)-secrets.json").path)
    }

    func testTwoNeighboursShareFavoursALoanAStallAndMessagesThroughTheServer() async throws {
        guard let url = ProcessInfo.processInfo.environment["QUARTIER_SERVER_URL"], !url.isEmpty else {
            XCTFail("no server: run scripts/test-shells.sh, which starts one and sets QUARTIER_SERVER_URL")
            return
        }
        let (alice, nid, code) = try await founderSample(
            dbPath: dir.appendingPathComponent("alice.db").path, serverUrl: url, secrets: secrets("alice"))
        let aliceSync = try alice.sync(serverUrl: url, secrets: secrets("alice"))
        let bob = try await QuartierStore.open(path: dir.appendingPathComponent("bob.db").path)
        let bobSync = try bob.sync(serverUrl: url, secrets: secrets("bob"))

        // Bob's list of neighbourhoods, live from before he joins.
        let bobNeighbourhoods = try bob.observeNeighbourhoods()
        let before = try await within(seconds: 10) { () -> [Neighbourhood]? in
            for await list in bobNeighbourhoods { return list }
            return nil
        }
        XCTAssertEqual(before, [])

        let title = try await within(seconds: 60) { try await neighbourSample(store: bob, sync: bobSync, code: code) }
        XCTAssertEqual(title, "Water my plants on Saturday")
        let joined = try await within(seconds: 30) { () -> [Neighbourhood] in
            for await list in bobNeighbourhoods where !list.isEmpty { return list }
            return []
        }
        XCTAssertEqual(joined.map(\.id), [nid])
        XCTAssertEqual(joined.map(\.name), ["Aligre"])
        XCTAssertEqual(bobSync.status.pending, 0)
        XCTAssertNotNil(bobSync.status.lastSuccessMs)
        let drill = try await bob.items(in: nid)[0]
        let loan = try await bob.loans(in: nid)[0]
        XCTAssertEqual(loan.status, .requested)

        // Alice, a moderator, renames the neighbourhood: Bob's list follows when he syncs.
        try await alice.editNeighbourhood(in: nid, name: "Aligre-Cotte", description: "Around the market")
        try await aliceSync.syncOnce()
        try await bobSync.syncOnce()
        let renamed = try await within(seconds: 30) { () -> [Neighbourhood] in
            for await list in bobNeighbourhoods where list.map(\.name) != ["Aligre"] { return list }
            return []
        }
        XCTAssertEqual(renamed, [Neighbourhood(id: nid, name: "Aligre-Cotte", description: "Around the market")])

        // Alice sees the request arrive through her live list, and approves it.
        let aliceLoans = try alice.observeLoans(in: nid)
        try await aliceSync.syncOnce()
        let requested = try await within(seconds: 30) { () -> [Loan] in
            for await loans in aliceLoans where loans.contains(where: { $0.status == .requested }) { return loans }
            return []
        }
        XCTAssertEqual(requested.map(\.id), [loan.id])
        try await alice.approveLoan(in: nid, loanId: loan.id)
        try await aliceSync.syncOnce()

        // Bob's list turns to approved; overlapping days are then refused on his phone.
        let bobLoans = try bob.observeLoans(in: nid, status: .approved)
        try await bobSync.syncOnce()
        let approved = try await within(seconds: 30) { () -> [Loan] in
            for await loans in bobLoans where !loans.isEmpty { return loans }
            return []
        }
        XCTAssertEqual(approved.map(\.id), [loan.id])
        do {
            _ = try await bob.requestLoan(in: nid, itemId: drill.id, firstDay: loan.lastDay, lastDay: day(5))
            XCTFail("an overlapping loan was accepted")
        } catch QuartierError.Refused(let code, let reason) {
            XCTAssertEqual(code, "overlap")
            XCTAssertTrue(reason.contains("choose other days"), reason)
        }

        // The loan's thread, and the favour's life.
        _ = try await bob.sendMessage(in: nid, about: .loan, id: loan.id, body: "Can I pick it up at 6?")
        let favour = try await bob.favours(in: nid)[0]
        try await bob.promiseFavour(in: nid, favourId: favour.id)
        try await bobSync.syncOnce()
        try await aliceSync.syncOnce()
        let thread = try await alice.thread(in: nid, about: .loan, id: loan.id)
        XCTAssertEqual(thread.map(\.body), ["Can I pick it up at 6?"])
        XCTAssertEqual(thread.map(\.authorName), ["Bob"])
        try await alice.completeFavour(in: nid, favourId: favour.id)
        try await alice.thankFavour(in: nid, favourId: favour.id, note: "The basil is thriving")

        // The market: a stall, a product, a pre-order collected; the stock follows.
        let stall = try await alice.openStall(
            in: nid, StallDraft(name: "Alice's herbs", market: "Marché d'Aligre", days: [6], opensMin: 480, closesMin: 780))
        let basil = try await alice.addProduct(
            in: nid, stallId: stall, ProductDraft(name: "Basil", unit: "pot", priceCents: 350, stock: 5))
        try await aliceSync.syncOnce()
        try await bobSync.syncOnce()
        let thanked = try await bob.favours(in: nid)[0]
        XCTAssertEqual(thanked.status, .thanked)
        let order = try await bob.placeOrder(
            in: nid, stallId: stall, lines: [OrderLineDraft(productId: basil, quantity: 2)], pickupDay: day(3))
        try await bobSync.syncOnce()
        let pending = try alice.observePendingOrders(in: nid, stallId: stall)
        try await aliceSync.syncOnce()
        let placed = try await within(seconds: 30) { () -> [Order] in
            for await orders in pending where !orders.isEmpty { return orders }
            return []
        }
        XCTAssertEqual(placed.map(\.id), [order])
        try await alice.confirmOrder(in: nid, orderId: order)
        try await alice.orderReady(in: nid, orderId: order)
        try await alice.collectOrder(in: nid, orderId: order)
        try await aliceSync.syncOnce()
        try await bobSync.syncOnce()
        let mine = try await bob.orders(in: nid, mine: true)
        XCTAssertEqual(mine.map(\.status), [.collected])
        XCTAssertEqual(mine.map(\.totalCents), [700])
        let products = try await bob.products(in: nid, stallId: stall)
        XCTAssertEqual(products.map(\.stock), [3])

        // A change that cannot stand: the drill withdrawn while Bob, offline, asks for it again.
        try await alice.withdrawItem(in: nid, itemId: drill.id)
        try await aliceSync.syncOnce()
        _ = try await bob.requestLoan(in: nid, itemId: drill.id, firstDay: day(20), lastDay: day(21))
        let report = try await bobSync.syncOnce()
        XCTAssertEqual(report.rejected.map(\.code), ["wrong_state"])
        let rejections = try await bob.rejections(in: nid)
        XCTAssertEqual(rejections.count, 1)
        try await bob.dismissRejection(seq: rejections[0].seq)
        let left = try await bob.rejections(in: nid)
        XCTAssertEqual(left, [])

        // Bob leaves: once the server has taken it, the neighbourhood leaves his phone and his list.
        try await bob.leaveNeighbourhood(in: nid)
        try await bobSync.syncOnce()
        let gone = try await within(seconds: 30) { () -> [Neighbourhood]? in
            for await list in bobNeighbourhoods where list.isEmpty { return list }
            return nil
        }
        XCTAssertEqual(gone, [])
        let held = try await bob.neighbourhoods()
        XCTAssertEqual(held, [])
        try await aliceSync.syncOnce()
        let members = try await alice.members(in: nid)
        XCTAssertEqual(members.map(\.displayName), ["Alice"])
    }

    func testTheSyncStatusStreamTellsPendingChangesThenTheSuccess() async throws {
        guard let url = ProcessInfo.processInfo.environment["QUARTIER_SERVER_URL"], !url.isEmpty else {
            XCTFail("no server: run scripts/test-shells.sh, which starts one and sets QUARTIER_SERVER_URL")
            return
        }
        let store = try await QuartierStore.open(path: dir.appendingPathComponent("carol.db").path)
        let sync = try store.sync(serverUrl: url, secrets: secrets("carol"))
        try await sync.register()
        let statuses = try sync.observeStatus()
        let nid = try await store.createNeighbourhood(name: "Bastille", displayName: "Carol")
        _ = try await store.askFavour(in: nid, title: "Help me carry a sofa", category: "errands")
        try await sync.syncOnce()
        let done = try await within(seconds: 30) { () -> SyncStatus? in
            for await status in statuses where status.pending == 0 && status.lastSuccessMs != nil && !status.syncing {
                return status
            }
            return nil
        }
        XCTAssertNil(done?.lastError)
    }
}
