package org.quartier

import java.time.LocalDate
import java.time.ZoneId
import java.time.ZonedDateTime
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.withContext
import org.quartier.core.BookedPeriod
import org.quartier.core.ChangeObserver
import org.quartier.core.Member
import org.quartier.core.Message
import org.quartier.core.NotifySettings
import org.quartier.core.Order
import org.quartier.core.OrderLineDraft
import org.quartier.core.OrderStatus
import org.quartier.core.Product
import org.quartier.core.ProductDraft
import org.quartier.core.Rejection
import org.quartier.core.Role
import org.quartier.core.Stall
import org.quartier.core.StallDraft
import org.quartier.core.ThreadKind
import org.quartier.core.Topic
import org.quartier.core.Condition
import org.quartier.core.Favour
import org.quartier.core.FavourDraft
import org.quartier.core.FavourStatus
import org.quartier.core.FavoursObserver
import org.quartier.core.Identity
import org.quartier.core.InboxEntry
import org.quartier.core.Invitation
import org.quartier.core.Item
import org.quartier.core.ItemDraft
import org.quartier.core.Loan
import org.quartier.core.LoanStatus
import org.quartier.core.Neighbourhood
import org.quartier.core.Quartier
import org.quartier.core.QuartierException
import org.quartier.core.SearchHit
import org.quartier.core.SecretStore
import org.quartier.core.SyncEngine
import org.quartier.core.TimeWindow

/**
 * Quartier on this device: its database, the neighbourhoods it holds, and what the person does in them.
 *
 * Every change is saved at once, even offline, and reaches the others when a [SyncEngine] runs. The
 * functions are `suspend` and run on [io] (the database waits for the disk), so they may be called from
 * the main thread. Failures are [QuartierException]s: [QuartierException.Refused] when the
 * neighbourhood's rules refuse (its `code` is stable, its `reason` a sentence to show), and the others
 * for bad arguments, storage and network trouble.
 *
 * Lists have a live twin, `observeX`, a cold [Flow] that emits the list now and again after every change
 * that may alter it (a local write or one pulled by sync), never the same list twice in a row, and keeps
 * only the newest for a slow collector. Collecting starts the observation in the core; cancelling the
 * collection stops it (see `diagnostics().liveObservations`).
 *
 * Open one per database file and keep it for the life of the app; [close] releases it.
 */
class QuartierStore private constructor(
    /** The generated binding, for what this class does not wrap. */
    val core: Quartier,
    private val io: CoroutineDispatcher,
) : AutoCloseable {
    companion object {
        /** Opens (or creates) the database at [path]; its folder must exist. */
        suspend fun open(path: String, io: CoroutineDispatcher = Dispatchers.IO): QuartierStore =
            withContext(io) { QuartierStore(Quartier.open(path), io) }
    }

    /** Who this device is, and whom it acts for. */
    val identity: Identity by lazy { core.identity() }

    /** The neighbourhoods this device holds, by name. */
    suspend fun neighbourhoods(): List<Neighbourhood> = withContext(io) { core.neighbourhoods() }

    /** Starts a neighbourhood with this person as its moderator; returns its id. */
    suspend fun createNeighbourhood(name: String, displayName: String, description: String = ""): String =
        withContext(io) { core.createNeighbourhood(name, description, displayName) }

    /** Asks the neighbours for a favour; returns its id. */
    suspend fun askFavour(
        neighbourhoodId: String,
        title: String,
        category: String,
        details: String = "",
        window: TimeWindow? = null,
    ): String = withContext(io) { core.askFavour(neighbourhoodId, FavourDraft(title, category, details, window)) }

    /** Offers the neighbours a favour; returns its id. */
    suspend fun offerFavour(
        neighbourhoodId: String,
        title: String,
        category: String,
        details: String = "",
        window: TimeWindow? = null,
    ): String = withContext(io) { core.offerFavour(neighbourhoodId, FavourDraft(title, category, details, window)) }

    /** One page of favours, newest first. */
    suspend fun favours(
        neighbourhoodId: String,
        status: FavourStatus? = null,
        limit: Int = 50,
        offset: Int = 0,
    ): List<Favour> = withContext(io) { core.favours(neighbourhoodId, status, limit.toUInt(), offset.toUInt()) }

    /**
     * The newest favours of a neighbourhood, now and after every change, for a live list. Collecting
     * starts the observation and cancelling the collection stops it. A slow collector gets the latest
     * list, not every one. A failure of a later refresh goes to [onError] and the observation goes on.
     */
    fun observeFavours(
        neighbourhoodId: String,
        onError: (QuartierException) -> Unit = {},
    ): Flow<List<Favour>> = callbackFlow {
        val observer = object : FavoursObserver {
            // Called on the thread that saved the change: only hand the list over.
            override fun onFavours(favours: List<Favour>) {
                trySend(favours)
            }

            override fun onError(error: QuartierException) = onError(error)
        }
        val subscription = core.observeFavours(neighbourhoodId, observer)
        awaitClose {
            subscription.cancel()
            subscription.close()
        }
    }.buffer(Channel.CONFLATED).flowOn(io)

    /** Puts an item up for lending; returns its id. */
    suspend fun addItem(
        neighbourhoodId: String,
        title: String,
        category: String,
        condition: Condition,
        description: String = "",
        depositNote: String = "",
    ): String = withContext(io) {
        core.addItem(neighbourhoodId, ItemDraft(title, category, condition, description, depositNote))
    }

    suspend fun items(neighbourhoodId: String, limit: Int = 50, offset: Int = 0): List<Item> =
        withContext(io) { core.items(neighbourhoodId, limit.toUInt(), offset.toUInt()) }

    /** Asks to borrow an item from [firstDay] to [lastDay], both included; returns the loan's id. */
    suspend fun requestLoan(
        neighbourhoodId: String,
        itemId: String,
        firstDay: LocalDate,
        lastDay: LocalDate,
        note: String = "",
    ): String = withContext(io) {
        core.requestLoan(neighbourhoodId, itemId, firstDay.toString(), lastDay.toString(), note)
    }

    suspend fun loans(
        neighbourhoodId: String,
        itemId: String? = null,
        status: LoanStatus? = null,
        limit: Int = 50,
        offset: Int = 0,
    ): List<Loan> = withContext(io) {
        core.loans(neighbourhoodId, itemId, status, limit.toUInt(), offset.toUInt())
    }

    /** Invites newcomers; show [Invitation.code] to the person, it is not kept. */
    suspend fun invite(neighbourhoodId: String, maxUses: Int = 1, validForDays: Int = 7): Invitation =
        withContext(io) { core.invite(neighbourhoodId, maxUses.toUInt(), validForDays.toUInt()) }

    /** Open favours, items and products matching [text], best first, or the latest to reach this device first with [newestFirst]. */
    suspend fun search(neighbourhoodId: String, text: String, limit: Int = 20, newestFirst: Boolean = false): List<SearchHit> =
        withContext(io) { core.search(neighbourhoodId, text, limit.toUInt(), newestFirst) }

    /** What concerns the person now, newest first, with "today" taken in [zone]. */
    suspend fun inbox(neighbourhoodId: String, zone: ZoneId = ZoneId.systemDefault()): List<InboxEntry> =
        withContext(io) {
            val offsetMinutes = ZonedDateTime.now(zone).offset.totalSeconds / 60
            core.inbox(neighbourhoodId, offsetMinutes)
        }

    /** How many changes wait to be sent to the server. */
    suspend fun outboxCount(): Long = withContext(io) { core.outboxCount().toLong() }

    // ----- favours -------------------------------------------------------------------------------

    /** "I'll do it" to an ask, or "yes please" to an offer. */
    suspend fun promiseFavour(neighbourhoodId: String, favourId: String) = on { promiseFavour(neighbourhoodId, favourId) }

    /** The neighbour who promised steps back; the favour is open again. */
    suspend fun withdrawFromFavour(neighbourhoodId: String, favourId: String) =
        on { withdrawFromFavour(neighbourhoodId, favourId) }

    /** Either party marks a promised favour as done. */
    suspend fun completeFavour(neighbourhoodId: String, favourId: String) = on { completeFavour(neighbourhoodId, favourId) }

    /** The one who was helped thanks the one who helped. */
    suspend fun thankFavour(neighbourhoodId: String, favourId: String, note: String = "") =
        on { thankFavour(neighbourhoodId, favourId, note) }

    /** The author cancels an open or promised favour. */
    suspend fun cancelFavour(neighbourhoodId: String, favourId: String) = on { cancelFavour(neighbourhoodId, favourId) }

    // ----- items and loans -----------------------------------------------------------------------

    suspend fun withdrawItem(neighbourhoodId: String, itemId: String) = on { withdrawItem(neighbourhoodId, itemId) }

    suspend fun relistItem(neighbourhoodId: String, itemId: String) = on { relistItem(neighbourhoodId, itemId) }

    /** The owner approves a requested loan; requests overlapping it are declined. */
    suspend fun approveLoan(neighbourhoodId: String, loanId: String) = on { approveLoan(neighbourhoodId, loanId) }

    suspend fun declineLoan(neighbourhoodId: String, loanId: String, reason: String = "") =
        on { declineLoan(neighbourhoodId, loanId, reason) }

    /** The borrower cancels a loan not yet handed over. */
    suspend fun cancelLoan(neighbourhoodId: String, loanId: String) = on { cancelLoan(neighbourhoodId, loanId) }

    suspend fun handOverLoan(neighbourhoodId: String, loanId: String) = on { handOverLoan(neighbourhoodId, loanId) }

    suspend fun returnLoan(neighbourhoodId: String, loanId: String) = on { returnLoan(neighbourhoodId, loanId) }

    /** The periods an item is promised or lent for: a request must avoid them. */
    suspend fun loanCalendar(neighbourhoodId: String, itemId: String): List<BookedPeriod> =
        on { loanCalendar(neighbourhoodId, itemId) }

    // ----- the neighbourhood itself --------------------------------------------------------------

    /** A moderator renames or redescribes the neighbourhood (both are replaced). */
    suspend fun editNeighbourhood(neighbourhoodId: String, name: String, description: String) =
        on { editNeighbourhood(neighbourhoodId, name, description) }

    /**
     * The person leaves the neighbourhood: what they wrote there is removed for everyone. The
     * neighbourhood leaves [neighbourhoods] (and [observeNeighbourhoods]) at the next sync, once the
     * server has taken the leave.
     */
    suspend fun leaveNeighbourhood(neighbourhoodId: String) = on { leaveNeighbourhood(neighbourhoodId) }

    // ----- members and invitations ---------------------------------------------------------------

    suspend fun members(neighbourhoodId: String, limit: Int = 50, offset: Int = 0): List<Member> =
        on { members(neighbourhoodId, limit.toUInt(), offset.toUInt()) }

    /** A moderator makes a member a trader, a moderator, or a member again. */
    suspend fun setRole(neighbourhoodId: String, memberId: String, role: Role) = on { setRole(neighbourhoodId, memberId, role) }

    suspend fun revokeInvitation(neighbourhoodId: String, invitationId: String) =
        on { revokeInvitation(neighbourhoodId, invitationId) }

    // ----- the market ----------------------------------------------------------------------------

    /** A trader (or a moderator) opens a stall; returns its id. */
    suspend fun openStall(neighbourhoodId: String, stall: StallDraft): String = on { openStall(neighbourhoodId, stall) }

    suspend fun editStall(neighbourhoodId: String, stallId: String, stall: StallDraft) =
        on { editStall(neighbourhoodId, stallId, stall) }

    suspend fun stalls(neighbourhoodId: String, limit: Int = 50, offset: Int = 0): List<Stall> =
        on { stalls(neighbourhoodId, limit.toUInt(), offset.toUInt()) }

    /** Adds a product to a stall; returns its id. */
    suspend fun addProduct(neighbourhoodId: String, stallId: String, product: ProductDraft): String =
        on { addProduct(neighbourhoodId, stallId, product) }

    suspend fun products(neighbourhoodId: String, stallId: String, includeRemoved: Boolean = false): List<Product> =
        on { products(neighbourhoodId, stallId, includeRemoved) }

    suspend fun editProduct(neighbourhoodId: String, productId: String, name: String, unit: String) =
        on { editProduct(neighbourhoodId, productId, name, unit) }

    suspend fun setPrice(neighbourhoodId: String, productId: String, priceCents: Long) =
        on { setPrice(neighbourhoodId, productId, priceCents) }

    suspend fun setAvailableToday(neighbourhoodId: String, productId: String, available: Boolean) =
        on { setAvailableToday(neighbourhoodId, productId, available) }

    /** Sold (negative) or restocked (positive); moves from several devices add up. */
    suspend fun adjustStock(neighbourhoodId: String, productId: String, delta: Long) =
        on { adjustStock(neighbourhoodId, productId, delta) }

    /** The trader counted the stock: it is set to [count]. */
    suspend fun stocktake(neighbourhoodId: String, productId: String, count: Long) =
        on { stocktake(neighbourhoodId, productId, count) }

    suspend fun removeProduct(neighbourhoodId: String, productId: String) = on { removeProduct(neighbourhoodId, productId) }

    // ----- pre-orders ----------------------------------------------------------------------------

    /** Pre-orders products of one stall, for [pickupDay] or whenever; returns the order's id. */
    suspend fun placeOrder(
        neighbourhoodId: String,
        stallId: String,
        lines: List<OrderLineDraft>,
        pickupDay: LocalDate? = null,
        note: String = "",
    ): String = on { placeOrder(neighbourhoodId, stallId, lines, pickupDay?.toString(), note) }

    suspend fun confirmOrder(neighbourhoodId: String, orderId: String) = on { confirmOrder(neighbourhoodId, orderId) }

    suspend fun declineOrder(neighbourhoodId: String, orderId: String, reason: String = "") =
        on { declineOrder(neighbourhoodId, orderId, reason) }

    suspend fun orderReady(neighbourhoodId: String, orderId: String) = on { orderReady(neighbourhoodId, orderId) }

    suspend fun collectOrder(neighbourhoodId: String, orderId: String) = on { collectOrder(neighbourhoodId, orderId) }

    suspend fun cancelOrder(neighbourhoodId: String, orderId: String) = on { cancelOrder(neighbourhoodId, orderId) }

    /** Pre-orders, newest first: of one stall, with one status, or only the person's own ([mine]). */
    suspend fun orders(
        neighbourhoodId: String,
        stallId: String? = null,
        status: OrderStatus? = null,
        mine: Boolean = false,
        limit: Int = 50,
        offset: Int = 0,
    ): List<Order> = on { orders(neighbourhoodId, stallId, status, mine, limit.toUInt(), offset.toUInt()) }

    /** What a stall still has to hand over, by pickup day. */
    suspend fun pendingOrders(neighbourhoodId: String, stallId: String): List<Order> =
        on { pendingOrders(neighbourhoodId, stallId) }

    // ----- messages and the inbox ----------------------------------------------------------------

    /** Writes in the thread of a favour, a loan or an order; returns the message's id. */
    suspend fun sendMessage(neighbourhoodId: String, kind: ThreadKind, subjectId: String, body: String): String =
        on { sendMessage(neighbourhoodId, kind, subjectId, body) }

    suspend fun thread(neighbourhoodId: String, kind: ThreadKind, subjectId: String, limit: Int = 100): List<Message> =
        on { thread(neighbourhoodId, kind, subjectId, limit.toUInt(), 0u) }

    /** The changes of this device that the server refused, with why, until dismissed. */
    suspend fun rejections(neighbourhoodId: String): List<Rejection> = on { rejections(neighbourhoodId) }

    suspend fun dismissRejection(seq: ULong) = on { dismissRejection(seq) }

    /** The inbox entries to notify now, each once, none in quiet hours, within the daily budget. */
    suspend fun notificationsDue(neighbourhoodId: String, settings: NotifySettings): List<InboxEntry> =
        on { notificationsDue(neighbourhoodId, settings) }

    // ----- live lists --------------------------------------------------------------------------------

    /**
     * Emits once now, then after every change to one of [topics] (in any neighbourhood of the device);
     * signals that come while the collector is busy are merged into one. The base of the `observeX`
     * flows: use it with [Flow.map] for a query of your own.
     */
    fun changes(vararg topics: Topic): Flow<Unit> = callbackFlow {
        val observer = object : ChangeObserver {
            // Called on the thread that saved the change: only hand the signal over.
            override fun onChange() {
                trySend(Unit)
            }
        }
        val subscription = core.observeChanges(topics.toList(), observer)
        send(Unit)
        awaitClose {
            subscription.cancel()
            subscription.close()
        }
    }.buffer(Channel.CONFLATED)

    /** [query] now and after every change to [topics], on [io], never the same answer twice in a row. */
    fun <T> observe(vararg topics: Topic, query: Quartier.() -> T): Flow<T> =
        changes(*topics).map { core.query() }.distinctUntilChanged().flowOn(io).buffer(Channel.CONFLATED)

    /**
     * The neighbourhoods this device holds, live: one created, joined (when sync brings it), edited
     * (here or by a moderator elsewhere), or left (gone at the sync that follows the leave).
     */
    fun observeNeighbourhoods(): Flow<List<Neighbourhood>> = observe(Topic.NEIGHBOURHOODS) { neighbourhoods() }

    fun observeItems(neighbourhoodId: String, limit: Int = 50): Flow<List<Item>> =
        observe(Topic.ITEMS, Topic.LOANS, Topic.MEMBERS) { items(neighbourhoodId, limit.toUInt(), 0u) }

    fun observeLoans(neighbourhoodId: String, itemId: String? = null, status: LoanStatus? = null): Flow<List<Loan>> =
        observe(Topic.LOANS, Topic.ITEMS, Topic.MEMBERS) { loans(neighbourhoodId, itemId, status, 50u, 0u) }

    fun observeLoanCalendar(neighbourhoodId: String, itemId: String): Flow<List<BookedPeriod>> =
        observe(Topic.LOANS) { loanCalendar(neighbourhoodId, itemId) }

    fun observeMembers(neighbourhoodId: String): Flow<List<Member>> =
        observe(Topic.MEMBERS, Topic.FAVOURS) { members(neighbourhoodId, 200u, 0u) }

    fun observeStalls(neighbourhoodId: String): Flow<List<Stall>> =
        observe(Topic.STALLS, Topic.MEMBERS) { stalls(neighbourhoodId, 200u, 0u) }

    fun observeProducts(neighbourhoodId: String, stallId: String): Flow<List<Product>> =
        observe(Topic.PRODUCTS) { products(neighbourhoodId, stallId, false) }

    fun observeOrders(
        neighbourhoodId: String,
        stallId: String? = null,
        status: OrderStatus? = null,
        mine: Boolean = false,
    ): Flow<List<Order>> = observe(Topic.ORDERS, Topic.PRODUCTS, Topic.STALLS, Topic.MEMBERS) {
        orders(neighbourhoodId, stallId, status, mine, 50u, 0u)
    }

    /** What a stall still has to hand over, by pickup day, live. */
    fun observePendingOrders(neighbourhoodId: String, stallId: String): Flow<List<Order>> =
        observe(Topic.ORDERS, Topic.PRODUCTS, Topic.STALLS, Topic.MEMBERS) { pendingOrders(neighbourhoodId, stallId) }

    fun observeThread(neighbourhoodId: String, kind: ThreadKind, subjectId: String): Flow<List<Message>> =
        observe(Topic.MESSAGES, Topic.MEMBERS) { thread(neighbourhoodId, kind, subjectId, 200u, 0u) }

    /** The inbox, live; "today" is taken in [zone]. */
    fun observeInbox(neighbourhoodId: String, zone: ZoneId = ZoneId.systemDefault()): Flow<List<InboxEntry>> =
        observe(Topic.INBOX) { inbox(neighbourhoodId, ZonedDateTime.now(zone).offset.totalSeconds / 60) }

    fun observeRejections(neighbourhoodId: String): Flow<List<Rejection>> =
        observe(Topic.INBOX) { rejections(neighbourhoodId) }

    fun observeSearch(neighbourhoodId: String, text: String, limit: Int = 20, newestFirst: Boolean = false): Flow<List<SearchHit>> =
        observe(Topic.FAVOURS, Topic.ITEMS, Topic.PRODUCTS) { search(neighbourhoodId, text, limit.toUInt(), newestFirst) }

    /**
     * A sync engine for this store and the server at [serverUrl], keeping its token in [secrets] (the
     * Keystore on Android). Its functions are already `suspend`; they run on the core's own threads.
     */
    fun syncEngine(serverUrl: String, secrets: SecretStore): SyncEngine = SyncEngine(core, serverUrl, secrets)

    /** A [QuartierSync] for this store and the server at [serverUrl], with its status as a Flow. */
    fun sync(serverUrl: String, secrets: SecretStore): QuartierSync = QuartierSync(syncEngine(serverUrl, secrets))

    override fun close() = core.close()

    private suspend fun <T> on(call: Quartier.() -> T): T = withContext(io) { core.call() }
}
