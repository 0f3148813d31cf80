//! The `leakscope-desktop` binary; everything is in the library.

// Reason: a release build on Windows opens no console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    leakscope_desktop::run();
}
