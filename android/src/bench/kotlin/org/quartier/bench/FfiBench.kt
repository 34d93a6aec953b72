package org.quartier.bench

import java.nio.file.Files
import java.nio.file.Path
import java.util.Locale
import kotlin.io.path.ExperimentalPathApi
import kotlin.io.path.deleteRecursively
import kotlinx.coroutines.runBlocking
import org.quartier.QuartierStore

/**
 * "Across the FFI" (issue 5), from Kotlin: what a call into the Rust library costs on the JVM, through
 * the generated bindings (JNA) and through [QuartierStore]. `bench/ffi.sh` runs it next to the same
 * program in Swift and the same calls in Rust (the baseline), and writes the report; `FfiBenchSmokeTest`
 * runs it at a tiny size so that it never rots. No figure is ever asserted.
 *
 * It opens a store in a temporary folder, fills one neighbourhood with favours through the API, then
 * times each call: a warm-up (for the JIT), then samples, each the mean time per call of a batch of
 * calls. It prints one JSON line per call (`median_ns` and `p90_ns` are per call):
 *
 *     {"lang":"kotlin","call":"identity","batch":100,"samples":2000,"records":0,"median_ns":…,"p90_ns":…}
 *
 * Usage: `FfiBenchKt [--smoke]` (the classpath of the test sources, `-Djna.library.path=<dir of the .so>`).
 */
object FfiBench {
    /** How one call is timed. */
    data class Plan(val warmup: Int, val samples: Int, val batch: Int)

    /** The sizes of a run: the favours in the store, and the plan of each call. */
    data class Sizes(val favours: Int, val small: Plan, val page: Plan, val shell: Plan)

    /** The sizes of the report (the same in Swift and in the Rust baseline). */
    val FULL = Sizes(
        favours = 200,
        small = Plan(warmup = 20_000, samples = 2_000, batch = 100),
        page = Plan(warmup = 2_000, samples = 2_000, batch = 1),
        shell = Plan(warmup = 1_000, samples = 1_000, batch = 1),
    )

    /** Every call, a few times: for the smoke test. */
    val SMOKE = Sizes(
        favours = 60,
        small = Plan(warmup = 10, samples = 5, batch = 10),
        page = Plan(warmup = 2, samples = 5, batch = 1),
        shell = Plan(warmup = 2, samples = 5, batch = 1),
    )

    /** The records in a page of favours. */
    const val PAGE = 50

    // Where each result goes, so that no call can be optimised away.
    @Volatile
    private var sink: Any? = null

    /** Runs the benchmark in a temporary folder and hands each JSON line to [emit]. */
    @OptIn(ExperimentalPathApi::class)
    fun run(sizes: Sizes, emit: (String) -> Unit) {
        val dir = Files.createTempDirectory("quartier-ffi-bench")
        try {
            run(sizes, dir, emit)
        } finally {
            dir.deleteRecursively()
        }
    }

    private fun run(sizes: Sizes, dir: Path, emit: (String) -> Unit) = runBlocking {
        QuartierStore.open(dir.resolve("bench.db").toString()).use { store ->
            val nid = store.createNeighbourhood("Bench", displayName = "Bench")
            for (i in 0 until sizes.favours) {
                // The same favours as the Swift program and the Rust baseline.
                val title = "Water the plants, favour $i"
                val details = "Twice a day, on the balcony; the key is with the concierge ($i)."
                if (i % 2 == 0) {
                    store.askFavour(nid, title, category = "garden", details = details)
                } else {
                    store.offerFavour(nid, title, category = "garden", details = details)
                }
            }
            val core = store.core
            val runtime = "${System.getProperty("java.vm.name")} ${System.getProperty("java.runtime.version")}"
            // (a) A small call: the device's identity, two short strings read from memory.
            emit(time("identity", 0, sizes.small, runtime) { core.identity() })
            // (b) A page of favours: 50 records cross the boundary.
            emit(time("favours_page", PAGE, sizes.page, runtime) { core.favours(nid, null, PAGE.toUInt(), 0u) })
            // (b) as an app calls it: the suspend function, which runs the core on Dispatchers.IO.
            emit(time("favours_page_shell", PAGE, sizes.shell, runtime) { runBlocking { store.favours(nid, limit = PAGE) } })
        }
    }

    /** Times [call] by [plan] and returns its JSON line; [records] is how many records one call returns. */
    private fun time(name: String, records: Int, plan: Plan, runtime: String, call: () -> Any): String {
        val first = call()
        check(records == 0 || (first as List<*>).size == records) { "$name returned ${(first as List<*>).size} records, not $records" }
        repeat(plan.warmup) { sink = call() }
        val perCall = DoubleArray(plan.samples)
        for (s in 0 until plan.samples) {
            val start = System.nanoTime()
            for (i in 0 until plan.batch) {
                sink = call()
            }
            perCall[s] = (System.nanoTime() - start).toDouble() / plan.batch
        }
        perCall.sort()
        return "{\"lang\":\"kotlin\",\"call\":\"$name\",\"batch\":${plan.batch},\"samples\":${plan.samples}," +
            "\"records\":$records,\"median_ns\":${decimal(percentile(perCall, 50.0))}," +
            "\"p90_ns\":${decimal(percentile(perCall, 90.0))},\"runtime\":\"${runtime.replace("\"", "'")}\"}"
    }

    private fun decimal(ns: Double) = String.format(Locale.ROOT, "%.1f", ns)

    /** The [p]-th percentile of sorted values, nearest rank (as the Rust benchmarks). */
    private fun percentile(sorted: DoubleArray, p: Double): Double {
        val rank = Math.ceil(p / 100.0 * sorted.size).toInt()
        return sorted[rank.coerceIn(1, sorted.size) - 1]
    }
}

fun main(args: Array<String>) {
    val sizes = when {
        args.isEmpty() -> FfiBench.FULL
        args.toList() == listOf("--smoke") -> FfiBench.SMOKE
        else -> {
            System.err.println("usage: FfiBenchKt [--smoke]")
            kotlin.system.exitProcess(2)
        }
    }
    FfiBench.run(sizes) { println(it) }
}
