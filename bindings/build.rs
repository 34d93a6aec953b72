//! Link settings of the mobile library.
//!
//! Its relative relocations are packed (a few bytes for a run of pointers instead of 24 bytes each),
//! as the Android NDK's clang already does by default for the API levels Quartier supports
//! (`--pack-dyn-relocs=android` from API 23): on Linux, where the library is measured
//! (`bench/run`) and where the Kotlin and Swift shells' tests load it, with the GNU linker's
//! `-z pack-relative-relocs` (binutils 2.38, loaded by glibc 2.36 and later). Some 300 KB of the
//! stripped x86_64 library. iOS links the static library into the app, which has its own format.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }
}
