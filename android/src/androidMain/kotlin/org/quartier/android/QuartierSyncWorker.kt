package org.quartier.android

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.time.Duration
import org.quartier.core.QuartierException
import org.quartier.core.SyncEngine

/** Implemented by the app's `Application`: gives the worker the app's sync engine. */
interface QuartierSyncHost {
    /** The sync engine, or null while the device is not set up (no server chosen yet). */
    fun quartierSyncEngine(): SyncEngine?
}

/**
 * Syncs in the background with WorkManager: every 15 minutes or so when a network is there, and soon
 * after a change saved while the app was closing ([syncSoon]). A round is bounded by [BUDGET_MS]; when
 * WorkManager stops the worker, the coroutine is cancelled and the round stops at its next step,
 * keeping what it did.
 */
class QuartierSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val host = applicationContext as? QuartierSyncHost ?: return Result.failure()
        val engine = host.quartierSyncEngine() ?: return Result.success()
        return try {
            val report = engine.syncOnce(BUDGET_MS)
            if (report.complete) Result.success() else Result.retry()
        } catch (e: QuartierException.Network) {
            Result.retry()
        } catch (e: QuartierException) {
            // Not registered, refused, storage trouble: retrying on a timer will not help; the app
            // shows `engine.status().lastError` and acts.
            Result.failure()
        }
    }

    companion object {
        const val PERIODIC = "org.quartier.sync"
        const val SOON = "org.quartier.sync.soon"
        /** Well inside WorkManager's ten minutes, so that a round ends on its own terms. */
        val BUDGET_MS: ULong = 120_000uL

        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Keeps a periodic sync scheduled (call at every start: an existing schedule is kept). */
        fun schedule(context: Context, every: Duration = Duration.ofMinutes(15)) {
            val request = PeriodicWorkRequestBuilder<QuartierSyncWorker>(every)
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, Duration.ofSeconds(30))
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /**
         * Syncs as soon as a network is there, even if the app is leaving the screen. (Not expedited:
         * before Android 12 that would need a foreground notification.)
         */
        fun syncSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<QuartierSyncWorker>()
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, Duration.ofSeconds(30))
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
