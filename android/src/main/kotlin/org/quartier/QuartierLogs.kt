package org.quartier

import org.quartier.core.LogLevel
import org.quartier.core.LogRecord
import org.quartier.core.LogSink
import org.quartier.core.removeLogSink
import org.quartier.core.setLogSink

/**
 * The core's log lines. They are filtered in Rust (the core's own lines up to [LogLevel], the
 * libraries' from warnings up) and never carry a token or a place.
 */
object QuartierLogs {
    /** Sends the log lines to [sink], on the thread that logged them; replaces any earlier sink. */
    fun install(level: LogLevel, sink: (LogRecord) -> Unit) {
        setLogSink(
            object : LogSink {
                override fun log(record: LogRecord) = sink(record)
            },
            level,
        )
    }

    fun uninstall() = removeLogSink()
}
