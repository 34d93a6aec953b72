package org.quartier

import java.nio.file.Files
import java.nio.file.Path
import java.time.LocalDate
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import org.quartier.core.FavourStatus
import org.quartier.core.LoanStatus
import org.quartier.core.Neighbourhood
import org.quartier.core.OrderLineDraft
import org.quartier.core.OrderStatus
import org.quartier.core.ProductDraft
import org.quartier.core.QuartierException
import org.quartier.core.StallDraft
import org.quartier.core.ThreadKind
import org.quartier.core.fileSecretStore

/**
 * Two devices and the real sync server that scripts/test-shells.sh started for this run (its address in
 * the system property `quartier.server.url`): the story of the README, then every kind of thing a
 * neighbourhood does, each change seen arriving on the other device through a Flow.
 */
class ServerStoryTest {
    private lateinit var dir: Path
    private val closing = mutableListOf<AutoCloseable>()

    private val serverUrl: String
        get() = System.getProperty("quartier.server.url")?.takeIf { it.isNotBlank() }
            ?: fail("no server: run scripts/test-shells.sh, which starts one and passes -Dquartier.server.url")

    @BeforeEach
    fun setUp() {
        dir = Files.createTempDirectory("quartier-story")
    }

    @AfterEach
    fun tearDown() {
        closing.reversed().forEach { it.close() }
        dir.deleteTestFolder()
    }

    private fun secrets(name: String) = fileSecretStore(dir.resolve("$name-secrets.json").toString())

    @Test
    fun `two neighbours share favours, a loan, a stall and messages through the server`() = runBlocking {
        withTimeout(120_000) {
            val (alice, nid, code) = founderSample(dir.resolve("alice.db").toString(), serverUrl, secrets("alice"))
            closing += alice
            val aliceSync = alice.sync(serverUrl, secrets("alice")).also { closing += it }
            val bob = QuartierStore.open(dir.resolve("bob.db").toString()).also { closing += it }
            val bobSync = bob.sync(serverUrl, secrets("bob")).also { closing += it }

            // Bob's list of neighbourhoods, live from before he joins.
            val bobNeighbourhoods = Channel<List<Neighbourhood>>(Channel.UNLIMITED)
            val watching = launch(Dispatchers.Default) { bob.observeNeighbourhoods().collect { bobNeighbourhoods.send(it) } }
            assertEquals(emptyList<Neighbourhood>(), bobNeighbourhoods.receive())

            // Bob joins, sees Alice's favour arrive, and asks for the drill; his empty title is refused.
            assertEquals("Water my plants on Saturday", neighbourSample(bob, bobSync, code))
            assertEquals(listOf(nid to "Aligre"), bobNeighbourhoods.receive().map { it.id to it.name })
            assertEquals(0uL, bobSync.status.pending)
            assertNotNull(bobSync.status.lastSuccessMs)
            val drill = bob.items(nid).single()
            val bobLoan = bob.loans(nid).single()
            assertEquals(LoanStatus.REQUESTED, bobLoan.status)

            // Alice, a moderator, renames the neighbourhood: Bob's list follows when he syncs.
            alice.editNeighbourhood(nid, "Aligre-Cotte", "Around the market")
            aliceSync.syncOnce()
            bobSync.syncOnce()
            assertEquals(
                listOf(Neighbourhood(nid, "Aligre-Cotte", "Around the market")),
                withTimeout(30_000) { bobNeighbourhoods.receive() },
            )

            // Alice sees the request arrive through her live list of loans, and approves it.
            val aliceLoans = async(Dispatchers.Default) {
                alice.observeLoans(nid).first { loans -> loans.any { it.status == LoanStatus.REQUESTED } }
            }
            aliceSync.syncOnce()
            assertEquals(listOf(bobLoan.id), aliceLoans.await().map { it.id })
            alice.approveLoan(nid, bobLoan.id)
            aliceSync.syncOnce()

            // Bob's list turns to approved when he syncs; overlapping days are then refused on his phone.
            val approved = async(Dispatchers.Default) {
                bob.observeLoans(nid).first { loans -> loans.any { it.status == LoanStatus.APPROVED } }
            }
            bobSync.syncOnce()
            assertEquals(bobLoan.id, approved.await().single().id)
            val day = LocalDate.parse(bobLoan.lastDay)
            val overlap = assertThrows<QuartierException.Refused> {
                runBlocking { bob.requestLoan(nid, drill.id, day, day.plusDays(1)) }
            }
            assertEquals("overlap", overlap.code)
            assertTrue(overlap.reason.contains("choose other days"), overlap.reason)
            assertEquals(1, bob.loanCalendar(nid, drill.id).size)

            // The loan's thread: Bob writes, Alice reads.
            bob.sendMessage(nid, ThreadKind.LOAN, bobLoan.id, "Can I pick it up at 6?")
            bobSync.syncOnce()
            val thread = async(Dispatchers.Default) {
                alice.observeThread(nid, ThreadKind.LOAN, bobLoan.id).first { it.isNotEmpty() }
            }
            aliceSync.syncOnce()
            assertEquals(listOf("Bob" to "Can I pick it up at 6?"), thread.await().map { it.authorName to it.body })
            alice.handOverLoan(nid, bobLoan.id)
            alice.returnLoan(nid, bobLoan.id)

            // The favour's life: Bob promises, Alice marks it done and thanks him.
            val favour = bob.favours(nid).single()
            bob.promiseFavour(nid, favour.id)
            bobSync.syncOnce()
            aliceSync.syncOnce()
            assertEquals(FavourStatus.PROMISED, alice.favours(nid).single().status)
            alice.completeFavour(nid, favour.id)
            alice.thankFavour(nid, favour.id, note = "The basil is thriving")
            aliceSync.syncOnce()
            bobSync.syncOnce()
            val thanked = bob.favours(nid).single()
            assertEquals(FavourStatus.THANKED to "The basil is thriving", thanked.status to thanked.thanksNote)
            assertEquals(1u, bob.members(nid).single { it.displayName == "Bob" }.thanksReceived)

            // The market: Alice (a moderator may trade) opens a stall; Bob pre-orders; stock follows.
            val stall = alice.openStall(nid, StallDraft("Alice's herbs", "Marché d'Aligre", listOf(6u), 480.toUShort(), 780.toUShort(), "row B"))
            val basil = alice.addProduct(nid, stall, ProductDraft("Basil", "pot", 350, 5, true))
            aliceSync.syncOnce()
            bobSync.syncOnce()
            assertEquals(listOf("Basil"), bob.products(nid, stall).map { it.name })
            val order = bob.placeOrder(nid, stall, listOf(OrderLineDraft(basil, 2)), note = "Saturday morning")
            bobSync.syncOnce()
            val pending = async(Dispatchers.Default) { alice.observePendingOrders(nid, stall).first { it.isNotEmpty() } }
            aliceSync.syncOnce()
            assertEquals(listOf(order), pending.await().map { it.id })
            assertEquals(listOf(order), alice.pendingOrders(nid, stall).map { it.id })
            alice.confirmOrder(nid, order)
            alice.orderReady(nid, order)
            alice.collectOrder(nid, order)
            aliceSync.syncOnce()
            val collected = async(Dispatchers.Default) {
                bob.observeOrders(nid, mine = true).first { orders -> orders.any { it.status == OrderStatus.COLLECTED } }
            }
            bobSync.syncOnce()
            assertEquals(700L, collected.await().single().totalCents)
            assertEquals(3L, bob.products(nid, stall).single().stock)

            // A change that cannot stand: Alice withdraws the drill while Bob, offline, asks for it again.
            alice.withdrawItem(nid, drill.id)
            aliceSync.syncOnce()
            val far = LocalDate.now().plusDays(20)
            bob.requestLoan(nid, drill.id, far, far.plusDays(1))
            val report = bobSync.syncOnce()
            assertEquals(listOf("wrong_state"), report.rejected.map { it.code })
            val rejection = bob.rejections(nid).single()
            assertTrue(rejection.reason.contains("Cordless drill"), rejection.reason)
            assertTrue(bob.loans(nid).none { it.firstDay == far.toString() }, "the refused loan was rolled back")
            bob.dismissRejection(rejection.seq)
            assertEquals(emptyList<Any>(), bob.rejections(nid))

            // Bob leaves: once the server has taken it, the neighbourhood leaves his phone and his list.
            bob.leaveNeighbourhood(nid)
            bobSync.syncOnce()
            assertEquals(emptyList<Neighbourhood>(), withTimeout(30_000) { bobNeighbourhoods.receive() })
            assertEquals(emptyList<Neighbourhood>(), bob.neighbourhoods())
            watching.cancel()
            aliceSync.syncOnce()
            assertEquals(listOf("Alice"), alice.members(nid).map { it.displayName })
        }
    }

    @Test
    fun `the sync status flow tells pending changes, then the success`() = runBlocking {
        withTimeout(60_000) {
            val store = QuartierStore.open(dir.resolve("carol.db").toString()).also { closing += it }
            val sync = store.sync(serverUrl, secrets("carol")).also { closing += it }
            sync.register()
            val nid = store.createNeighbourhood("Bastille", displayName = "Carol")
            val pending = async(Dispatchers.Default) { sync.observeStatus().first { it.pending == 2uL } }
            store.askFavour(nid, "Help me carry a sofa", category = "errands")
            assertEquals(null, pending.await().lastSuccessMs)
            val done = async(Dispatchers.Default) {
                sync.observeStatus().first { it.pending == 0uL && it.lastSuccessMs != null && !it.syncing }
            }
            sync.syncOnce()
            assertEquals(null, done.await().lastError)
        }
    }
}
