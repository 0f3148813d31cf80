//! Files the server sends: the demo editor compiled into the binary, and
//! pages and vendor files read from directories that tests choose.
//!
//! Directory files are resolved only below their root. A path with an empty,
//! `.` or `..` segment or a backslash is rejected before it touches the file
//! system. The resolved file must also lie under the canonical root, so a
//! symbolic link cannot lead out of it either.

use std::io;
use std::path::{Path, PathBuf};

/// The editor's page, served for `/` and for each flow's route, so a reload
/// on `/video` still shows the editor.
pub(crate) const INDEX_HTML: &str = include_str!("../app/index.html");
pub(crate) const EDITOR_JS: &str = include_str!("../app/editor.js");
pub(crate) const EDITOR_CSS: &str = include_str!("../app/editor.css");

/// Reason a file under a directory root could not be served.
#[derive(Debug)]
pub(crate) enum FileError {
    /// The request path has a segment that could leave the root.
    UnsafePath,
    NotFound,
    Io(io::Error),
}

/// Reads `relative` (a URL path below the root, already percent-decoded)
/// under `root`.
pub(crate) async fn read_under(root: &Path, relative: &str) -> Result<Vec<u8>, FileError> {
    let segments: Vec<&str> = relative.split('/').collect();
    let unsafe_segment = segments.iter().any(|segment| {
        segment.is_empty() || *segment == "." || *segment == ".." || segment.contains('\\')
    });
    if unsafe_segment {
        return Err(FileError::UnsafePath);
    }

    let root = match tokio::fs::canonicalize(root).await {
        Ok(root) => root,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(FileError::NotFound),
        Err(error) => return Err(FileError::Io(error)),
    };
    let joined: PathBuf = segments
        .iter()
        .fold(root.clone(), |path, segment| path.join(segment));
    let resolved = match tokio::fs::canonicalize(&joined).await {
        Ok(resolved) => resolved,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(FileError::NotFound),
        Err(error) => return Err(FileError::Io(error)),
    };
    if !resolved.starts_with(&root) {
        return Err(FileError::UnsafePath);
    }
    if !tokio::fs::metadata(&resolved)
        .await
        .map_err(FileError::Io)?
        .is_file()
    {
        return Err(FileError::NotFound);
    }
    tokio::fs::read(&resolved).await.map_err(FileError::Io)
}

/// Content type for a file name, by extension; unknown ones are sent as
/// bytes.
pub(crate) fn content_type_for(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a.HTML"), "text/html; charset=utf-8");
        assert_eq!(
            content_type_for("react.development.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }

    #[tokio::test]
    async fn read_under_rejects_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/page.html"), "<p>hi</p>").unwrap();

        let body = read_under(dir.path(), "sub/page.html").await.unwrap();
        assert_eq!(body, b"<p>hi</p>");

        for bad in [
            "../secret",
            "sub/../page.html",
            "sub//page.html",
            "sub\\page.html",
            ".",
        ] {
            assert!(
                matches!(
                    read_under(dir.path(), bad).await,
                    Err(FileError::UnsafePath)
                ),
                "{bad} must be rejected"
            );
        }
        assert!(matches!(
            read_under(dir.path(), "sub").await,
            Err(FileError::NotFound)
        ));
        assert!(matches!(
            read_under(dir.path(), "missing.html").await,
            Err(FileError::NotFound)
        ));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn read_under_rejects_symlink_out_of_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "no").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            root.path().join("link.txt"),
        )
        .unwrap();
        assert!(matches!(
            read_under(root.path(), "link.txt").await,
            Err(FileError::UnsafePath)
        ));
    }
}
