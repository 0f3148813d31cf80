//! Charts, bug-report bundles and `report.md`, above the data model.
//!
//! Everything here reads a [`leakscope_model::Recording`] (live, or read back
//! from a file or a bundle) and what the model's engine computed over it. It
//! turns them into what a person reads: the overview chart (SVG for the app,
//! PNG for bundles), a Chrome trace, a Markdown report, and the bundle that
//! packs them. Nothing here talks to a browser.

use std::io::Read;
use std::path::Path;

pub mod analysis;
pub mod bundle;
pub mod chart;
pub mod downsample;
mod font;
pub mod redact;
pub mod report;
pub mod trace;
pub mod view;

pub use analysis::analyze;
pub use bundle::{
    export_bundle, open_bundle, BundleError, BundleSummary, ExportOptions, ImportLimits,
    ImportedBundle, Manifest,
};
pub use chart::{render_png, render_svg, ChartError, ChartOptions};
pub use redact::Redactor;
pub use report::Report;
pub use view::{Analysis, Lane, LaneEnd, Overview, TrendLine, VerdictView};

/// Reads a recording file or a bundle, distinguished by the zip signature. A
/// bundle also returns its manifest.
pub fn read_input(
    path: &Path,
) -> Result<(leakscope_model::Recording, Option<Manifest>), BundleError> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    let read = file.read(&mut magic).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    if read == 4 && magic == *b"PK\x03\x04" {
        let bundle = open_bundle(path, &ImportLimits::default())?;
        return Ok((bundle.recording, Some(bundle.manifest)));
    }
    let named_zip = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("zip"));
    if named_zip {
        // Read as a recording, a damaged bundle would get a message about
        // JSON lines, which misleads.
        return Err(BundleError::InvalidZip {
            path: path.to_owned(),
            message: "it does not start with a zip signature".to_owned(),
        });
    }
    Ok((leakscope_model::RecordingReader::read_all(path)?, None))
}
