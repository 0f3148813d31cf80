//! Maps a request to the poll it belongs to: a configured status endpoint and
//! the operation id inside the URL path, query or JSON body, or, for URLs no
//! endpoint covers, the method and full URL.

use std::collections::BTreeMap;

use crate::config::{EndpointConfig, FieldMatch};
use crate::record::RequestStarted;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: any one segment.
    Any,
    /// `{id}`: any one segment, which is the operation id.
    Id,
}

#[derive(Debug, Clone)]
struct CompiledEndpoint {
    segments: Vec<Segment>,
    config: EndpointConfig,
}

/// The lifecycle key of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PollKey {
    /// Unique per lifecycle key: endpoint and operation.
    pub key: String,
    /// Index into the configured endpoints, `None` for an unconfigured URL.
    pub endpoint: Option<usize>,
    /// The path pattern, or `METHOD /path` for an unconfigured URL.
    pub endpoint_label: String,
    /// The operation id, or the path and query when there is none.
    pub operation: String,
    pub poll_type: String,
}

/// The URL parts the matcher reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Path and query as written, without scheme, host or fragment.
    pub path_and_query: String,
    /// Scheme, host and port followed by the path: the endpoint of the rules.
    pub endpoint: String,
}

/// Splits a request URL. Relative or unparsable URLs are split by hand so a
/// request is never dropped for its URL.
pub(crate) fn url_parts(raw: &str) -> UrlParts {
    if let Ok(url) = url::Url::parse(raw) {
        let path = url.path().to_owned();
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let path_and_query = match url.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        let endpoint = match url.host_str() {
            Some(host) => match url.port() {
                Some(port) => format!("{}://{host}:{port}{path}", url.scheme()),
                None => format!("{}://{host}{path}", url.scheme()),
            },
            None => path.clone(),
        };
        return UrlParts {
            path,
            query,
            path_and_query,
            endpoint,
        };
    }
    let without_fragment = raw.split('#').next().unwrap_or(raw);
    let (path, query_text) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let query = url::form_urlencoded::parse(query_text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    UrlParts {
        path: path.to_owned(),
        query,
        path_and_query: without_fragment.to_owned(),
        endpoint: path.to_owned(),
    }
}

/// Returns the path of a page URL, the route a lifecycle starts on.
pub(crate) fn route_of(page_url: &str) -> String {
    url_parts(page_url).path
}

/// Configured endpoints, ready to match.
#[derive(Debug, Clone)]
pub(crate) struct EndpointMatcher {
    endpoints: Vec<CompiledEndpoint>,
}

impl EndpointMatcher {
    pub fn new(endpoints: &[EndpointConfig]) -> Self {
        let endpoints = endpoints
            .iter()
            .map(|config| CompiledEndpoint {
                segments: compile(&config.path),
                config: config.clone(),
            })
            .collect();
        EndpointMatcher { endpoints }
    }

    pub fn endpoint(&self, index: usize) -> Option<&EndpointConfig> {
        self.endpoints.get(index).map(|endpoint| &endpoint.config)
    }

    /// Finds the lifecycle key of a request.
    pub fn key_of(&self, request: &RequestStarted) -> PollKey {
        let url = url_parts(&request.url);
        let path_segments = split_path(&url.path);
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let Some(path_id) = match_segments(&endpoint.segments, &path_segments) else {
                continue;
            };
            let operation = path_id
                .or_else(|| {
                    let name = endpoint.config.id_query.as_ref()?;
                    url.query
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                })
                .or_else(|| {
                    request
                        .body_fields
                        .get(endpoint.config.id_body_field.as_ref()?)
                        .cloned()
                });
            let (operation, key) = match operation {
                Some(operation) => {
                    let key = format!("{index}\u{0}{operation}");
                    (operation, key)
                }
                // NOTE: without an id every distinct URL is its own lifecycle.
                None => (
                    url.path_and_query.clone(),
                    format!("{index}\u{0}url\u{0}{}", url.path_and_query),
                ),
            };
            return PollKey {
                key,
                endpoint: Some(index),
                endpoint_label: endpoint.config.path.clone(),
                operation,
                poll_type: endpoint.config.poll_type.clone(),
            };
        }

        let method = request.method.to_ascii_uppercase();
        let body = body_key(&request.body_fields);
        PollKey {
            key: format!(
                "generic\u{0}{method} {}\u{0}{body}",
                url.endpoint_with_query()
            ),
            endpoint: None,
            endpoint_label: format!("{method} {}", url.path),
            operation: url.path_and_query.clone(),
            poll_type: GENERIC_POLL_TYPE.to_owned(),
        }
    }
}

impl UrlParts {
    fn endpoint_with_query(&self) -> String {
        match self.path_and_query.split_once('?') {
            Some((_, query)) => format!("{}?{query}", self.endpoint),
            None => self.endpoint.clone(),
        }
    }
}

/// Poll type of lifecycles found by cadence on an unconfigured URL.
pub const GENERIC_POLL_TYPE: &str = "generic";

/// Body fields in a stable order, so equal bodies give equal keys.
fn body_key(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn split_path(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .collect()
}

fn compile(pattern: &str) -> Vec<Segment> {
    split_path(pattern)
        .into_iter()
        .map(|segment| match segment {
            "*" => Segment::Any,
            "{id}" => Segment::Id,
            literal => Segment::Literal(literal.to_owned()),
        })
        .collect()
}

/// Matches path segments against a pattern. Returns `None` when they do not
/// match, else the `{id}` segment when the pattern has one.
fn match_segments(pattern: &[Segment], path: &[&str]) -> Option<Option<String>> {
    if pattern.len() != path.len() {
        return None;
    }
    let mut id = None;
    for (wanted, actual) in pattern.iter().zip(path) {
        match wanted {
            Segment::Literal(literal) if literal != actual => return None,
            Segment::Literal(_) | Segment::Any => {}
            Segment::Id => id = Some((*actual).to_owned()),
        }
    }
    Some(id)
}

/// Done and failed markers used for unconfigured URLs: the same fields and
/// values as the editor's status endpoints.
pub(crate) fn generic_markers() -> (Vec<FieldMatch>, Vec<FieldMatch>) {
    let done = vec![
        FieldMatch {
            field: "status".to_owned(),
            values: ["complete", "completed", "succeeded"]
                .map(str::to_owned)
                .to_vec(),
        },
        FieldMatch {
            field: "done".to_owned(),
            values: vec!["true".to_owned()],
        },
    ];
    let failed = vec![FieldMatch {
        field: "status".to_owned(),
        values: vec!["failed".to_owned(), "error".to_owned()],
    }];
    (done, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::record::RequestApi;

    fn request(method: &str, url: &str, body: &[(&str, &str)]) -> RequestStarted {
        RequestStarted {
            id: "r1".to_owned(),
            api: RequestApi::Fetch,
            method: method.to_owned(),
            url: url.to_owned(),
            site: None,
            controller: None,
            signal_aborted: false,
            timer: None,
            body_fields: body
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            page_ms: 0.0,
        }
    }

    fn default_matcher() -> EndpointMatcher {
        EndpointMatcher::new(&Config::default().endpoints)
    }

    #[test]
    fn query_id_on_default_endpoint() {
        let key = default_matcher().key_of(&request(
            "GET",
            "http://127.0.0.1:8080/api/video/status?operationName=op-17",
            &[],
        ));
        assert_eq!(key.operation, "op-17");
        assert_eq!(key.poll_type, "video");
        assert_eq!(key.endpoint, Some(0));
    }

    #[test]
    fn body_id_for_post() {
        let key = default_matcher().key_of(&request(
            "POST",
            "http://h/api/audio/suno/status",
            &[("operationName", "s-1")],
        ));
        assert_eq!(key.operation, "s-1");
        assert_eq!(key.poll_type, "audio-suno");
    }

    #[test]
    fn get_and_post_share_a_lifecycle() {
        let matcher = default_matcher();
        let get = matcher.key_of(&request(
            "GET",
            "http://h/api/video/status?operationName=x",
            &[],
        ));
        let post = matcher.key_of(&request(
            "POST",
            "http://h/api/video/status",
            &[("operationName", "x")],
        ));
        assert_eq!(get.key, post.key);
    }

    #[test]
    fn path_id_segment() {
        let mut endpoint = Config::default().endpoints[0].clone();
        endpoint.path = "/api/jobs/{id}/status".to_owned();
        endpoint.id_query = None;
        let matcher = EndpointMatcher::new(&[endpoint]);
        let key = matcher.key_of(&request("GET", "http://h/api/jobs/j-9/status", &[]));
        assert_eq!(key.operation, "j-9");
        assert_eq!(key.endpoint, Some(0));
        let other = matcher.key_of(&request("GET", "http://h/api/jobs/j-9/log", &[]));
        assert_eq!(other.endpoint, None);
    }

    #[test]
    fn unconfigured_url_keys_by_full_url() {
        let matcher = default_matcher();
        let a = matcher.key_of(&request("GET", "http://h/api/credits?workspace=1", &[]));
        let b = matcher.key_of(&request("GET", "http://h/api/credits?workspace=2", &[]));
        assert_ne!(a.key, b.key);
        assert_eq!(a.endpoint_label, "GET /api/credits");
        assert_eq!(a.poll_type, GENERIC_POLL_TYPE);
    }

    #[test]
    fn relative_url_is_split() {
        let parts = url_parts("/api/video/status?operationName=a#frag");
        assert_eq!(parts.path, "/api/video/status");
        assert_eq!(
            parts.query,
            vec![("operationName".to_owned(), "a".to_owned())]
        );
    }
}
