#if os(iOS) && canImport(BackgroundTasks)
import BackgroundTasks
import Foundation
import QuartierCore
import os

/// Sync in the background windows iOS grants (`BGAppRefreshTask`, about 30 seconds).
///
/// Add the identifier to `BGTaskSchedulerPermittedIdentifiers` in Info.plist and enable the "Background
/// fetch" mode; call `register` before `application(_:didFinishLaunchingWithOptions:)` returns, and
/// `schedule` when the app goes to the background.
public enum QuartierBackgroundSync {
    public static let defaultIdentifier = "org.quartier.sync"
    /// Leaves the system a margin inside its window: a round cut short loses nothing anyway.
    public static let budgetMs: UInt64 = 20_000

    private static let log = Logger(subsystem: "org.quartier", category: "background-sync")

    /// Registers the task. `engine` gives the app's sync engine (nil when the device is not set up yet).
    public static func register(
        identifier: String = defaultIdentifier, engine: @escaping @Sendable () -> SyncEngine?
    ) {
        let registered = BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            // The next window is asked for first, so that a failed round does not end background sync.
            schedule(identifier: identifier)
            guard let engine = engine() else {
                task.setTaskCompleted(success: true)
                return
            }
            let round = Task {
                do {
                    let report = try await engine.syncOnce(budgetMs: budgetMs)
                    task.setTaskCompleted(success: report.complete)
                } catch {
                    log.info("background sync failed: \(String(describing: error), privacy: .public)")
                    task.setTaskCompleted(success: false)
                }
            }
            // Cancelling the task stops the round at its next step; what was done is kept.
            task.expirationHandler = { round.cancel() }
        }
        if !registered {
            log.error("\(identifier, privacy: .public) is missing from BGTaskSchedulerPermittedIdentifiers")
        }
    }

    /// Asks for a background window no sooner than `after` seconds from now.
    public static func schedule(identifier: String = defaultIdentifier, after: TimeInterval = 15 * 60) {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: after)
        do {
            try BGTaskScheduler.shared.submit(request)
        } catch {
            log.error("background sync could not be scheduled: \(String(describing: error), privacy: .public)")
        }
    }
}
#endif
