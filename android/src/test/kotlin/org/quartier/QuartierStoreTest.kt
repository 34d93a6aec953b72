package org.quartier

import java.nio.file.Files
import java.nio.file.Path
import java.lang.reflect.ParameterizedType
import java.lang.reflect.WildcardType
import java.time.LocalDate
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.Continuation
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.quartier.core.Condition
import org.quartier.core.Favour
import org.quartier.core.FavourKind
import org.quartier.core.FavourStatus
import org.quartier.core.FavoursObserver
import org.quartier.core.InboxEntry
import org.quartier.core.Loan
import org.quartier.core.LogLevel
import org.quartier.core.LogRecord
import org.quartier.core.Neighbourhood
import org.quartier.core.QuartierException
import org.quartier.core.SearchKind
import org.quartier.core.SecretStore
import org.quartier.core.StorageProblem
import org.quartier.core.fileSecretStore

/** The Kotlin shell over the real Rust library and a real database in a temporary folder. */
class QuartierStoreTest {
    private lateinit var dir: Path
    private lateinit var store: QuartierStore

    @BeforeEach
    fun open() = runBlocking {
        dir = Files.createTempDirectory("quartier-kotlin")
        store = QuartierStore.open(dir.resolve("quartier.db").toString())
    }

    @AfterEach
    fun close() {
        store.close()
        dir.deleteTestFolder()
    }

    @Test
    fun `a favour asked is listed and arrives through the flow`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val lists = Collections.synchronizedList(mutableListOf<List<Favour>>())
        val collecting = launch(Dispatchers.Default) {
            store.observeFavours(nid).take(2).toList(lists)
        }
        // The first list (empty) is there before the favour is asked.
        withTimeout(10_000) { while (lists.isEmpty()) yield() }
        assertEquals(emptyList<Favour>(), lists[0])

        val id = store.askFavour(nid, "Water my plants on Saturday", category = "garden")
        withTimeout(10_000) { collecting.join() }

        val seen = lists[1].single()
        assertEquals(id, seen.id)
        assertEquals("Water my plants on Saturday", seen.title)
        assertEquals(FavourKind.ASK, seen.kind)
        assertEquals(FavourStatus.OPEN, seen.status)
        assertEquals("Alice", seen.authorName)
        assertEquals(store.identity.personId, seen.authorId)
        assertEquals(listOf(seen), store.favours(nid))
        // The neighbourhood and the favour wait in the outbox for the server.
        assertEquals(2L, store.outboxCount())
    }

    @Test
    fun `the neighbourhoods flow emits when one is founded and when it is edited`() = runBlocking {
        val lists = Collections.synchronizedList(mutableListOf<List<Neighbourhood>>())
        val collecting = launch(Dispatchers.Default) {
            store.observeNeighbourhoods().take(3).toList(lists)
        }
        withTimeout(10_000) { while (lists.isEmpty()) yield() }
        assertEquals(emptyList<Neighbourhood>(), lists[0])

        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        withTimeout(10_000) { while (lists.size < 2) yield() }
        assertEquals(listOf(Neighbourhood(nid, "Aligre", "")), lists[1])
        // A favour is no change of the list: nothing is emitted for it.
        store.askFavour(nid, "Water my plants on Saturday", category = "garden")
        store.editNeighbourhood(nid, "Aligre-Cotte", "Around the market")
        withTimeout(10_000) { collecting.join() }
        assertEquals(listOf(Neighbourhood(nid, "Aligre-Cotte", "Around the market")), lists[2])
        assertEquals(lists[2], store.neighbourhoods())
    }

    @Test
    fun `every list has its live twin`() {
        // The suspend functions that answer a list: their continuation takes a List.
        val lists = QuartierStore::class.java.declaredMethods.filter { method ->
            val continuation = method.genericParameterTypes.lastOrNull() as? ParameterizedType
            val answer = (continuation?.actualTypeArguments?.singleOrNull() as? WildcardType)?.lowerBounds?.singleOrNull()
            continuation?.rawType == Continuation::class.java &&
                ((answer as? ParameterizedType)?.rawType ?: answer) == List::class.java
        }.map { it.name }.toSet()
        assertTrue("neighbourhoods" in lists && "favours" in lists, lists.toString())
        val observed = QuartierStore::class.java.methods.map { it.name }.filter { it.startsWith("observe") }.toSet()
        // Notifying marks the entries as told: it is asked for, never watched.
        val unobserved = lists.filter { "observe" + it.replaceFirstChar(Char::uppercase) !in observed } - "notificationsDue"
        assertEquals(emptyList<String>(), unobserved)
    }

    @Test
    fun `an empty title is refused with a typed exception`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val refused = assertThrows<QuartierException.Refused> {
            runBlocking { store.askFavour(nid, "   ", category = "garden") }
        }
        assertEquals("invalid", refused.code)
        assertTrue(refused.reason.contains("title"), refused.reason)
        assertEquals(emptyList<Favour>(), store.favours(nid))
        assertEquals(1L, store.outboxCount(), "a refusal saves nothing")
    }

    @Test
    fun `lending, invitations, search and the inbox go through the core`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val drill = store.addItem(nid, "Cordless drill", "tools", Condition.GOOD, depositNote = "none")
        assertEquals(listOf("Cordless drill" to "Alice"), store.items(nid).map { it.title to it.ownerName })

        // Alice owns the drill: the rules do not let her borrow it from herself.
        val monday = LocalDate.now().plusDays(3)
        val own = assertThrows<QuartierException.Refused> {
            runBlocking { store.requestLoan(nid, drill, monday, monday.plusDays(1), note = "for shelves") }
        }
        assertEquals("forbidden", own.code)
        assertEquals(emptyList<Loan>(), store.loans(nid, itemId = drill))
        // A day that is not YYYY-MM-DD never reaches the rules.
        assertThrows<QuartierException.Invalid> {
            store.core.requestLoan(nid, drill, "next monday", monday.toString(), "")
        }

        val invitation = store.invite(nid, maxUses = 3)
        assertTrue(Regex("^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$").matches(invitation.code), invitation.code)
        assertEquals(3u, invitation.maxUses)

        val hits = store.search(nid, "drill")
        assertEquals(listOf(SearchKind.ITEM to drill), hits.map { it.kind to it.id })
        val bits = store.addItem(nid, "Drill bits", "tools", Condition.GOOD, depositNote = "none")
        assertEquals(listOf(bits, drill), store.search(nid, "dril", newestFirst = true).map { it.id })
        assertEquals(emptyList<InboxEntry>(), store.inbox(nid), "nothing concerns Alice yet")
    }

    @Test
    fun `the core's log lines reach the sink, filtered by level`() = runBlocking {
        val lines = Collections.synchronizedList(mutableListOf<LogRecord>())
        QuartierLogs.install(LogLevel.DEBUG) { lines.add(it) }
        try {
            val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
            store.askFavour(nid, "Lend me a ladder", category = "diy")
        } finally {
            QuartierLogs.uninstall()
        }
        val saved = lines.filter { it.target.startsWith("quartier_core") && it.message.startsWith("saved locally") }
        assertEquals(2, saved.size, lines.toString())
        assertTrue(saved.all { it.level == LogLevel.DEBUG })
        assertTrue(saved[1].message.contains("favour.post"), saved[1].message)
    }

    @Test
    fun `sync without registration is a typed error and keeps the outbox`() = runBlocking {
        val secrets = fileSecretStore(dir.resolve("secrets.json").toString())
        val engine = store.syncEngine("http://127.0.0.1:9", secrets)
        assertFalse(engine.isRegistered())
        store.createNeighbourhood("Aligre", displayName = "Alice")
        assertThrows<QuartierException.NotRegistered> { runBlocking { engine.syncOnce(2_000u) } }
        assertEquals(1uL, engine.status().pending)
        assertEquals(1L, store.outboxCount())
    }

    @Test
    fun `an observer that throws neither undoes the change nor crashes`() = runBlocking {
        val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
        val calls = AtomicInteger()
        val subscription = store.core.observeFavours(
            nid,
            object : FavoursObserver {
                override fun onFavours(favours: List<Favour>) {
                    calls.incrementAndGet()
                    if (favours.isNotEmpty()) throw IllegalStateException("a bug in the app's observer")
                }

                override fun onError(error: QuartierException) = Unit
            },
        )
        val id = store.askFavour(nid, "Walk my dog", category = "pets")
        assertEquals(2, calls.get())
        assertEquals(listOf(id), store.favours(nid).map { it.id })
        subscription.cancel()
        subscription.close()
    }

    @Test
    fun `a secret store written in Kotlin is called by the core, and its failure is typed`() = runBlocking {
        val asked = Collections.synchronizedList(mutableListOf<String>())
        val broken = object : SecretStore {
            override fun get(key: String): String? {
                asked.add(key)
                throw QuartierException.Storage(StorageProblem.SECRETS, "the keystore is locked")
            }

            override fun set(key: String, value: String) = throw IllegalStateException("not expected")

            override fun delete(key: String) = throw IllegalStateException("not expected")
        }
        val engine = store.syncEngine("http://127.0.0.1:9", broken)
        val failure = assertThrows<QuartierException.Storage> { engine.isRegistered() }
        assertEquals(StorageProblem.SECRETS, failure.problem)
        assertTrue(failure.reason.contains("the keystore is locked"), failure.reason)
        assertEquals(1, asked.size)
    }

    @Test
    fun `a missing folder is a storage error`() {
        val missing = dir.resolve("no/such/folder/quartier.db").toString()
        assertThrows<QuartierException.Storage> { runBlocking { QuartierStore.open(missing) } }
    }
}
