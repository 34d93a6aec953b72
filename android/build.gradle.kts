// The Android library of Quartier's Kotlin shell, for app developers: include this folder as a module
// of an Android project (settings.gradle.kts: include(":quartier"); project(":quartier").projectDir =
// file("<quartier>/android")), with the Android Gradle plugin and Kotlin declared at the project's root.
//
// It builds the Rust library for the four Android ABIs with android/build-native.sh (cargo-ndk, an NDK in
// ANDROID_NDK_HOME, the Rust targets: the script says what is missing and how to install it), which also
// generates the Kotlin bindings with the workspace's uniffi-bindgen; they are compiled with the
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

// libquartier_ffi.so for each ABI into build/generated/uniffi/jniLibs/<abi>/, and the Kotlin bindings into
// build/generated/uniffi/kotlin: build-native.sh does both (and says what is missing, if anything). The
// bindings are generated from an unstripped host build, not from the Android ones: the release profile
// strips symbols, and with them the metadata uniffi-bindgen reads (the bindings are the same for every
// target).
val nativeLibraries by tasks.registering(Exec::class) {
    workingDir = workspace
    val profile = if (cargoProfile == "release") emptyList() else listOf("--debug")
    commandLine(listOf("bash", "android/build-native.sh", "--out", jniLibsDir.path) + profile)
}

tasks.named("preBuild") { dependsOn(nativeLibraries) }
