package org.quartier

import java.nio.file.Path

/**
 * Removes a test's folder. A store let go on another thread (an observation or a sync still finishing
 * as the test ends) closes its database when that thread lets go of it, and SQLite then removes the
 * database's `-wal` and `-shm` files, possibly while this walks the folder: a file gone meanwhile is
 * not an error, and the walk is tried again.
 */
internal fun Path.deleteTestFolder() {
    repeat(5) {
        if (toFile().deleteRecursively()) return
        Thread.sleep(100)
    }
    error("the test folder $this could not be removed")
}
