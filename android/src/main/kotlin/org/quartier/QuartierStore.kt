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
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.withContext
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

    /** Open favours, items and products matching [text], best first. */
    suspend fun search(neighbourhoodId: String, text: String, limit: Int = 20): List<SearchHit> =
        withContext(io) { core.search(neighbourhoodId, text, limit.toUInt()) }

    /** What concerns the person now, newest first, with "today" taken in [zone]. */
    suspend fun inbox(neighbourhoodId: String, zone: ZoneId = ZoneId.systemDefault()): List<InboxEntry> =
        withContext(io) {
            val offsetMinutes = ZonedDateTime.now(zone).offset.totalSeconds / 60
            core.inbox(neighbourhoodId, offsetMinutes)
        }

    /** How many changes wait to be sent to the server. */
    suspend fun outboxCount(): Long = withContext(io) { core.outboxCount().toLong() }

    /**
     * A sync engine for this store and the server at [serverUrl], keeping its token in [secrets] (the
     * Keystore on Android). Its functions are already `suspend`; they run on the core's own threads.
     */
    fun syncEngine(serverUrl: String, secrets: SecretStore): SyncEngine = SyncEngine(core, serverUrl, secrets)

    override fun close() = core.close()
}
