package org.quartier

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import org.quartier.core.JoinedNeighbourhood
import org.quartier.core.SyncEngine
import org.quartier.core.SyncReport
import org.quartier.core.SyncStatus
import org.quartier.core.SyncStatusObserver

/**
 * Syncs a [QuartierStore] with its server. The functions are `suspend` and run on the core's own
 * threads; cancelling the coroutine stops the work in the core at its next wait (a network call) and
 * loses nothing: every step is saved as it goes, and the next round resumes.
 */
class QuartierSync(
    /** The generated binding, for what this class does not wrap. */
    val engine: SyncEngine,
) : AutoCloseable {
    fun isRegistered(): Boolean = engine.isRegistered()

    /** Registers the device with the server, once; later calls do nothing. */
    suspend fun register() = engine.register()

    /** Joins a neighbourhood with an invitation code from a member, then fetches it. */
    suspend fun join(code: String, displayName: String): JoinedNeighbourhood = engine.join(code, displayName)

    /** One round within [budgetMs]: fits the short background windows of Android (WorkManager). */
    suspend fun syncOnce(budgetMs: Long = 20_000): SyncReport = engine.syncOnce(budgetMs.toULong())

    val status: SyncStatus get() = engine.status()

    /**
     * The sync status now and at every change: pending changes (a local write adds one), the last
     * success, the last error, whether a round is running. Keeps only the newest for a slow collector.
     */
    fun observeStatus(): Flow<SyncStatus> = callbackFlow {
        val observer = object : SyncStatusObserver {
            override fun onStatus(status: SyncStatus) {
                trySend(status)
            }
        }
        val subscription = engine.observeStatus(observer)
        awaitClose {
            subscription.cancel()
            subscription.close()
        }
    }.buffer(Channel.CONFLATED)

    override fun close() = engine.close()
}
