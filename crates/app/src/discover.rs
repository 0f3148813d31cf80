//! Finding debuggable browsers for the Connect view: a port on 127.0.0.1
//! (9222 by default), the `DevToolsActivePort` files in the usual Chrome and
//! Chromium profile folders (Chrome 144+ "allow remote debugging" serves no
//! `/json` endpoints, only the websocket the file names), and the browsers
//! the app launched itself. Each browser found is listed with its page tabs.
//!
//! When none is found, `hints` lists the steps that make Chrome debuggable
//! on this operating system.

use std::path::{Path, PathBuf};
use std::time::Duration;

use leakscope_core::endpoint::{ACTIVE_PORT_FILE, DEFAULT_PORT};
use leakscope_core::{Browser, BrowserConnection, ConnectError, ConnectOptions, Endpoint};
use serde::Serialize;

/// Deadline of each discovery step. A local browser replies within
/// milliseconds, and a short deadline keeps a stale port from stalling the view.
pub const DISCOVERY_STEP: Duration = Duration::from_millis(1500);

/// Origin of a browser entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Port,
    File,
    Launched,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TabEntry {
    pub id: String,
    pub title: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favicon_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserEntry {
    /// `http://127.0.0.1:PORT`; `attach` takes it back.
    pub endpoint: String,
    pub source: Source,
    /// `port 9222`, or the `DevToolsActivePort` path, or the launched profile.
    pub source_detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub tabs: Vec<TabEntry>,
    /// Reason the browser could not be listed (a stale `DevToolsActivePort` file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub browsers: Vec<BrowserEntry>,
    pub hints: Vec<String>,
}

/// A browser to probe: how to reach it and how to label it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub endpoint: Endpoint,
    pub source: Source,
    pub source_detail: String,
}

/// Returns the candidates probed by default: port 9222 and every `DevToolsActivePort`
/// file in the known profile folders under `home`.
pub fn default_candidates(home: Option<&Path>) -> Vec<Candidate> {
    let mut candidates = vec![Candidate {
        endpoint: Endpoint::local_port(DEFAULT_PORT),
        source: Source::Port,
        source_detail: format!("port {DEFAULT_PORT}"),
    }];
    for file in active_port_files(home) {
        candidates.push(Candidate {
            source_detail: file.display().to_string(),
            endpoint: Endpoint::ActivePortFile(file),
            source: Source::File,
        });
    }
    candidates
}

/// Profile folders of Chrome, Chromium, Edge and Brave, relative to the home
/// directory, per operating system.
fn profile_roots() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &[
            "Library/Application Support/Google/Chrome",
            "Library/Application Support/Google/Chrome Beta",
            "Library/Application Support/Google/Chrome Canary",
            "Library/Application Support/Chromium",
            "Library/Application Support/Microsoft Edge",
            "Library/Application Support/BraveSoftware/Brave-Browser",
        ]
    } else if cfg!(windows) {
        &[
            "AppData/Local/Google/Chrome/User Data",
            "AppData/Local/Google/Chrome Beta/User Data",
            "AppData/Local/Google/Chrome SxS/User Data",
            "AppData/Local/Chromium/User Data",
            "AppData/Local/Microsoft/Edge/User Data",
            "AppData/Local/BraveSoftware/Brave-Browser/User Data",
        ]
    } else {
        &[
            ".config/google-chrome",
            ".config/google-chrome-beta",
            ".config/google-chrome-unstable",
            ".config/chromium",
            ".config/microsoft-edge",
            ".config/BraveSoftware/Brave-Browser",
        ]
    }
}

fn active_port_files(home: Option<&Path>) -> Vec<PathBuf> {
    let Some(home) = home else {
        return Vec::new();
    };
    profile_roots()
        .iter()
        .map(|root| home.join(root).join(ACTIVE_PORT_FILE))
        .filter(|file| file.is_file())
        .collect()
}

/// Returns the steps that make Chrome debuggable here, one string per step.
pub fn hints() -> Vec<String> {
    let (quit, start) = if cfg!(target_os = "macos") {
        (
            "Quit Chrome completely (Cmd+Q).",
            "Start it from Terminal with its own profile: /Applications/Google\\ Chrome.app/Contents/MacOS/Google\\ Chrome --remote-debugging-port=9222 --user-data-dir=$HOME/.leakscope-chrome",
        )
    } else if cfg!(windows) {
        (
            "Close every Chrome window (check the tray icon too).",
            "Start it with its own profile: \"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --remote-debugging-port=9222 --user-data-dir=%LOCALAPPDATA%\\leakscope-chrome",
        )
    } else {
        (
            "Close every window of the browser you want to inspect.",
            "Start it with its own profile: google-chrome --remote-debugging-port=9222 --user-data-dir=$HOME/.leakscope-chrome (or chromium with the same flags).",
        )
    };
    vec![
        "No debuggable browser was found on 127.0.0.1:9222 or in the usual profile folders.".to_owned(),
        quit.to_owned(),
        start.to_owned(),
        "Chrome 136 and later ignore --remote-debugging-port on the default profile, which is why --user-data-dir is needed.".to_owned(),
        "On Chrome 144 and later you can instead allow remote debugging at chrome://inspect/#remote-debugging; Leakscope then finds the browser through its DevToolsActivePort file.".to_owned(),
        "Or press \"Launch Chrome for debugging\" to let Leakscope start a browser with its own profile.".to_owned(),
    ]
}

/// Connects to `endpoint` with the discovery deadline.
pub async fn connect(endpoint: &Endpoint) -> Result<BrowserConnection, ConnectError> {
    let options = ConnectOptions {
        timeout: DISCOVERY_STEP,
        ..ConnectOptions::default()
    };
    Browser::connect(endpoint, &options).await
}

/// Returns `http://127.0.0.1:PORT` of a connected browser.
pub fn http_endpoint(connection: &BrowserConnection) -> String {
    let url = connection.url();
    format!(
        "http://{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port_or_known_default().unwrap_or(DEFAULT_PORT)
    )
}

/// Lists the page tabs of a connected browser.
pub async fn list_browser(
    connection: &BrowserConnection,
    source: Source,
    source_detail: String,
) -> BrowserEntry {
    let endpoint = http_endpoint(connection);
    let product = connection
        .version()
        .await
        .ok()
        .map(|version| version.product);
    match connection.targets().await {
        Ok(targets) => BrowserEntry {
            endpoint,
            source,
            source_detail,
            product,
            tabs: targets
                .into_iter()
                .filter(|target| target.kind == "page")
                .map(|target| TabEntry {
                    id: target.id,
                    title: target.title,
                    url: target.url,
                    favicon_url: None,
                })
                .collect(),
            error: None,
        },
        Err(error) => BrowserEntry {
            endpoint,
            source,
            source_detail,
            product,
            tabs: Vec::new(),
            error: Some(format!("failed to list the tabs: {error}")),
        },
    }
}

/// Probes one candidate. Returns `None` when nothing listens on a default
/// port, which is the usual case and not an error. A file that names a dead
/// browser is listed with its error, so the user learns why it is not usable.
pub async fn probe(candidate: &Candidate) -> Option<(BrowserEntry, Option<BrowserConnection>)> {
    match connect(&candidate.endpoint).await {
        Ok(connection) => {
            let entry = list_browser(
                &connection,
                candidate.source,
                candidate.source_detail.clone(),
            )
            .await;
            Some((entry, Some(connection)))
        }
        Err(error) if candidate.source == Source::File => {
            let endpoint = match &candidate.endpoint {
                Endpoint::ActivePortFile(path) => leakscope_core::endpoint::read_active_port(path)
                    .map(|(port, _)| format!("http://127.0.0.1:{port}"))
                    .unwrap_or_else(|_| path.display().to_string()),
                other => other.to_string(),
            };
            Some((
                BrowserEntry {
                    endpoint,
                    source: candidate.source,
                    source_detail: candidate.source_detail.clone(),
                    product: None,
                    tabs: Vec::new(),
                    error: Some(error.to_string()),
                },
                None,
            ))
        }
        Err(error) => {
            tracing::debug!(endpoint = %candidate.endpoint, %error, "no browser at the candidate");
            None
        }
    }
}

/// Parses an endpoint the UI passes back: `http://127.0.0.1:PORT`, a
/// `ws://` URL, or the path of a `DevToolsActivePort` file or profile folder.
pub fn parse_endpoint(text: &str) -> Result<Endpoint, crate::error::AppError> {
    let bad = |why: &str| {
        crate::error::AppError::bad_input(format!(
            "invalid endpoint {text:?}: {why}; pass http://127.0.0.1:PORT as discover lists it"
        ))
    };
    if text.starts_with("ws://") || text.starts_with("wss://") {
        return Endpoint::websocket(text).map_err(|error| bad(&error.to_string()));
    }
    if let Some(rest) = text.strip_prefix("http://") {
        let address = rest.trim_end_matches('/');
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| bad("it has no port"))?;
        let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
        return Ok(Endpoint::Port {
            host: host.to_owned(),
            port,
        });
    }
    let path = Path::new(text);
    if path.is_absolute() {
        return Ok(Endpoint::ActivePortFile(path.to_owned()));
    }
    Err(bad(
        "it is neither an http:// nor a ws:// URL nor an absolute path",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_endpoint() {
        let endpoint = parse_endpoint("http://127.0.0.1:9333").unwrap();
        assert_eq!(endpoint, Endpoint::local_port(9333));
    }

    #[test]
    fn rejects_endpoint_without_port() {
        let error = parse_endpoint("http://127.0.0.1").unwrap_err();
        assert_eq!(error.code, crate::error::ErrorCode::BadInput);
        assert!(
            error.message.contains("http://127.0.0.1"),
            "{}",
            error.message
        );
    }

    #[test]
    fn finds_active_port_files_under_home() {
        let home = tempfile::tempdir().unwrap();
        let profile = home.path().join(profile_roots()[0]);
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::write(profile.join(ACTIVE_PORT_FILE), "1\n/devtools/browser/x\n").unwrap();
        let candidates = default_candidates(Some(home.path()));
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[1].source, Source::File);
    }

    #[test]
    fn hints_name_the_flags() {
        let hints = hints().join("\n");
        assert!(hints.contains("--remote-debugging-port=9222"));
        assert!(hints.contains("--user-data-dir"));
        assert!(hints.contains("chrome://inspect"));
    }

    /// A `DevToolsActivePort` file whose browser is gone is listed with an
    /// error rather than hidden.
    #[tokio::test]
    async fn stale_file_is_listed_with_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(ACTIVE_PORT_FILE);
        // Port 9 (discard) is not a browser; nothing listens there on a test machine.
        std::fs::write(&file, "9\n/devtools/browser/stale\n").unwrap();
        let candidate = Candidate {
            endpoint: Endpoint::ActivePortFile(file.clone()),
            source: Source::File,
            source_detail: file.display().to_string(),
        };
        let (entry, connection) = probe(&candidate).await.expect("listed");
        assert!(connection.is_none());
        assert_eq!(entry.endpoint, "http://127.0.0.1:9");
        assert!(entry.error.is_some());
    }
}
