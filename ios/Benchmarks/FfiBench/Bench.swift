// The benchmark itself (see main.swift).
import Foundation
import Quartier

/// How one call is timed.
struct Plan {
    let warmup: Int
    let samples: Int
    let batch: Int
}

/// The sizes of a run: the favours in the store, and the plan of each call (the same as in Kotlin and
/// in the Rust baseline).
struct Sizes {
    let favours: Int
    let small: Plan
    let page: Plan
    let shell: Plan

    static let full = Sizes(
        favours: 200,
        small: Plan(warmup: 20_000, samples: 2_000, batch: 100),
        page: Plan(warmup: 2_000, samples: 2_000, batch: 1),
        shell: Plan(warmup: 1_000, samples: 1_000, batch: 1))

    static let smoke = Sizes(
        favours: 60,
        small: Plan(warmup: 10, samples: 5, batch: 10),
        page: Plan(warmup: 2, samples: 5, batch: 1),
        shell: Plan(warmup: 2, samples: 5, batch: 1))
}

/// The records in a page of favours.
let page: UInt32 = 50

// Where each result goes, so that no call can be optimised away.
var sink: Any?

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// The `p`-th percentile of sorted values, nearest rank (as the Rust benchmarks).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

func line(_ name: String, records: Int, plan: Plan, perCall: [Double]) -> String {
    let sorted = perCall.sorted()
    let median = String(format: "%.1f", locale: Locale(identifier: "en_US_POSIX"), percentile(sorted, 50))
    let p90 = String(format: "%.1f", locale: Locale(identifier: "en_US_POSIX"), percentile(sorted, 90))
    return "{\"lang\":\"swift\",\"call\":\"\(name)\",\"batch\":\(plan.batch),\"samples\":\(plan.samples),"
        + "\"records\":\(records),\"median_ns\":\(median),\"p90_ns\":\(p90)}"
}

/// Times a plain call by `plan` and returns its JSON line.
func measure(_ name: String, records: Int, plan: Plan, _ call: () throws -> Any) rethrows -> String {
    for _ in 0..<plan.warmup { sink = try call() }
    var perCall: [Double] = []
    perCall.reserveCapacity(plan.samples)
    for _ in 0..<plan.samples {
        let start = now()
        for _ in 0..<plan.batch { sink = try call() }
        perCall.append(Double(now() - start) / Double(plan.batch))
    }
    return line(name, records: records, plan: plan, perCall: perCall)
}

/// Times an async call by `plan` and returns its JSON line.
func measureAsync(_ name: String, records: Int, plan: Plan, _ call: () async throws -> Any) async rethrows -> String {
    for _ in 0..<plan.warmup { sink = try await call() }
    var perCall: [Double] = []
    perCall.reserveCapacity(plan.samples)
    for _ in 0..<plan.samples {
        let start = now()
        for _ in 0..<plan.batch { sink = try await call() }
        perCall.append(Double(now() - start) / Double(plan.batch))
    }
    return line(name, records: records, plan: plan, perCall: perCall)
}

func bench(_ sizes: Sizes) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quartier-ffi-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }

    let store = try await QuartierStore.open(path: dir.appendingPathComponent("bench.db").path)
    let nid = try await store.createNeighbourhood(name: "Bench", displayName: "Bench")
    for i in 0..<sizes.favours {
        // The same favours as the Kotlin program and the Rust baseline.
        let title = "Water the plants, favour \(i)"
        let details = "Twice a day, on the balcony; the key is with the concierge (\(i))."
        if i % 2 == 0 {
            _ = try await store.askFavour(in: nid, title: title, category: "garden", details: details)
        } else {
            _ = try await store.offerFavour(in: nid, title: title, category: "garden", details: details)
        }
    }
    let core = store.core
    let listed = try core.favours(neighbourhoodId: nid, status: nil, limit: page, offset: 0)
    guard listed.count == Int(page) else {
        throw QuartierError.Internal(reason: "a page of favours has \(listed.count) records, not \(page)")
    }
    // (a) A small call: the device's identity, two short strings read from memory.
    print(measure("identity", records: 0, plan: sizes.small) { core.identity() })
    // (b) A page of favours: 50 records cross the boundary.
    print(try measure("favours_page", records: Int(page), plan: sizes.page) {
        try core.favours(neighbourhoodId: nid, status: nil, limit: page, offset: 0)
    })
    // (b) as an app calls it: the async method, which runs the core on the store's queue.
    print(try await measureAsync("favours_page_shell", records: Int(page), plan: sizes.shell) {
        try await store.favours(in: nid, limit: page)
    })
}

