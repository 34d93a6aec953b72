import Foundation
import QuartierCore

// What people do after posting something (the life of favours, loans and pre-orders, the market,
// threads, members, the refused changes) and the live lists: thin `async` wrappers over the core, which
// keeps every rule. To wrap a new core method, add one line here that calls it inside `work`.
extension QuartierStore {
    // MARK: favours

    /// "I'll do it" to an ask, or "yes please" to an offer.
    public func promiseFavour(in nid: String, favourId: String) async throws {
        try await work { try $0.promiseFavour(neighbourhoodId: nid, favourId: favourId) }
    }

    /// The neighbour who promised steps back; the favour is open again.
    public func withdrawFromFavour(in nid: String, favourId: String) async throws {
        try await work { try $0.withdrawFromFavour(neighbourhoodId: nid, favourId: favourId) }
    }

    /// Either party marks a promised favour as done.
    public func completeFavour(in nid: String, favourId: String) async throws {
        try await work { try $0.completeFavour(neighbourhoodId: nid, favourId: favourId) }
    }

    /// The one who was helped thanks the one who helped.
    public func thankFavour(in nid: String, favourId: String, note: String = "") async throws {
        try await work { try $0.thankFavour(neighbourhoodId: nid, favourId: favourId, note: note) }
    }

    /// The author cancels an open or promised favour.
    public func cancelFavour(in nid: String, favourId: String) async throws {
        try await work { try $0.cancelFavour(neighbourhoodId: nid, favourId: favourId) }
    }

    // MARK: items and loans

    public func withdrawItem(in nid: String, itemId: String) async throws {
        try await work { try $0.withdrawItem(neighbourhoodId: nid, itemId: itemId) }
    }

    public func relistItem(in nid: String, itemId: String) async throws {
        try await work { try $0.relistItem(neighbourhoodId: nid, itemId: itemId) }
    }

    /// The owner approves a requested loan; requests overlapping it are declined.
    public func approveLoan(in nid: String, loanId: String) async throws {
        try await work { try $0.approveLoan(neighbourhoodId: nid, loanId: loanId) }
    }

    public func declineLoan(in nid: String, loanId: String, reason: String = "") async throws {
        try await work { try $0.declineLoan(neighbourhoodId: nid, loanId: loanId, reason: reason) }
    }

    /// The borrower cancels a loan not yet handed over.
    public func cancelLoan(in nid: String, loanId: String) async throws {
        try await work { try $0.cancelLoan(neighbourhoodId: nid, loanId: loanId) }
    }

    public func handOverLoan(in nid: String, loanId: String) async throws {
        try await work { try $0.handOverLoan(neighbourhoodId: nid, loanId: loanId) }
    }

    public func returnLoan(in nid: String, loanId: String) async throws {
        try await work { try $0.returnLoan(neighbourhoodId: nid, loanId: loanId) }
    }

    /// The periods an item is promised or lent for: a request must avoid them.
    public func loanCalendar(in nid: String, itemId: String) async throws -> [BookedPeriod] {
        try await work { try $0.loanCalendar(neighbourhoodId: nid, itemId: itemId) }
    }

    // MARK: the neighbourhood itself

    /// A moderator renames or redescribes the neighbourhood (both are replaced).
    public func editNeighbourhood(in nid: String, name: String, description: String) async throws {
        try await work { try $0.editNeighbourhood(neighbourhoodId: nid, name: name, description: description) }
    }

    /// The person leaves the neighbourhood: what they wrote there is removed for everyone. The
    /// neighbourhood leaves `neighbourhoods()` (and `observeNeighbourhoods()`) at the next sync, once the
    /// server has taken the leave.
    public func leaveNeighbourhood(in nid: String) async throws {
        try await work { try $0.leaveNeighbourhood(neighbourhoodId: nid) }
    }

    // MARK: members and invitations

    public func members(in nid: String, limit: UInt32 = 50, offset: UInt32 = 0) async throws -> [Member] {
        try await work { try $0.members(neighbourhoodId: nid, limit: limit, offset: offset) }
    }

    /// A moderator makes a member a trader, a moderator, or a member again.
    public func setRole(in nid: String, memberId: String, role: Role) async throws {
        try await work { try $0.setRole(neighbourhoodId: nid, memberId: memberId, role: role) }
    }

    public func revokeInvitation(in nid: String, invitationId: String) async throws {
        try await work { try $0.revokeInvitation(neighbourhoodId: nid, invitationId: invitationId) }
    }

    // MARK: the market

    /// A trader (or a moderator) opens a stall; returns its id.
    public func openStall(in nid: String, _ stall: StallDraft) async throws -> String {
        try await work { try $0.openStall(neighbourhoodId: nid, draft: stall) }
    }

    public func editStall(in nid: String, stallId: String, _ stall: StallDraft) async throws {
        try await work { try $0.editStall(neighbourhoodId: nid, stallId: stallId, draft: stall) }
    }

    public func stalls(in nid: String, limit: UInt32 = 50, offset: UInt32 = 0) async throws -> [Stall] {
        try await work { try $0.stalls(neighbourhoodId: nid, limit: limit, offset: offset) }
    }

    /// Adds a product to a stall; returns its id.
    public func addProduct(in nid: String, stallId: String, _ product: ProductDraft) async throws -> String {
        try await work { try $0.addProduct(neighbourhoodId: nid, stallId: stallId, draft: product) }
    }

    public func products(in nid: String, stallId: String, includeRemoved: Bool = false) async throws -> [Product] {
        try await work { try $0.products(neighbourhoodId: nid, stallId: stallId, includeRemoved: includeRemoved) }
    }

    public func editProduct(in nid: String, productId: String, name: String, unit: String) async throws {
        try await work { try $0.editProduct(neighbourhoodId: nid, productId: productId, name: name, unit: unit) }
    }

    public func setPrice(in nid: String, productId: String, priceCents: Int64) async throws {
        try await work { try $0.setPrice(neighbourhoodId: nid, productId: productId, priceCents: priceCents) }
    }

    public func setAvailableToday(in nid: String, productId: String, available: Bool) async throws {
        try await work { try $0.setAvailableToday(neighbourhoodId: nid, productId: productId, available: available) }
    }

    /// Sold (negative) or restocked (positive); moves from several devices add up.
    public func adjustStock(in nid: String, productId: String, delta: Int64) async throws {
        try await work { try $0.adjustStock(neighbourhoodId: nid, productId: productId, delta: delta) }
    }

    /// The trader counted the stock: it is set to `count`.
    public func stocktake(in nid: String, productId: String, count: Int64) async throws {
        try await work { try $0.stocktake(neighbourhoodId: nid, productId: productId, count: count) }
    }

    public func removeProduct(in nid: String, productId: String) async throws {
        try await work { try $0.removeProduct(neighbourhoodId: nid, productId: productId) }
    }

    // MARK: pre-orders

    /// Pre-orders products of one stall, for `pickupDay` (`YYYY-MM-DD`) or whenever; returns its id.
    public func placeOrder(
        in nid: String, stallId: String, lines: [OrderLineDraft], pickupDay: String? = nil, note: String = ""
    ) async throws -> String {
        try await work {
            try $0.placeOrder(neighbourhoodId: nid, stallId: stallId, lines: lines, pickupDay: pickupDay, note: note)
        }
    }

    public func confirmOrder(in nid: String, orderId: String) async throws {
        try await work { try $0.confirmOrder(neighbourhoodId: nid, orderId: orderId) }
    }

    public func declineOrder(in nid: String, orderId: String, reason: String = "") async throws {
        try await work { try $0.declineOrder(neighbourhoodId: nid, orderId: orderId, reason: reason) }
    }

    public func orderReady(in nid: String, orderId: String) async throws {
        try await work { try $0.orderReady(neighbourhoodId: nid, orderId: orderId) }
    }

    public func collectOrder(in nid: String, orderId: String) async throws {
        try await work { try $0.collectOrder(neighbourhoodId: nid, orderId: orderId) }
    }

    public func cancelOrder(in nid: String, orderId: String) async throws {
        try await work { try $0.cancelOrder(neighbourhoodId: nid, orderId: orderId) }
    }

    /// Pre-orders, newest first: of one stall, with one status, or only the person's own (`mine`).
    public func orders(
        in nid: String, stallId: String? = nil, status: OrderStatus? = nil, mine: Bool = false, limit: UInt32 = 50,
        offset: UInt32 = 0
    ) async throws -> [Order] {
        try await work {
            try $0.orders(
                neighbourhoodId: nid, stallId: stallId, status: status, mine: mine, limit: limit, offset: offset)
        }
    }

    /// What a stall still has to hand over, by pickup day.
    public func pendingOrders(in nid: String, stallId: String) async throws -> [Order] {
        try await work { try $0.pendingOrders(neighbourhoodId: nid, stallId: stallId) }
    }

    // MARK: messages and the inbox

    /// Writes in the thread of a favour, a loan or an order; returns the message's id.
    public func sendMessage(in nid: String, about kind: ThreadKind, id subjectId: String, body: String) async throws
        -> String
    {
        try await work { try $0.sendMessage(neighbourhoodId: nid, kind: kind, subjectId: subjectId, body: body) }
    }

    public func thread(in nid: String, about kind: ThreadKind, id subjectId: String, limit: UInt32 = 100) async throws
        -> [Message]
    {
        try await work { try $0.thread(neighbourhoodId: nid, kind: kind, subjectId: subjectId, limit: limit, offset: 0) }
    }

    /// The changes of this device that the server refused, with why, until dismissed.
    public func rejections(in nid: String) async throws -> [Rejection] {
        try await work { try $0.rejections(neighbourhoodId: nid) }
    }

    public func dismissRejection(seq: UInt64) async throws {
        try await work { try $0.dismissRejection(seq: seq) }
    }

    /// The inbox entries to notify now, each once, none in quiet hours, within the daily budget.
    public func notificationsDue(in nid: String, settings: NotifySettings) async throws -> [InboxEntry] {
        try await work { try $0.notificationsDue(neighbourhoodId: nid, settings: settings) }
    }

    // MARK: live lists

    /// Yields once now, then after every change to one of `topics` (in any neighbourhood of the device);
    /// signals that come while the reader is busy are merged into one. Ending the iteration (or its task)
    /// stops the observation in the core.
    public func changes(_ topics: [Topic]) throws -> AsyncStream<Void> {
        var failure: Error?
        let core = self.core
        let stream = AsyncStream<Void>(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try core.observeChanges(topics: topics, observer: ChangeSignal(continuation))
                continuation.yield(())
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                failure = error
                continuation.finish()
            }
        }
        if let failure { throw failure }
        return stream
    }

    /// `query` now and after every change to `topics`, run on the store's queue, never the same answer
    /// twice in a row. A failing run goes to `onError` and the observation goes on.
    public func observe<T: Equatable & Sendable>(
        _ topics: [Topic], onError: @escaping @Sendable (Error) -> Void = { _ in },
        query: @escaping @Sendable (Quartier) throws -> T
    ) throws -> AsyncStream<T> {
        let signals = try changes(topics)
        return AsyncStream<T>(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let task = Task {
                var last: T?
                for await _ in signals {
                    do {
                        let value = try await self.work(query)
                        if value != last {
                            last = value
                            continuation.yield(value)
                        }
                    } catch {
                        onError(error)
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The neighbourhoods this device holds, live: one created, joined (when sync brings it), edited (here
    /// or by a moderator elsewhere), or left (gone at the sync that follows the leave).
    public func observeNeighbourhoods() throws -> AsyncStream<[Neighbourhood]> {
        try observe([.neighbourhoods]) { try $0.neighbourhoods() }
    }

    public func observeItems(in nid: String, limit: UInt32 = 50) throws -> AsyncStream<[Item]> {
        try observe([.items, .loans, .members]) { try $0.items(neighbourhoodId: nid, limit: limit, offset: 0) }
    }

    public func observeLoans(in nid: String, itemId: String? = nil, status: LoanStatus? = nil) throws
        -> AsyncStream<[Loan]>
    {
        try observe([.loans, .items, .members]) {
            try $0.loans(neighbourhoodId: nid, itemId: itemId, status: status, limit: 50, offset: 0)
        }
    }

    public func observeLoanCalendar(in nid: String, itemId: String) throws -> AsyncStream<[BookedPeriod]> {
        try observe([.loans]) { try $0.loanCalendar(neighbourhoodId: nid, itemId: itemId) }
    }

    public func observeMembers(in nid: String) throws -> AsyncStream<[Member]> {
        try observe([.members, .favours]) { try $0.members(neighbourhoodId: nid, limit: 200, offset: 0) }
    }

    public func observeStalls(in nid: String) throws -> AsyncStream<[Stall]> {
        try observe([.stalls, .members]) { try $0.stalls(neighbourhoodId: nid, limit: 200, offset: 0) }
    }

    public func observeProducts(in nid: String, stallId: String) throws -> AsyncStream<[Product]> {
        try observe([.products]) { try $0.products(neighbourhoodId: nid, stallId: stallId, includeRemoved: false) }
    }

    public func observeOrders(in nid: String, stallId: String? = nil, status: OrderStatus? = nil, mine: Bool = false)
        throws -> AsyncStream<[Order]>
    {
        try observe([.orders, .products, .stalls, .members]) {
            try $0.orders(neighbourhoodId: nid, stallId: stallId, status: status, mine: mine, limit: 50, offset: 0)
        }
    }

    /// What a stall still has to hand over, by pickup day, live.
    public func observePendingOrders(in nid: String, stallId: String) throws -> AsyncStream<[Order]> {
        try observe([.orders, .products, .stalls, .members]) {
            try $0.pendingOrders(neighbourhoodId: nid, stallId: stallId)
        }
    }

    public func observeThread(in nid: String, about kind: ThreadKind, id subjectId: String) throws
        -> AsyncStream<[Message]>
    {
        try observe([.messages, .members]) {
            try $0.thread(neighbourhoodId: nid, kind: kind, subjectId: subjectId, limit: 200, offset: 0)
        }
    }

    /// The inbox, live; "today" is taken in `timeZone`.
    public func observeInbox(in nid: String, timeZone: TimeZone = .current) throws -> AsyncStream<[InboxEntry]> {
        let offsetMinutes = Int32(timeZone.secondsFromGMT() / 60)
        return try observe([.inbox]) { try $0.inbox(neighbourhoodId: nid, utcOffsetMinutes: offsetMinutes) }
    }

    public func observeRejections(in nid: String) throws -> AsyncStream<[Rejection]> {
        try observe([.inbox]) { try $0.rejections(neighbourhoodId: nid) }
    }

    public func observeSearch(
        in nid: String, text: String, limit: UInt32 = 20, newestFirst: Bool = false
    ) throws -> AsyncStream<[SearchHit]> {
        try observe([.favours, .items, .products]) {
            try $0.search(neighbourhoodId: nid, text: text, limit: limit, newestFirst: newestFirst)
        }
    }

    /// A `QuartierSync` for this store and the server at `serverUrl`, with its status as a stream.
    public func sync(serverUrl: String, secrets: SecretStore) throws -> QuartierSync {
        QuartierSync(engine: try syncEngine(serverUrl: serverUrl, secrets: secrets))
    }
}

/// Hands the change signal to an `AsyncStream`; called on the thread that saved the change.
private final class ChangeSignal: ChangeObserver, @unchecked Sendable {
    private let continuation: AsyncStream<Void>.Continuation

    init(_ continuation: AsyncStream<Void>.Continuation) {
        self.continuation = continuation
    }

    func onChange() {
        continuation.yield(())
    }
}

/// Syncs a `QuartierStore` with its server. Its methods run on the core's own threads; cancelling the
/// task stops the work in the core at its next wait (a network call) and loses nothing: every step is
/// saved as it goes, and the next round resumes.
public final class QuartierSync: @unchecked Sendable {
    /// The generated binding, for what this class does not wrap.
    public let engine: SyncEngine

    public init(engine: SyncEngine) {
        self.engine = engine
    }

    public func isRegistered() throws -> Bool { try engine.isRegistered() }

    /// Registers the device with the server, once; later calls do nothing.
    public func register() async throws {
        try await cancellable { try await self.engine.register(cancellation: $0) }
    }

    /// Joins a neighbourhood with an invitation code from a member, then fetches it.
    public func join(code: String, displayName: String) async throws -> JoinedNeighbourhood {
        try await cancellable { try await self.engine.join(code: code, displayName: displayName, cancellation: $0) }
    }

    /// One round within `budgetMs`: fits iOS's short background windows (`QuartierBackgroundSync`).
    @discardableResult
    public func syncOnce(budgetMs: UInt64 = 20_000) async throws -> SyncReport {
        try await cancellable { try await self.engine.syncOnce(budgetMs: budgetMs, cancellation: $0) }
    }

    /// Runs a call of the core that stops when the calling task is cancelled (uniffi's Swift code alone
    /// would wait for it to end), and then throws `CancellationError`.
    private func cancellable<T>(_ call: (Cancellation) async throws -> T) async throws -> T {
        let cancellation = Cancellation()
        do {
            return try await withTaskCancellationHandler {
                try await call(cancellation)
            } onCancel: {
                cancellation.cancel()
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    public var status: SyncStatus { engine.status() }

    /// The sync status now and at every change: pending changes (a local write adds one), the last
    /// success, the last error, whether a round runs. Keeps only the newest for a slow reader.
    public func observeStatus() throws -> AsyncStream<SyncStatus> {
        var failure: Error?
        let engine = self.engine
        let stream = AsyncStream<SyncStatus>(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try engine.observeStatus(observer: StatusSignal(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                failure = error
                continuation.finish()
            }
        }
        if let failure { throw failure }
        return stream
    }
}

private final class StatusSignal: SyncStatusObserver, @unchecked Sendable {
    private let continuation: AsyncStream<SyncStatus>.Continuation

    init(_ continuation: AsyncStream<SyncStatus>.Continuation) {
        self.continuation = continuation
    }

    func onStatus(status: SyncStatus) {
        continuation.yield(status)
    }
}
