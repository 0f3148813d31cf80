//! Where the browser's debugging websocket is, and how to find it.
//!
//! Three sources are accepted: a port with the `/json/version` HTTP endpoint
//! (`--remote-debugging-port`), a `DevToolsActivePort` file (or the profile
//! directory holding it: Chrome 144+ with remote debugging allowed at
//! chrome://inspect serves only the browser websocket, and every `/json*` path
//! answers 404), and a `ws://` URL. Only loopback hosts are accepted unless the
//! caller allows remote ones, because a debugging port gives full control of
//! the browser. Every network step has a deadline of [`DISCOVERY_TIMEOUT`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// Port Chrome's documentation uses for remote debugging, used when none is given.
pub const DEFAULT_PORT: u16 = 9222;

/// How long discovery waits for a browser to answer (TCP connect, HTTP reply,
/// websocket handshake). A local browser answers in milliseconds; 3 s keeps a
/// wrong address from looking like a hang.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest `/json/version` reply read, in bytes. Chrome's is under 1 KiB.
const MAX_VERSION_REPLY: usize = 64 * 1024;

/// Name of the file Chrome writes into its profile directory when remote
/// debugging is on: line 1 is the port, line 2 the browser websocket path.
pub const ACTIVE_PORT_FILE: &str = "DevToolsActivePort";

/// How to remedy "nothing answers", shared by several errors. `{port}` is
/// replaced by the port the user gave when the message is shown
/// ([`with_port`]).
const REMEDIES: &str =
    "start Chrome with --remote-debugging-port={port} and its own --user-data-dir \
(Chrome 136+ ignores the port on the default profile), or on Chrome 144+ allow remote debugging at \
chrome://inspect/#remote-debugging and pass --profile with the profile directory, or let Leakscope \
launch a browser with `leakscope demo`";

/// Fills the `{port}` of `remedies` with the port of `address` (`host:port`),
/// or with [`DEFAULT_PORT`] when there is no address or it has no port.
fn with_port(remedies: &str, address: Option<&String>) -> String {
    let port = address
        .and_then(|address| address.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .unwrap_or(DEFAULT_PORT);
    remedies.replace("{port}", &port.to_string())
}

/// A place to find the browser's debugging websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A host and port serving `/json/version`.
    Port { host: String, port: u16 },
    /// A `DevToolsActivePort` file, or a profile directory containing one.
    ActivePortFile(PathBuf),
    /// The browser websocket itself (`ws://127.0.0.1:9222/devtools/browser/<id>`).
    WebSocket(Url),
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::Port {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Port { host, port } => write!(f, "http://{host}:{port}"),
            Endpoint::ActivePortFile(path) => write!(f, "{}", path.display()),
            Endpoint::WebSocket(url) => write!(f, "{url}"),
        }
    }
}

impl Endpoint {
    /// A port on 127.0.0.1.
    pub fn local_port(port: u16) -> Self {
        Endpoint::Port {
            host: "127.0.0.1".to_owned(),
            port,
        }
    }

    /// Parses a `ws://` or `wss://` URL.
    pub fn websocket(text: &str) -> Result<Self, ConnectError> {
        let url = Url::parse(text).map_err(|error| ConnectError::InvalidUrl {
            url: text.to_owned(),
            message: error.to_string(),
        })?;
        if url.scheme() != "ws" && url.scheme() != "wss" {
            return Err(ConnectError::InvalidUrl {
                url: text.to_owned(),
                message: "the scheme must be ws:// or wss://".to_owned(),
            });
        }
        if url.host_str().is_none() {
            return Err(ConnectError::InvalidUrl {
                url: text.to_owned(),
                message: "it has no host".to_owned(),
            });
        }
        Ok(Endpoint::WebSocket(url))
    }
}

/// Options for connecting to a browser.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Accept a host that is not loopback. Off by default: a debugging port
    /// controls the whole browser, so reaching one across a network is a choice.
    pub allow_remote: bool,
    /// Deadline of each discovery step.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            allow_remote: false,
            timeout: DISCOVERY_TIMEOUT,
        }
    }
}

/// Why the browser could not be found or reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "nothing is listening on {address}: {}",
        with_port(remedies, Some(address))
    )]
    NothingListening {
        address: String,
        remedies: &'static str,
    },
    #[error(
        "{address} did not answer within {timeout:?}: check the address, or {}",
        with_port(remedies, Some(address))
    )]
    NoAnswer {
        address: String,
        timeout: Duration,
        remedies: &'static str,
    },
    #[error(
        "{address} answered, but it is not a Chrome DevTools endpoint ({detail}); check the port"
    )]
    NotCdp { address: String, detail: String },
    #[error(
        "{address} has no /json/version endpoint (HTTP 404), as with Chrome 144+ remote debugging \
         allowed at chrome://inspect: pass --profile with the browser's profile directory (it holds \
         DevToolsActivePort) or --ws with the browser websocket URL"
    )]
    NoJsonEndpoint { address: String },
    #[error("{path} does not exist: {}", with_port(remedies, None))]
    ActivePortMissing {
        path: PathBuf,
        remedies: &'static str,
    },
    #[error("failed to read {path}: {source}")]
    ActivePortRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid DevToolsActivePort file ({message}): line 1 must be the port and line 2 \
         the /devtools/browser/<id> path; restart the browser to rewrite it"
    )]
    ActivePortMalformed { path: PathBuf, message: String },
    #[error("invalid websocket URL {url:?}: {message}")]
    InvalidUrl { url: String, message: String },
    #[error(
        "{host} is not a loopback address: a debugging port gives full control of the browser, so \
         pass --allow-remote if you really mean to connect to another machine"
    )]
    RemoteNotAllowed { host: String },
    #[error("websocket handshake with {url} failed: {message}")]
    Handshake { url: String, message: String },
    #[error("the browser at {url} did not answer Target.getTargets: {source}")]
    NotABrowser {
        url: String,
        source: crate::session::SessionError,
    },
}

/// Returns true for `localhost`, 127.0.0.0/8 and ::1.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Checks the loopback rule for `host`, logging a warning when a remote host is allowed.
pub fn check_host(host: &str, options: &ConnectOptions) -> Result<(), ConnectError> {
    if is_loopback_host(host) {
        return Ok(());
    }
    if !options.allow_remote {
        return Err(ConnectError::RemoteNotAllowed {
            host: host.to_owned(),
        });
    }
    tracing::warn!(
        host,
        "connecting to a debugging endpoint that is not loopback; it controls the whole browser"
    );
    Ok(())
}

/// Finds the browser websocket URL of `endpoint`.
pub async fn resolve(endpoint: &Endpoint, options: &ConnectOptions) -> Result<Url, ConnectError> {
    let url = match endpoint {
        Endpoint::WebSocket(url) => url.clone(),
        Endpoint::ActivePortFile(path) => {
            let (port, browser_path) = read_active_port(path)?;
            let text = format!("ws://127.0.0.1:{port}{browser_path}");
            Url::parse(&text).map_err(|error| ConnectError::ActivePortMalformed {
                path: path.clone(),
                message: format!("it gives the invalid URL {text}: {error}"),
            })?
        }
        Endpoint::Port { host, port } => {
            check_host(host, options)?;
            fetch_version_ws_url(host, *port, options.timeout).await?
        }
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    check_host(&host, options)?;
    Ok(url)
}

/// Reads a `DevToolsActivePort` file, or the one inside a profile directory.
/// Returns the port and the browser websocket path.
pub fn read_active_port(path: &Path) -> Result<(u16, String), ConnectError> {
    let file = if path.is_dir() {
        path.join(ACTIVE_PORT_FILE)
    } else {
        path.to_owned()
    };
    if !file.exists() {
        return Err(ConnectError::ActivePortMissing {
            path: file,
            remedies: REMEDIES,
        });
    }
    let text = std::fs::read_to_string(&file).map_err(|source| ConnectError::ActivePortRead {
        path: file.clone(),
        source,
    })?;
    parse_active_port(&text).map_err(|message| ConnectError::ActivePortMalformed {
        path: file,
        message,
    })
}

/// Parses the text of a `DevToolsActivePort` file.
pub fn parse_active_port(text: &str) -> Result<(u16, String), String> {
    let mut lines = text.lines();
    let port_line = lines.next().map(str::trim).unwrap_or_default();
    if port_line.is_empty() {
        return Err("it is empty".to_owned());
    }
    let port: u16 = port_line
        .parse()
        .map_err(|_| format!("line 1 {port_line:?} is not a port number"))?;
    if port == 0 {
        return Err("line 1 is port 0".to_owned());
    }
    let path = lines.next().map(str::trim).unwrap_or_default();
    if !path.starts_with("/devtools/browser/") || path.len() == "/devtools/browser/".len() {
        return Err(format!(
            "line 2 {path:?} is not a /devtools/browser/<id> path"
        ));
    }
    Ok((port, path.to_owned()))
}

/// Asks `http://host:port/json/version` for the browser websocket URL.
async fn fetch_version_ws_url(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Url, ConnectError> {
    let address = format!("{host}:{port}");
    let (status, body) = http_get(&address, "/json/version", timeout).await?;
    if status == 404 {
        return Err(ConnectError::NoJsonEndpoint { address });
    }
    if status != 200 {
        return Err(ConnectError::NotCdp {
            address,
            detail: format!("/json/version answered HTTP {status}"),
        });
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|error| ConnectError::NotCdp {
            address: address.clone(),
            detail: format!("/json/version is not JSON: {error}"),
        })?;
    let Some(ws) = json
        .get("webSocketDebuggerUrl")
        .and_then(|value| value.as_str())
    else {
        return Err(ConnectError::NotCdp {
            address,
            detail: "/json/version has no webSocketDebuggerUrl".to_owned(),
        });
    };
    Url::parse(ws).map_err(|error| ConnectError::NotCdp {
        address,
        detail: format!("/json/version gives the invalid websocket URL {ws:?}: {error}"),
    })
}

/// A minimal HTTP/1.1 GET: Chrome's DevTools HTTP server needs nothing more,
/// and it keeps an HTTP client library out of the core. Returns status and body.
async fn http_get(
    address: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ConnectError> {
    let no_answer = || ConnectError::NoAnswer {
        address: address.to_owned(),
        timeout,
        remedies: REMEDIES,
    };
    let mut stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Err(_) => return Err(no_answer()),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(ConnectError::NothingListening {
                address: address.to_owned(),
                remedies: REMEDIES,
            })
        }
        Ok(Err(error)) => {
            return Err(ConnectError::NotCdp {
                address: address.to_owned(),
                detail: format!("connect failed: {error}"),
            })
        }
        Ok(Ok(stream)) => stream,
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        read_http_reply(&mut stream).await
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => return Err(no_answer()),
        Ok(Err(error)) => {
            return Err(ConnectError::NotCdp {
                address: address.to_owned(),
                detail: format!("reading the reply failed: {error}"),
            })
        }
        Ok(Ok(reply)) => reply,
    };
    parse_http_reply(&reply).map_err(|detail| ConnectError::NotCdp {
        address: address.to_owned(),
        detail,
    })
}

/// Reads until the server closes or the body announced by `Content-Length` is complete.
async fn read_http_reply(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(reply);
        }
        reply.extend_from_slice(&buffer[..read]);
        if reply.len() > MAX_VERSION_REPLY {
            return Ok(reply);
        }
        if let Some((head_len, content_length)) = head_and_length(&reply) {
            if reply.len() >= head_len + content_length {
                return Ok(reply);
            }
        }
    }
}

/// Returns the header length (with the blank line) and the `Content-Length`, once both are known.
fn head_and_length(reply: &[u8]) -> Option<(usize, usize)> {
    let head_end = reply.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&reply[..head_end]);
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    })?;
    Some((head_end, length))
}

/// Splits an HTTP reply into status and body.
fn parse_http_reply(reply: &[u8]) -> Result<(u16, Vec<u8>), String> {
    if reply.is_empty() {
        return Err("it closed the connection without a reply".to_owned());
    }
    if !reply.starts_with(b"HTTP/1.") {
        return Err("it does not speak HTTP".to_owned());
    }
    let line_end = reply
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(reply.len());
    let status_line = String::from_utf8_lossy(&reply[..line_end]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("invalid HTTP status line {:?}", status_line.trim()))?;
    let body = match reply.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(index) => reply[index + 4..].to_vec(),
        None => Vec::new(),
    };
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_port_parses_port_and_path() {
        let parsed = parse_active_port("9333\n/devtools/browser/abc-123\n").unwrap();
        assert_eq!(parsed, (9333, "/devtools/browser/abc-123".to_owned()));
    }

    #[test]
    fn active_port_rejects_bad_files() {
        assert!(parse_active_port("").is_err());
        assert!(parse_active_port("port\n/devtools/browser/x")
            .unwrap_err()
            .contains("\"port\""));
        assert!(parse_active_port("0\n/devtools/browser/x").is_err());
        assert!(parse_active_port("70000\n/devtools/browser/x").is_err());
        assert!(parse_active_port("9222\n").unwrap_err().contains("line 2"));
        assert!(parse_active_port("9222\n/devtools/page/x").is_err());
        assert!(parse_active_port("9222\n/devtools/browser/").is_err());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.3.2.1"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("192.168.1.5"));
        assert!(!is_loopback_host("example.invalid"));
    }

    #[test]
    fn remote_needs_the_flag() {
        let strict = ConnectOptions::default();
        assert!(matches!(
            check_host("10.0.0.2", &strict),
            Err(ConnectError::RemoteNotAllowed { .. })
        ));
        let relaxed = ConnectOptions {
            allow_remote: true,
            ..ConnectOptions::default()
        };
        assert!(check_host("10.0.0.2", &relaxed).is_ok());
    }

    #[test]
    fn websocket_url_is_checked() {
        assert!(Endpoint::websocket("ws://127.0.0.1:9222/devtools/browser/x").is_ok());
        assert!(matches!(
            Endpoint::websocket("http://127.0.0.1:9222"),
            Err(ConnectError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Endpoint::websocket("not a url"),
            Err(ConnectError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn http_reply_parsing() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_http_reply(reply).unwrap(), (200, b"{}".to_vec()));
        assert_eq!(head_and_length(reply), Some((38, 2)));
        assert!(parse_http_reply(b"SSH-2.0-OpenSSH\r\n")
            .unwrap_err()
            .contains("HTTP"));
        assert!(parse_http_reply(b"").is_err());
        assert_eq!(
            parse_http_reply(b"HTTP/1.1 404 Not Found\r\n\r\n")
                .unwrap()
                .0,
            404
        );
    }

    #[tokio::test]
    async fn closed_port_names_address_and_remedy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = resolve(&Endpoint::local_port(port), &ConnectOptions::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ConnectError::NothingListening { .. }),
            "{message}"
        );
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(
            message.contains(&format!("--remote-debugging-port={port} ")),
            "the remedy names the port that was given: {message}"
        );
        assert!(message.contains("--user-data-dir"), "{message}");
    }

    #[tokio::test]
    async fn missing_profile_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = resolve(
            &Endpoint::ActivePortFile(dir.path().to_owned()),
            &ConnectOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ConnectError::ActivePortMissing { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(ACTIVE_PORT_FILE), "{error}");
    }

    #[tokio::test]
    async fn malformed_profile_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACTIVE_PORT_FILE), "garbage\n").unwrap();
        let error = resolve(
            &Endpoint::ActivePortFile(dir.path().to_owned()),
            &ConnectOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ConnectError::ActivePortMalformed { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("garbage"), "{error}");
    }
}
