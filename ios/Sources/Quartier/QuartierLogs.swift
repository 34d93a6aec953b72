import Foundation
import QuartierCore

#if canImport(os)
import os
#endif

/// The core's log lines. They are filtered in Rust (the core's own lines up to the level, the
/// libraries' from warnings up) and never carry a token or a place.
public enum QuartierLogs {
    /// Sends the log lines to `sink`, on the thread that logged them; replaces any earlier sink.
    public static func install(level: LogLevel, sink: @escaping @Sendable (LogRecord) -> Void) throws {
        try setLogSink(sink: ClosureSink(sink), maxLevel: level)
    }

    public static func uninstall() {
        removeLogSink()
    }

    #if canImport(os)
    /// Sends the log lines to the unified log (Console.app), under `subsystem`, one category per module.
    @available(iOS 14.0, macOS 11.0, *)
    public static func installOSLog(level: LogLevel, subsystem: String = "org.quartier") throws {
        try install(level: level) { record in
            let logger = Logger(subsystem: subsystem, category: record.target)
            let type: OSLogType
            switch record.level {
            case .error: type = .error
            case .warn: type = .default
            case .info: type = .info
            case .debug, .trace: type = .debug
            }
            logger.log(level: type, "\(record.message, privacy: .public)")
        }
    }
    #endif
}

private final class ClosureSink: LogSink, @unchecked Sendable {
    private let sink: @Sendable (LogRecord) -> Void

    init(_ sink: @escaping @Sendable (LogRecord) -> Void) {
        self.sink = sink
    }

    func log(record: LogRecord) {
        sink(record)
    }
}
