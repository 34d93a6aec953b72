package org.quartier

import java.time.LocalDate
import kotlinx.coroutines.flow.first
import org.quartier.core.Condition
import org.quartier.core.QuartierException
import org.quartier.core.SecretStore

// The samples of the README's section for app developers, compiled and run by ServerStoryTest:
// scripts/check-readme-samples.sh fails when the README's copy between the markers differs.

/** The first device: opens its database, registers, founds a neighbourhood and invites a neighbour. */
suspend fun founderSample(dbPath: String, serverUrl: String, secrets: SecretStore): Triple<QuartierStore, String, String> {
    // README:begin kotlin-founder
    val store = QuartierStore.open(dbPath)
    val sync = store.sync(serverUrl, secrets) // secrets: KeystoreSecretStore(context) on Android
    sync.register()
    val nid = store.createNeighbourhood("Aligre", displayName = "Alice")
    val invitation = store.invite(nid, maxUses = 1) // show invitation.code to the neighbour
    store.askFavour(nid, "Water my plants on Saturday", category = "garden")
    val drill = store.addItem(nid, "Cordless drill", "tools", Condition.GOOD)
    sync.syncOnce()
    // README:end kotlin-founder
    return Triple(store, nid, invitation.code).also { check(drill.isNotEmpty()) }
}

/** The second device: joins with the code and watches the favours arrive. */
suspend fun neighbourSample(store: QuartierStore, sync: QuartierSync, code: String): String {
    // README:begin kotlin-neighbour
    sync.register()
    val joined = sync.join(code, displayName = "Bob")
    // A live list: the favours now, then after every change (local or pulled by sync).
    val favours = store.observeFavours(joined.id).first { it.isNotEmpty() }
    val drill = store.items(joined.id).first { it.title == "Cordless drill" }
    try {
        store.requestLoan(joined.id, drill.id, LocalDate.now().plusDays(1), LocalDate.now().plusDays(2))
        store.askFavour(joined.id, title = "", category = "diy")
    } catch (refused: QuartierException.Refused) {
        println("${refused.code}: ${refused.reason}") // invalid: The title is empty…
    }
    sync.syncOnce()
    // README:end kotlin-neighbour
    return favours.single().title
}
