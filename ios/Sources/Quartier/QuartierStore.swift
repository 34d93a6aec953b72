import Foundation
@_exported import QuartierCore

/// Quartier on this device: its database, the neighbourhoods it holds, and what the person does in them.
///
/// Every change is saved at once, even offline, and reaches the others when a `SyncEngine` runs. The
/// methods are `async` and run the core's work on a queue of their own (the database waits for the
/// disk), never on the caller's thread. Failures are `QuartierError`s: `.Refused(code:reason:)` when
/// the neighbourhood's rules refuse (`code` is stable, `reason` a sentence to show), and the others for
/// bad arguments, storage and network trouble.
///
/// Open one per database file and keep it for the life of the app.
public final class QuartierStore: @unchecked Sendable {
    /// The generated binding, for what this class does not wrap.
    public let core: Quartier
    private let queue: DispatchQueue

    private init(core: Quartier, queue: DispatchQueue) {
        self.core = core
        self.queue = queue
    }

    /// Opens (or creates) the database at `path`; its folder must exist.
    public static func open(path: String) async throws -> QuartierStore {
        let queue = DispatchQueue(label: "org.quartier.store", qos: .userInitiated, attributes: .concurrent)
        let core = try await run(on: queue) { try Quartier.open(path: path) }
        return QuartierStore(core: core, queue: queue)
    }

    /// Who this device is, and whom it acts for.
    public var identity: Identity { core.identity() }

    /// The neighbourhoods this device holds, by name.
    public func neighbourhoods() async throws -> [Neighbourhood] {
        try await work { try $0.neighbourhoods() }
    }

    /// Starts a neighbourhood with this person as its moderator; returns its id.
    public func createNeighbourhood(name: String, displayName: String, description: String = "") async throws -> String {
        try await work { try $0.createNeighbourhood(name: name, description: description, displayName: displayName) }
    }

    /// Asks the neighbours for a favour; returns its id.
    public func askFavour(
        in neighbourhoodId: String, title: String, category: String, details: String = "", window: TimeWindow? = nil
    ) async throws -> String {
        let draft = FavourDraft(title: title, category: category, details: details, window: window)
        return try await work { try $0.askFavour(neighbourhoodId: neighbourhoodId, draft: draft) }
    }

    /// Offers the neighbours a favour; returns its id.
    public func offerFavour(
        in neighbourhoodId: String, title: String, category: String, details: String = "", window: TimeWindow? = nil
    ) async throws -> String {
        let draft = FavourDraft(title: title, category: category, details: details, window: window)
        return try await work { try $0.offerFavour(neighbourhoodId: neighbourhoodId, draft: draft) }
    }

    /// One page of favours, newest first.
    public func favours(
        in neighbourhoodId: String, status: FavourStatus? = nil, limit: UInt32 = 50, offset: UInt32 = 0
    ) async throws -> [Favour] {
        try await work {
            try $0.favours(neighbourhoodId: neighbourhoodId, status: status, limit: limit, offset: offset)
        }
    }

    /// The newest favours of a neighbourhood, now and after every change, for a live list. The stream
    /// holds only the latest list for a slow reader; ending the iteration (or its task) stops the
    /// observation. The first list is read before this returns, so an error there is thrown here; the
    /// failure of a later refresh goes to `onError` and the observation goes on.
    public func observeFavours(
        in neighbourhoodId: String, onError: @escaping @Sendable (QuartierError) -> Void = { _ in }
    ) throws -> AsyncStream<[Favour]> {
        var failure: Error?
        let stream = AsyncStream<[Favour]>(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let observer = StreamObserver(continuation: continuation, onError: onError)
            do {
                let subscription = try core.observeFavours(neighbourhoodId: neighbourhoodId, observer: observer)
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                failure = error
                continuation.finish()
            }
        }
        if let failure { throw failure }
        return stream
    }

    /// Puts an item up for lending; returns its id.
    public func addItem(
        in neighbourhoodId: String, title: String, category: String, condition: Condition,
        description: String = "", depositNote: String = ""
    ) async throws -> String {
        let draft = ItemDraft(
            title: title, category: category, condition: condition, description: description, depositNote: depositNote)
        return try await work { try $0.addItem(neighbourhoodId: neighbourhoodId, draft: draft) }
    }

    public func items(in neighbourhoodId: String, limit: UInt32 = 50, offset: UInt32 = 0) async throws -> [Item] {
        try await work { try $0.items(neighbourhoodId: neighbourhoodId, limit: limit, offset: offset) }
    }

    /// Asks to borrow an item from `firstDay` to `lastDay` (`YYYY-MM-DD`, both included); returns the
    /// loan's id.
    public func requestLoan(
        in neighbourhoodId: String, itemId: String, firstDay: String, lastDay: String, note: String = ""
    ) async throws -> String {
        try await work {
            try $0.requestLoan(
                neighbourhoodId: neighbourhoodId, itemId: itemId, firstDay: firstDay, lastDay: lastDay, note: note)
        }
    }

    public func loans(
        in neighbourhoodId: String, itemId: String? = nil, status: LoanStatus? = nil, limit: UInt32 = 50,
        offset: UInt32 = 0
    ) async throws -> [Loan] {
        try await work {
            try $0.loans(neighbourhoodId: neighbourhoodId, itemId: itemId, status: status, limit: limit, offset: offset)
        }
    }

    /// Invites newcomers; show the code to the person, it is not kept.
    public func invite(in neighbourhoodId: String, maxUses: UInt32 = 1, validForDays: UInt32 = 7) async throws -> Invitation {
        try await work { try $0.invite(neighbourhoodId: neighbourhoodId, maxUses: maxUses, validForDays: validForDays) }
    }

    /// Open favours, items and products matching `text`, best first, or the latest to reach this device
    /// first with `newestFirst`.
    public func search(
        in neighbourhoodId: String, text: String, limit: UInt32 = 20, newestFirst: Bool = false
    ) async throws -> [SearchHit] {
        try await work {
            try $0.search(neighbourhoodId: neighbourhoodId, text: text, limit: limit, newestFirst: newestFirst)
        }
    }

    /// What concerns the person now, newest first, with "today" taken in `timeZone`.
    public func inbox(in neighbourhoodId: String, timeZone: TimeZone = .current) async throws -> [InboxEntry] {
        let offsetMinutes = Int32(timeZone.secondsFromGMT() / 60)
        return try await work { try $0.inbox(neighbourhoodId: neighbourhoodId, utcOffsetMinutes: offsetMinutes) }
    }

    /// How many changes wait to be sent to the server.
    public func outboxCount() async throws -> UInt64 {
        try await work { try $0.outboxCount() }
    }

    /// A sync engine for this store and the server at `serverUrl`, keeping its token in `secrets` (the
    /// Keychain on iOS: `KeychainSecretStore`). Its methods are already `async`.
    public func syncEngine(serverUrl: String, secrets: SecretStore) throws -> SyncEngine {
        try SyncEngine(quartier: core, serverUrl: serverUrl, secrets: secrets)
    }

    func work<T>(_ body: @escaping (Quartier) throws -> T) async throws -> T {
        let core = self.core
        return try await QuartierStore.run(on: queue) { try body(core) }
    }

    private static func run<T>(on queue: DispatchQueue, _ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Hands the lists to an `AsyncStream`; called on the thread that saved the change.
private final class StreamObserver: FavoursObserver, @unchecked Sendable {
    private let continuation: AsyncStream<[Favour]>.Continuation
    private let onError: @Sendable (QuartierError) -> Void

    init(continuation: AsyncStream<[Favour]>.Continuation, onError: @escaping @Sendable (QuartierError) -> Void) {
        self.continuation = continuation
        self.onError = onError
    }

    func onFavours(favours: [Favour]) {
        continuation.yield(favours)
    }

    func onError(error: QuartierError) {
        onError(error)
    }
}
