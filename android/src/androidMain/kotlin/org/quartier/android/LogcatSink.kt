package org.quartier.android

import android.util.Log
import org.quartier.core.LogLevel
import org.quartier.core.LogRecord
import org.quartier.core.LogSink

/** The core's log lines in Logcat, under one tag: `QuartierLogs.install` or `setLogSink(LogcatSink(), level)`. */
class LogcatSink(private val tag: String = "Quartier") : LogSink {
    override fun log(record: LogRecord) {
        val priority = when (record.level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, tag, "${record.target}: ${record.message}")
    }
}
