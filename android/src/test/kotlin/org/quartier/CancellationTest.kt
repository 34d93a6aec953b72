package org.quartier

import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.collect
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.quartier.core.Favour
import org.quartier.core.diagnostics
import org.quartier.core.fileSecretStore

/**
 * Cancelling a coroutine that waits on the core stops the work there and leaks nothing (the core's own
 * count of live observations and running calls goes back down), and many threads at once are safe.
 */
class CancellationTest {
    private lateinit var dir: Path
    private lateinit var store: QuartierStore

    @BeforeEach
    fun open() = runBlocking {
        dir = Files.createTempDirectory("quartier-cancel")
        store = QuartierStore.open(dir.resolve("quartier.db").toString())
    }

    @AfterEach
    fun close() {
        store.close()
        dir.deleteTestFolder()
    }

    /** Waits (bounded) until [condition] holds: the core lets go on its own threads, a moment later. */
    private suspend fun eventually(what: String, condition: () -> Boolean) {
        withTimeout(20_000) {
            while (!condition()) delay(10)
        }
        assertTrue(condition(), what)
    }

    @Test
    fun `cancelling a sync stuck on a silent server stops it in the core`() = runBlocking {
        // A server that accepts connections and never answers: the request would wait for its timeout.
        ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress()).use { silent ->
            val held = Collections.synchronizedList(mutableListOf<Socket>())
            val acceptor = Thread {
                runCatching { while (true) held.add(silent.accept()) }
            }.apply { isDaemon = true; start() }
            val sync = store.sync("http://127.0.0.1:${silent.localPort}", fileSecretStore(dir.resolve("s.json").toString()))
            val before = diagnostics().runningCalls
            val registering = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) { sync.register() }
            eventually("the call runs in the core") { diagnostics().runningCalls == before + 1uL }
            eventually("the request reached the server") { held.isNotEmpty() }
            registering.cancelAndJoin()
            eventually("the cancelled call ended in the core") { diagnostics().runningCalls == before }
            assertTrue(registering.isCancelled)
            assertEquals(false, sync.isRegistered())
            sync.close()
            silent.close()
            acceptor.join(5_000)
            held.forEach { it.close() }
        }
    }

    @Test
    fun `cancelling a collector unregisters its observer`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val before = diagnostics().liveObservations
        val collectors = (1..3).map {
            launch(Dispatchers.Default) { store.observeFavours(nid).collect() }
        } + launch(Dispatchers.Default) { store.observeItems(nid).collect() } +
            launch(Dispatchers.Default) { store.sync("http://127.0.0.1:9", fileSecretStore(dir.resolve("s.json").toString())).observeStatus().collect() }
        eventually("five observations run") { diagnostics().liveObservations == before + 5uL }
        collectors.forEach { it.cancelAndJoin() }
        eventually("every observation was released") { diagnostics().liveObservations == before }
        // A flow that ends by itself (first) releases its observation too.
        store.askFavour(nid, "Feed the cat", category = "pets")
        store.observeFavours(nid).first { it.isNotEmpty() }
        eventually("the finished flow released its observation") { diagnostics().liveObservations == before }
    }

    @Test
    fun `many threads writing and reading at once are safe`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val writers = 8
        val each = 25
        val seen = Collections.synchronizedList(mutableListOf<List<Favour>>())
        val watching = launch(Dispatchers.Default) { store.observeFavours(nid).collect { seen.add(it) } }
        val jobs = (1..writers).map { w ->
            async(Dispatchers.IO) {
                repeat(each) { i ->
                    store.askFavour(nid, "Favour $w-$i", category = "errands")
                    // A reader between the writes, on another thread.
                    val page = store.favours(nid, limit = 10)
                    check(page.size <= 10)
                }
            }
        } + (1..4).map {
            async(Dispatchers.IO) { repeat(each) { store.search(nid, "favour"); store.inbox(nid) } }
        }
        jobs.awaitAll()
        assertEquals(1L + writers * each, store.outboxCount())
        val titles = store.favours(nid, limit = 200).map { it.title }.toSet()
        assertEquals(writers * each, titles.size)
        eventually("the observer saw the last list") { seen.lastOrNull()?.size == writers * each }
        watching.cancelAndJoin()
    }
}
