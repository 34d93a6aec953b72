package org.quartier

import java.io.File
import java.io.FileOutputStream
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.quartier.core.QuartierException
import org.quartier.core.StorageProblem

/**
 * Disk and I/O errors through the Kotlin shell: a full disk, read-only storage and a database locked by
 * another program each reach Kotlin as [QuartierException.Storage] with a sentence saying what to do;
 * nothing is reported saved that was not; the same call works once the fault clears.
 *
 * The storage is a real small filesystem (a tmpfs mounted with `mount`, which needs root): where it cannot
 * be mounted those tests are skipped, saying why. The lock is held by another process, `hold-lock`, built
 * by cargo beside the library (`cargo build -p quartier-e2e --bin hold-lock`; scripts/test-shells.sh does).
 */
class StorageFaultsTest {
    private lateinit var dir: Path
    private var mounted = false

    @BeforeEach
    fun makeDir() {
        dir = Files.createTempDirectory("quartier-faults")
    }

    @AfterEach
    fun cleanUp() {
        if (mounted) run("umount", dir.toString()) || run("umount", "-l", dir.toString())
        dir.deleteTestFolder()
    }

    private fun run(vararg command: String): Boolean {
        val process = ProcessBuilder(*command).redirectErrorStream(true).start()
        val output = process.inputStream.bufferedReader().readText()
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly()
        if (process.exitValue() != 0) System.err.println("${command.joinToString(" ")}: $output")
        return process.exitValue() == 0
    }

    /** Mounts a tmpfs of [sizeKib] KiB on [dir], or skips the test where this machine does not allow it. */
    private fun mountSmallDisk(sizeKib: Int) {
        mounted = run("mount", "-t", "tmpfs", "-o", "size=${sizeKib}k,mode=0700", "tmpfs", dir.toString())
        assumeTrue(mounted, "cannot mount a small filesystem here (needs root): skipped")
    }

    private fun database() = dir.resolve("quartier.db").toString()

    private suspend fun ask(store: QuartierStore, nid: String, n: Int): String =
        store.askFavour(nid, "Favour $n", category = "garden", details = "Water the tomatoes, twice. ".repeat(60))

    private suspend fun titles(store: QuartierStore, nid: String) =
        store.favours(nid, limit = 200).map { it.title }.sorted()

    @Test
    fun `a full disk is a storage error, saves nothing, and writing resumes once space is freed`() = runBlocking {
        mountSmallDisk(4096)
        val store = QuartierStore.open(database())
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        // Fill the filesystem to the last byte.
        val filler = File(dir.toFile(), "filler")
        FileOutputStream(filler).use { out ->
            for (chunk in listOf(65536, 4096, 512, 1)) {
                val block = ByteArray(chunk)
                try {
                    while (true) out.write(block)
                } catch (full: IOException) {
                    // this size no longer fits
                }
            }
        }
        var saved = 0
        val full = assertThrows<QuartierException.Storage> {
            runBlocking {
                while (saved < 150) {
                    ask(store, nid, saved)
                    saved++
                }
            }
        }
        assertEquals(StorageProblem.FULL, full.problem, full.reason)
        assertTrue(full.reason.contains("full") && full.reason.contains("free some space"), full.reason)
        assertEquals(saved, titles(store, nid).size, "exactly the favours reported saved")

        assertTrue(filler.delete())
        ask(store, nid, saved)
        assertEquals((0..saved).map { "Favour $it" }.sorted(), titles(store, nid))
        assertEquals(saved + 2L, store.outboxCount())
        store.close()
    }

    @Test
    fun `read-only storage is a storage error naming the file, and opening works once writable`() = runBlocking {
        mountSmallDisk(8192)
        QuartierStore.open(database()).use { store ->
            val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
            ask(store, nid, 0)
        }
        assertTrue(run("mount", "-o", "remount,ro", dir.toString()))
        val readOnly = assertThrows<QuartierException.Storage> { runBlocking { QuartierStore.open(database()) } }
        assertEquals(StorageProblem.READ_ONLY, readOnly.problem, readOnly.reason)
        assertTrue(readOnly.reason.contains("cannot be written") && readOnly.reason.contains(database()), readOnly.reason)

        assertTrue(run("mount", "-o", "remount,rw", dir.toString()))
        QuartierStore.open(database()).use { store ->
            val nid = store.neighbourhoods().single().id
            ask(store, nid, 1)
            assertEquals(listOf("Favour 0", "Favour 1"), titles(store, nid))
        }
    }

    @Test
    fun `a database locked by another program is a storage error, and writing resumes once released`() = runBlocking {
        val store = QuartierStore.open(database())
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        ask(store, nid, 0)

        val libraryDir = System.getProperty("jna.library.path") ?: error("jna.library.path is not set")
        val holdLock = File(libraryDir, "hold-lock")
        assertTrue(holdLock.canExecute(), "$holdLock is missing: cargo build -p quartier-e2e --bin hold-lock")
        val holder = ProcessBuilder(holdLock.path, database()).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        try {
            assertEquals("locked", holder.inputStream.bufferedReader().readLine())
            val locked = assertThrows<QuartierException.Storage> { runBlocking { ask(store, nid, 1) } }
            assertEquals(StorageProblem.LOCKED, locked.problem, locked.reason)
            assertTrue(locked.reason.contains("locked by another program"), locked.reason)
            assertEquals(listOf("Favour 0"), titles(store, nid), "nothing was saved, and reads go on")
        } finally {
            holder.outputStream.close() // releases the lock
            holder.waitFor(30, TimeUnit.SECONDS)
        }
        ask(store, nid, 1)
        assertEquals(listOf("Favour 0", "Favour 1"), titles(store, nid))
        store.close()
    }
}
