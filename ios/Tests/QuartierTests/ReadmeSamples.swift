import Foundation
import Quartier

// The samples of the README's section for app developers, compiled and run by ServerStoryTests:
// scripts/check-readme-samples.sh fails when the README's copy between the markers differs.

/// The first device: opens its database, registers, founds a neighbourhood and invites a neighbour.
func founderSample(dbPath: String, serverUrl: String, secrets: SecretStore) async throws -> (QuartierStore, String, String) {
    // README:begin swift-founder
    let store = try await QuartierStore.open(path: dbPath)
    let sync = try store.sync(serverUrl: serverUrl, secrets: secrets) // KeychainSecretStore() on iOS
    try await sync.register()
    let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
    let invitation = try await store.invite(in: nid, maxUses: 1) // show invitation.code to the neighbour
    _ = try await store.askFavour(in: nid, title: "Water my plants on Saturday", category: "garden")
    _ = try await store.addItem(in: nid, title: "Cordless drill", category: "tools", condition: .good)
    try await sync.syncOnce()
    // README:end swift-founder
    return (store, nid, invitation.code)
}

/// The second device: joins with the code and watches the favours arrive.
func neighbourSample(store: QuartierStore, sync: QuartierSync, code: String) async throws -> String {
    // README:begin swift-neighbour
    try await sync.register()
    let joined = try await sync.join(code: code, displayName: "Bob")
    // A live list: the favours now, then after every change (local or pulled by sync).
    var favours: [Favour] = []
    for await list in try store.observeFavours(in: joined.id) where !list.isEmpty {
        favours = list
        break
    }
    let drill = try await store.items(in: joined.id).first { $0.title == "Cordless drill" }!
    do {
        _ = try await store.requestLoan(in: joined.id, itemId: drill.id, firstDay: day(1), lastDay: day(2))
        _ = try await store.askFavour(in: joined.id, title: "", category: "diy")
    } catch QuartierError.Refused(let code, let reason) {
        print("\(code): \(reason)") // invalid: The title is empty…
    }
    try await sync.syncOnce()
    // README:end swift-neighbour
    return favours.first?.title ?? ""
}

/// `YYYY-MM-DD`, `days` from today (UTC).
func day(_ days: Int) -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd"
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.locale = Locale(identifier: "en_US_POSIX")
    return formatter.string(from: Date().addingTimeInterval(Double(days) * 86_400))
}
