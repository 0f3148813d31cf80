//! Checks that the UI was built, then runs tauri-build (which embeds
//! `ui/dist` through `tauri.conf.json`'s `build.frontendDist`).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=TAURI_CONFIG");
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    // A `TAURI_CONFIG` override may point `frontendDist` elsewhere; then the
    // override names its own front end and tauri-build checks it.
    let overridden = std::env::var_os("TAURI_CONFIG").is_some_and(|config| !config.is_empty());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let index = Path::new(&manifest_dir).join("../ui/dist/index.html");
    if !overridden && !index.is_file() {
        eprintln!(
            "error: the UI is not built: {} is missing; run scripts/build-ui.sh first",
            index.display()
        );
        std::process::exit(1);
    }
    tauri_build::build()
}
