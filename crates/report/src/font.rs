//! The bundled chart font.
//!
//! plotters is built with its `ab_glyph` text path and without font-kit, so it
//! never looks up system fonts: every machine draws the same glyphs and a PNG
//! chart is byte-for-byte the same everywhere. The font is DejaVu Sans (Bitstream
//! Vera licence, which allows redistribution; the notice is in
//! `fonts/LICENSE-DejaVu.txt`).

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// Font family name the charts ask plotters for.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process. Returns false
/// when the font data was rejected, which only a damaged build can cause.
pub fn ensure_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    })
}
