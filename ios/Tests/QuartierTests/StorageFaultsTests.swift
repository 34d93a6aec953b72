import Foundation
import Quartier
import XCTest

/// Disk and I/O errors through the Swift shell: a full disk, read-only storage and a database locked by
/// another program each reach Swift as `QuartierError.Storage` with a sentence saying what to do;
/// nothing is reported saved that was not; the same call works once the fault clears.
///
/// The storage is a real small filesystem (a tmpfs mounted with `mount`, which needs root; the tests run
/// as root in their Debian root): where it cannot be mounted those tests are skipped, saying why. The
/// lock is held by another process, `hold-lock`, which cargo builds beside the library
/// (scripts/test-shells.sh does); its folder is found on `LD_LIBRARY_PATH`.
final class StorageFaultsTests: XCTestCase {
    private var dir: URL!
    private var mounted = false

    override func setUp() async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("quartier-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        if mounted, !run("/bin/umount", dir.path) {
            _ = run("/bin/umount", "-l", dir.path)
        }
        try? FileManager.default.removeItem(at: dir)
    }

    @discardableResult
    private func run(_ command: String, _ arguments: String...) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        do {
            try process.run()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    private func mountSmallDisk(kib: Int) throws {
        mounted = run("/bin/mount", "-t", "tmpfs", "-o", "size=\(kib)k,mode=0700", "tmpfs", dir.path)
        if !mounted {
            throw XCTSkip("cannot mount a small filesystem here (needs root)")
        }
    }

    private var database: String { dir.appendingPathComponent("quartier.db").path }

    private func ask(_ store: QuartierStore, _ nid: String, _ n: Int) async throws {
        _ = try await store.askFavour(
            in: nid, title: "Favour \(n)", category: "garden",
            details: String(repeating: "Water the tomatoes, twice. ", count: 60))
    }

    private func titles(_ store: QuartierStore, _ nid: String) async throws -> [String] {
        try await store.favours(in: nid, limit: 200).map(\.title).sorted()
    }

    /// The sentence of a storage error of the expected kind; nil for any other error.
    private func storageReason(_ error: Error, _ expected: StorageProblem) -> String? {
        if case QuartierError.Storage(let problem, let reason) = error {
            XCTAssertEqual(problem, expected, reason)
            return problem == expected ? reason : nil
        }
        return nil
    }

    func testAFullDiskIsAStorageErrorSavesNothingAndWritingResumesOnceSpaceIsFreed() async throws {
        try mountSmallDisk(kib: 4096)
        let store = try await QuartierStore.open(path: database)
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        // Fill the filesystem to the last byte.
        let filler = dir.appendingPathComponent("filler")
        _ = FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        for chunk in [65536, 4096, 512, 1] {
            let block = Data(count: chunk)
            while (try? handle.write(contentsOf: block)) != nil {}
        }
        try? handle.close()

        var saved = 0
        var failure: Error?
        while saved < 150 {
            do {
                try await ask(store, nid, saved)
                saved += 1
            } catch {
                failure = error
                break
            }
        }
        let reason = try XCTUnwrap(failure.flatMap { storageReason($0, .full) }, "not a storage error: \(String(describing: failure))")
        XCTAssertTrue(reason.contains("full") && reason.contains("free some space"), reason)
        let listed = try await titles(store, nid)
        XCTAssertEqual(listed.count, saved, "exactly the favours reported saved")

        try FileManager.default.removeItem(at: filler)
        try await ask(store, nid, saved)
        let after = try await titles(store, nid)
        XCTAssertEqual(after, (0...saved).map { "Favour \($0)" }.sorted())
    }

    func testReadOnlyStorageIsAStorageErrorNamingTheFileAndOpeningWorksOnceWritable() async throws {
        try mountSmallDisk(kib: 8192)
        do {
            let store = try await QuartierStore.open(path: database)
            let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
            try await ask(store, nid, 0)
        }
        XCTAssertTrue(run("/bin/mount", "-o", "remount,ro", dir.path))
        do {
            _ = try await QuartierStore.open(path: database)
            XCTFail("opened for writing on read-only storage")
        } catch {
            let reason = try XCTUnwrap(storageReason(error, .readOnly), "not a storage error: \(error)")
            XCTAssertTrue(reason.contains("cannot be written") && reason.contains(database), reason)
        }

        XCTAssertTrue(run("/bin/mount", "-o", "remount,rw", dir.path))
        let store = try await QuartierStore.open(path: database)
        let neighbourhoods = try await store.neighbourhoods()
        let nid = try XCTUnwrap(neighbourhoods.first?.id)
        try await ask(store, nid, 1)
        let listed = try await titles(store, nid)
        XCTAssertEqual(listed, ["Favour 0", "Favour 1"])
    }

    func testADatabaseLockedByAnotherProgramIsAStorageErrorAndWritingResumesOnceReleased() async throws {
        let store = try await QuartierStore.open(path: database)
        let nid = try await store.createNeighbourhood(name: "Aligre", displayName: "Alice")
        try await ask(store, nid, 0)

        let folders = (ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] ?? "").split(separator: ":")
        let holdLock = try XCTUnwrap(
            folders.map { "\($0)/hold-lock" }.first { FileManager.default.isExecutableFile(atPath: $0) },
            "hold-lock is not beside the library: cargo build -p quartier-e2e --bin hold-lock")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: holdLock)
        holder.arguments = [database]
        let input = Pipe()
        let output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close() // releases the lock
            holder.waitUntilExit()
        }
        let said = String(decoding: output.fileHandleForReading.readData(ofLength: 7), as: UTF8.self)
        XCTAssertEqual(said, "locked\n")

        do {
            try await ask(store, nid, 1)
            XCTFail("saved while another program holds the lock")
        } catch {
            let reason = try XCTUnwrap(storageReason(error, .locked), "not a storage error: \(error)")
            XCTAssertTrue(reason.contains("locked by another program"), reason)
        }
        let listed = try await titles(store, nid)
        XCTAssertEqual(listed, ["Favour 0"], "nothing was saved, and reads go on")

        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        try await ask(store, nid, 1)
        let after = try await titles(store, nid)
        XCTAssertEqual(after, ["Favour 0", "Favour 1"])
    }
}
