// The Android library of Quartier's Kotlin shell, for app developers: include this folder as a module
// of an Android project (settings.gradle.kts: include(":quartier"); project(":quartier").projectDir =
// file("<quartier>/android")), with the Android Gradle plugin and Kotlin declared at the project's root.
//
// It builds the Rust library for the Android ABIs with cargo-ndk (`cargo install cargo-ndk`, an NDK in
// ANDROID_NDK_HOME, `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`),
// generates the Kotlin bindings from it with the workspace's uniffi-bindgen, and compiles them with the
// plain-Kotlin API (src/main) and the Android-only parts (src/androidMain: Keystore, WorkManager, Logcat).
//
// The same src/main is compiled and tested on the JVM by pom.xml (scripts/test-shells.sh), which is what
// CI runs: no Android SDK is needed there.

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

val workspace: File = projectDir.parentFile
val generated: File = layout.buildDirectory.dir("generated/uniffi").get().asFile
val jniLibsDir = File(generated, "jniLibs")
val kotlinDir = File(generated, "kotlin")
val cargoProfile = if (providers.gradleProperty("quartier.debugRust").isPresent) "debug" else "release"

android {
    namespace = "org.quartier"
    compileSdk = 35

    defaultConfig {
        minSdk = 26 // java.time, and the Keystore's AES-GCM keys
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].apply {
        manifest.srcFile("src/androidMain/AndroidManifest.xml")
        java.srcDirs("src/main/kotlin", "src/androidMain/kotlin", kotlinDir)
        jniLibs.srcDirs(jniLibsDir)
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // JNA's Android flavour carries its own native dispatcher for each ABI.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
}

// libquartier_ffi.so for each ABI, into build/generated/uniffi/jniLibs/<abi>/.
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = workspace
    val profile = if (cargoProfile == "release") listOf("--release") else emptyList()
    commandLine(
        listOf("cargo", "ndk", "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
            "-o", jniLibsDir.path, "build") + profile + listOf("-p", "quartier-ffi", "--lib"),
    )
}

// The Kotlin bindings. They are generated from a host build of the library, not from the Android ones:
// the release profile strips symbols, and with them the metadata uniffi-bindgen reads (the bindings are
// the same for every target).
val hostTarget: File = System.getenv("CARGO_TARGET_DIR")?.let(::File) ?: File(workspace, "target")

val hostLibrary by tasks.registering(Exec::class) {
    workingDir = workspace
    commandLine("cargo", "build", "-p", "quartier-ffi", "--features", "cli", "--lib", "--bin", "uniffi-bindgen")
}

val uniffiBindings by tasks.registering(Exec::class) {
    dependsOn(cargoNdk, hostLibrary)
    workingDir = workspace
    commandLine(
        File(hostTarget, "debug/uniffi-bindgen").path,
        "generate", "--config", "uniffi.toml", "--language", "kotlin", "--out-dir", kotlinDir.path,
        File(hostTarget, "debug/" + System.mapLibraryName("quartier_ffi")).path,
    )
}

tasks.named("preBuild") { dependsOn(uniffiBindings) }
