//! The workspace's `uniffi-bindgen`: generates the Kotlin and Swift bindings from the built library.
//!
//! ```sh
//! cargo run -p quartier-ffi --features cli --bin uniffi-bindgen -- generate --config uniffi.toml \
//!     --language kotlin --out-dir android/target/generated-sources/uniffi target/debug/libquartier_ffi.so
//! ```

fn main() {
    uniffi::uniffi_bindgen_main()
}
