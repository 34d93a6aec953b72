package org.quartier

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.quartier.bench.FfiBench

/** The FFI benchmark (src/bench, run by bench/ffi.sh) at a tiny size, so that it never rots: no timing is asserted. */
class FfiBenchSmokeTest {
    @Test
    fun `the FFI benchmark times every call and prints one JSON line for each`() {
        val lines = mutableListOf<String>()
        FfiBench.run(FfiBench.SMOKE) { lines += it }
        val calls = lines.map { Regex("\"call\":\"(\\w+)\"").find(it)?.groupValues?.get(1) }
        assertEquals(listOf("identity", "favours_page", "favours_page_shell"), calls)
        val figures = Regex("\"median_ns\":[0-9]+\\.[0-9],\"p90_ns\":[0-9]+\\.[0-9],")
        lines.forEach { assertTrue(it.startsWith("{\"lang\":\"kotlin\",") && figures.containsMatchIn(it), it) }
        assertTrue(lines[1].contains("\"records\":50,"), lines[1])
    }
}
