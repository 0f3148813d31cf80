//! Live state of the page as the agent reports it: which timers, in-flight
//! requests and AbortControllers exist right now, where the code created them,
//! and per-endpoint request counts.
//!
//! [`LiveState`] ingests [`Record`]s in order (live from the session, or read
//! back from a recording, through the same code) and returns
//! [`LiveCounts`], per-site and per-endpoint tables. Its memory is bounded by
//! what is live plus one aggregate per creation site and per endpoint (at most
//! [`MAX_ENDPOINTS`]), never by the length of the recording.
//!
//! Ids: the agent's ids are per document, so the session's decoder makes them
//! unique across documents. Timer and controller ids carry the document index
//! in their high 32 bits ([`object_id`]), request ids are `"<document>.<n>"`
//! ([`request_id`]). A new top-level document retires every older document:
//! their timers and requests died with them.

use std::collections::HashMap;

use crate::record::{
    LiveCounts, NavigationKind, NetworkEvent, Record, RecordBody, RequestApi, RequestOutcome,
    RequestStarted, Site, TimerKind,
};

/// Distinct endpoints tracked one by one; later ones share the
/// [`OTHER_ENDPOINT`] row. Pages that put ids in the path (`/items/17`) would
/// otherwise grow the table without bound.
pub const MAX_ENDPOINTS: usize = 500;

/// Path of the shared row for endpoints past [`MAX_ENDPOINTS`].
pub const OTHER_ENDPOINT: &str = "(other endpoints)";

/// How long (seconds) a top-level document's injection may precede the
/// `Navigation` record of the same load. The agent reports from the new
/// document while the session may still be handling `Page.frameNavigated`.
const INJECTION_BEFORE_NAVIGATION_S: f64 = 2.0;

/// How far apart (seconds) an agent request and a Network-domain request may
/// start and still be joined as the same request.
const NETWORK_JOIN_WINDOW_S: f64 = 2.0;

/// Query parameter names whose values never leave the page: a name containing
/// one of these (case-insensitive) has its value replaced by `REDACTED`.
pub const SECRET_QUERY_NAMES: [&str; 8] = [
    "token",
    "key",
    "secret",
    "passw",
    "auth",
    "session",
    "signature",
    "code",
];

/// Builds the recording id of a timer or controller from the session's
/// document index and the page's own id.
pub fn object_id(document: u32, page_id: u32) -> u64 {
    (u64::from(document) << 32) | u64::from(page_id)
}

/// Returns the document index a timer or controller id belongs to.
pub fn document_of(id: u64) -> u32 {
    (id >> 32) as u32
}

/// Builds the recording id of a request: `"<document>.<page id>"`.
pub fn request_id(document: u32, page_id: u64) -> String {
    format!("{document}.{page_id}")
}

/// Returns the document index a request id belongs to, when it has the
/// `"<document>.<n>"` form.
pub fn document_of_request(id: &str) -> Option<u32> {
    id.split_once('.')
        .and_then(|(document, _)| document.parse().ok())
}

/// Replaces the values of secret-looking query parameters by `REDACTED` and
/// drops `user:password@` credentials, leaving the rest of the URL unchanged.
pub fn redact_url(url: &str) -> String {
    let mut text = url.to_owned();
    if let Some(scheme_end) = text.find("://").map(|index| index + 3) {
        let rest = &text[scheme_end..];
        let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_len].rfind('@') {
            text = format!("{}{}", &text[..scheme_end], &rest[at + 1..]);
        }
    }
    let Some(query_start) = text.find('?') else {
        return text;
    };
    let query_end = text[query_start..]
        .find('#')
        .map_or(text.len(), |index| query_start + index);
    let parts: Vec<String> = text[query_start + 1..query_end]
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}=REDACTED"),
            _ => part.to_owned(),
        })
        .collect();
    format!(
        "{}{}{}",
        &text[..=query_start],
        parts.join("&"),
        &text[query_end..]
    )
}

fn is_secret_name(name: &str) -> bool {
    let decoded = percent_decode(&name.replace('+', " ")).to_ascii_lowercase();
    SECRET_QUERY_NAMES
        .iter()
        .any(|secret| decoded.contains(secret))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

/// The endpoint of a request: method and path, without query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    pub method: String,
    pub path: String,
}

impl EndpointKey {
    /// Builds the key of `method url`; a URL that does not parse keeps its
    /// text up to the query.
    pub fn of(method: &str, url: &str) -> EndpointKey {
        let path = match url::Url::parse(url) {
            Ok(parsed) => parsed.path().to_owned(),
            Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
        };
        EndpointKey {
            method: method.to_ascii_uppercase(),
            path,
        }
    }

    fn other() -> EndpointKey {
        EndpointKey {
            method: String::new(),
            path: OTHER_ENDPOINT.to_owned(),
        }
    }
}

/// Kind of object a creation site created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteKind {
    Timeout,
    Interval,
    Request,
    Controller,
}

impl From<TimerKind> for SiteKind {
    fn from(kind: TimerKind) -> SiteKind {
        match kind {
            TimerKind::Timeout => SiteKind::Timeout,
            TimerKind::Interval => SiteKind::Interval,
        }
    }
}

/// Counts for one creation site and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteCounts {
    /// `None` when the agent found no frame outside itself.
    pub site: Option<u32>,
    pub kind: SiteKind,
    /// Live now: pending timers, requests in flight, uncollected controllers.
    pub live: u64,
    /// Created since the recording started.
    pub created: u64,
    /// Ended by the page: timers cleared, requests aborted, controllers aborted.
    pub cleared: u64,
    /// Delay of the last timer this site created, in milliseconds.
    pub delay_ms: Option<f64>,
}

/// Counts for one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointCounts {
    pub endpoint: EndpointKey,
    pub in_flight: u64,
    /// Age in seconds of the oldest request still in flight, at the time given
    /// to [`LiveState::endpoints`].
    pub oldest_in_flight_s: Option<f64>,
    pub started: u64,
    pub completed: u64,
    pub aborted: u64,
    pub failed: u64,
    /// Requests started with an already-aborted signal (never sent).
    pub started_aborted: u64,
}

/// Whether and how the agent runs in the current document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentStatus {
    /// The agent reported from at least one document.
    pub injected: bool,
    /// The current top-level document was already running when the agent
    /// arrived: what it created before then is invisible, and a reload counts
    /// from the start.
    pub late: bool,
    pub url: String,
    /// Session index of the current top-level document.
    pub document: Option<u32>,
}

/// Agent requests compared with what the Network domain saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCheck {
    /// Network-domain requests started and not yet finished or failed.
    pub network_in_flight: u64,
    /// Agent requests in flight that no Network request was joined to:
    /// queued in the browser (six connections per HTTP/1.1 host) or not yet sent.
    pub agent_only_in_flight: u64,
    /// Agent requests joined to a Network request since the start.
    pub joined: u64,
    /// Agent requests that ended without ever reaching the network (for
    /// example started with an aborted signal).
    pub never_sent: u64,
}

/// A timer the page holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTimer {
    pub kind: TimerKind,
    pub delay_ms: f64,
    pub site: Option<u32>,
    /// Recording time of creation, seconds.
    pub created_t: f64,
    pub parent: Option<u64>,
}

/// A request in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRequest {
    pub api: RequestApi,
    pub endpoint: EndpointKey,
    pub url: String,
    pub site: Option<u32>,
    pub started_t: f64,
    pub controller: Option<u64>,
    pub timer: Option<u64>,
    pub signal_aborted: bool,
    /// The Network-domain request joined to this one.
    pub network_id: Option<String>,
}

/// An AbortController (or tracked AbortSignal) that was not collected yet.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveController {
    pub site: Option<u32>,
    /// `None` for an `AbortController`, `timeout` / `any` for an AbortSignal static.
    pub api: Option<String>,
    pub aborted: bool,
    pub created_t: f64,
}

#[derive(Debug, Clone)]
struct NetworkRequest {
    method: String,
    url: String,
    sent_t: f64,
    agent_request: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct EndpointTotals {
    started: u64,
    completed: u64,
    aborted: u64,
    failed: u64,
    started_aborted: u64,
}

/// Live view built from records; see the module documentation.
#[derive(Debug, Default)]
pub struct LiveState {
    timers: HashMap<u64, LiveTimer>,
    requests: HashMap<String, LiveRequest>,
    controllers: HashMap<u64, LiveController>,
    sites: HashMap<u32, Site>,
    site_counts: HashMap<(Option<u32>, SiteKind), SiteCounts>,
    endpoints: HashMap<EndpointKey, EndpointTotals>,
    network: HashMap<String, NetworkRequest>,
    network_check: NetworkCheck,
    totals: LiveCounts,
    agent: AgentStatus,
    /// Documents below this index are gone (replaced by a newer top-level document).
    retired_below: u32,
    /// Recording time at which the current top-level document reported in.
    top_injected_t: Option<f64>,
}

impl LiveState {
    pub fn new() -> LiveState {
        LiveState::default()
    }

    /// Applies one record. Records must come in recording order.
    pub fn ingest(&mut self, record: &Record) {
        let t = record.t;
        match &record.body {
            RecordBody::Navigation { navigation, .. } => self.on_navigation(*navigation, t),
            RecordBody::AgentInjected {
                url,
                late,
                document,
                top,
            } => self.on_injected(url, *late, *document, top.unwrap_or(true), t),
            RecordBody::Site(site) => {
                self.sites.insert(site.id, site.clone());
            }
            RecordBody::TimerCreated {
                id,
                timer,
                delay_ms,
                site,
                parent,
                ..
            } => {
                if self.is_retired(document_of(*id)) || self.timers.contains_key(id) {
                    return;
                }
                let timer = LiveTimer {
                    kind: *timer,
                    delay_ms: *delay_ms,
                    site: *site,
                    created_t: t,
                    parent: *parent,
                };
                self.totals.timers_created += 1;
                let counts = self.site_entry(*site, timer.kind.into());
                counts.live += 1;
                counts.created += 1;
                counts.delay_ms = Some(*delay_ms);
                self.timers.insert(*id, timer);
            }
            RecordBody::TimerCleared { id, .. } => {
                if let Some(timer) = self.timers.remove(id) {
                    self.totals.timers_cleared += 1;
                    let counts = self.site_entry(timer.site, timer.kind.into());
                    counts.live = counts.live.saturating_sub(1);
                    counts.cleared += 1;
                }
            }
            // Only one-shot timers report firing; an interval stays live.
            RecordBody::TimerFired { id, .. }
                if self
                    .timers
                    .get(id)
                    .is_some_and(|timer| timer.kind == TimerKind::Timeout) =>
            {
                if let Some(timer) = self.timers.remove(id) {
                    let counts = self.site_entry(timer.site, timer.kind.into());
                    counts.live = counts.live.saturating_sub(1);
                }
            }
            RecordBody::RequestStarted(started) => self.on_request_started(started, t),
            RecordBody::RequestEnded(ended) => self.on_request_ended(&ended.id, &ended.outcome),
            RecordBody::ControllerCreated { id, site, api, .. } => {
                if self.is_retired(document_of(*id)) || self.controllers.contains_key(id) {
                    return;
                }
                if api.is_none() {
                    let counts = self.site_entry(*site, SiteKind::Controller);
                    counts.live += 1;
                    counts.created += 1;
                }
                self.controllers.insert(
                    *id,
                    LiveController {
                        site: *site,
                        api: api.clone(),
                        aborted: false,
                        created_t: t,
                    },
                );
            }
            RecordBody::ControllerAborted { id, .. } => {
                let Some(controller) = self.controllers.get_mut(id) else {
                    return;
                };
                if controller.aborted {
                    return;
                }
                controller.aborted = true;
                if controller.api.is_none() {
                    let site = controller.site;
                    self.totals.controllers_aborted += 1;
                    self.site_entry(site, SiteKind::Controller).cleared += 1;
                }
            }
            RecordBody::ControllerCollected { id, .. } => {
                if let Some(controller) = self.controllers.remove(id) {
                    if controller.api.is_none() {
                        let counts = self.site_entry(controller.site, SiteKind::Controller);
                        counts.live = counts.live.saturating_sub(1);
                    }
                }
            }
            RecordBody::Network(event) => self.on_network(event, t),
            _ => {}
        }
    }

    /// Current counts. Timer and request totals run since the recording
    /// started; `controllers_aborted` counts AbortControllers aborted since then.
    pub fn counts(&self) -> LiveCounts {
        let mut counts = self.totals.clone();
        counts.timeouts_live = self
            .timers
            .values()
            .filter(|timer| timer.kind == TimerKind::Timeout)
            .count() as u64;
        counts.intervals_live = self.timers.len() as u64 - counts.timeouts_live;
        counts.timers_live = self.timers.len() as u64;
        counts.requests_in_flight = self.requests.len() as u64;
        counts.controllers_live = self
            .controllers
            .values()
            .filter(|controller| controller.api.is_none())
            .count() as u64;
        counts
    }

    /// Per-site counts, the most live first.
    pub fn sites(&self) -> Vec<SiteCounts> {
        let mut rows: Vec<SiteCounts> = self.site_counts.values().cloned().collect();
        rows.sort_by(|a, b| {
            b.live
                .cmp(&a.live)
                .then(b.created.cmp(&a.created))
                .then(a.site.cmp(&b.site))
        });
        rows
    }

    /// Returns the site table entry for a site id.
    pub fn site(&self, id: u32) -> Option<&Site> {
        self.sites.get(&id)
    }

    /// Per-endpoint counts, the most in flight first. `now` is the recording
    /// time (seconds) that in-flight ages are measured to.
    pub fn endpoints(&self, now: f64) -> Vec<EndpointCounts> {
        // A request's endpoint is already the shared row when the table was full.
        let mut in_flight: HashMap<&EndpointKey, (u64, f64)> = HashMap::new();
        for request in self.requests.values() {
            let entry = in_flight
                .entry(&request.endpoint)
                .or_insert((0, f64::INFINITY));
            entry.0 += 1;
            entry.1 = entry.1.min(request.started_t);
        }
        let mut rows: Vec<EndpointCounts> = self
            .endpoints
            .iter()
            .map(|(endpoint, totals)| {
                let (count, oldest) = in_flight
                    .get(endpoint)
                    .copied()
                    .unwrap_or((0, f64::INFINITY));
                EndpointCounts {
                    endpoint: endpoint.clone(),
                    in_flight: count,
                    oldest_in_flight_s: (count > 0).then(|| (now - oldest).max(0.0)),
                    started: totals.started,
                    completed: totals.completed,
                    aborted: totals.aborted,
                    failed: totals.failed,
                    started_aborted: totals.started_aborted,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.in_flight
                .cmp(&a.in_flight)
                .then(a.endpoint.cmp(&b.endpoint))
        });
        rows
    }

    /// Returns the row of one endpoint, if it was seen.
    pub fn endpoint(&self, method: &str, path: &str, now: f64) -> Option<EndpointCounts> {
        let key = EndpointKey {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
        };
        self.endpoints(now)
            .into_iter()
            .find(|row| row.endpoint == key)
    }

    pub fn agent(&self) -> &AgentStatus {
        &self.agent
    }

    pub fn network_check(&self) -> NetworkCheck {
        let mut check = self.network_check.clone();
        check.network_in_flight = self.network.len() as u64;
        check.agent_only_in_flight = self
            .requests
            .values()
            .filter(|request| request.network_id.is_none())
            .count() as u64;
        check
    }

    /// Live timers by recording id.
    pub fn timers(&self) -> impl Iterator<Item = (&u64, &LiveTimer)> {
        self.timers.iter()
    }

    /// Requests in flight by recording id.
    pub fn requests(&self) -> impl Iterator<Item = (&String, &LiveRequest)> {
        self.requests.iter()
    }

    /// Controllers and tracked signals not collected yet, by recording id.
    pub fn controllers(&self) -> impl Iterator<Item = (&u64, &LiveController)> {
        self.controllers.iter()
    }

    fn site_entry(&mut self, site: Option<u32>, kind: SiteKind) -> &mut SiteCounts {
        self.site_counts.entry((site, kind)).or_insert(SiteCounts {
            site,
            kind,
            live: 0,
            created: 0,
            cleared: 0,
            delay_ms: None,
        })
    }

    fn is_retired(&self, document: u32) -> bool {
        document != 0 && document < self.retired_below
    }

    fn on_injected(&mut self, url: &str, late: bool, document: Option<u32>, top: bool, t: f64) {
        self.agent.injected = true;
        if !top {
            return;
        }
        self.agent.late = late;
        self.agent.url = url.to_owned();
        self.agent.document = document;
        self.top_injected_t = Some(t);
        if let Some(document) = document {
            // A new top-level document replaced the old one and its iframes.
            self.retire_below(document);
        }
    }

    fn on_navigation(&mut self, navigation: NavigationKind, t: f64) {
        if navigation == NavigationKind::SameDocument {
            return;
        }
        // The new document's agent may have reported just before this record;
        // keep it. Otherwise everything live belonged to the old document.
        let current = self.agent.document.unwrap_or(0);
        let recent = self
            .top_injected_t
            .is_some_and(|injected| t - injected <= INJECTION_BEFORE_NAVIGATION_S);
        if recent && current > 0 {
            self.retire_below(current);
        } else {
            // Every document seen so far is gone; the next one is new.
            let next = self.newest_document().map_or(0, |newest| newest + 1);
            self.retire_below(next);
            self.agent.late = false;
        }
    }

    /// Returns the highest document index seen in an injection or a live object.
    fn newest_document(&self) -> Option<u32> {
        let timers = self.timers.keys().map(|id| document_of(*id));
        let controllers = self.controllers.keys().map(|id| document_of(*id));
        let requests = self
            .requests
            .keys()
            .filter_map(|id| document_of_request(id));
        timers
            .chain(controllers)
            .chain(requests)
            .chain(self.agent.document)
            .max()
    }

    fn retire_below(&mut self, document: u32) {
        if document <= self.retired_below {
            return;
        }
        self.retired_below = document;
        let retired: Vec<u64> = self
            .timers
            .keys()
            .copied()
            .filter(|id| document_of(*id) < document)
            .collect();
        for id in retired {
            if let Some(timer) = self.timers.remove(&id) {
                let counts = self.site_entry(timer.site, timer.kind.into());
                counts.live = counts.live.saturating_sub(1);
            }
        }
        let retired: Vec<String> = self
            .requests
            .keys()
            .filter(|id| document_of_request(id).is_some_and(|owner| owner < document))
            .cloned()
            .collect();
        for id in retired {
            if let Some(request) = self.requests.remove(&id) {
                let counts = self.site_entry(request.site, SiteKind::Request);
                counts.live = counts.live.saturating_sub(1);
            }
        }
        let retired: Vec<u64> = self
            .controllers
            .keys()
            .copied()
            .filter(|id| document_of(*id) < document)
            .collect();
        for id in retired {
            if let Some(controller) = self.controllers.remove(&id) {
                if controller.api.is_none() {
                    let counts = self.site_entry(controller.site, SiteKind::Controller);
                    counts.live = counts.live.saturating_sub(1);
                }
            }
        }
        // Network requests of the old document are cancelled by the browser
        // and end with their own loadingFailed; nothing to do for them here.
    }

    fn endpoint_totals(&mut self, key: &EndpointKey) -> (&mut EndpointTotals, EndpointKey) {
        let key = if self.endpoints.contains_key(key) || self.endpoints.len() < MAX_ENDPOINTS {
            key.clone()
        } else {
            EndpointKey::other()
        };
        (self.endpoints.entry(key.clone()).or_default(), key)
    }

    fn on_request_started(&mut self, started: &RequestStarted, t: f64) {
        let document = document_of_request(&started.id).unwrap_or(0);
        if self.is_retired(document) || self.requests.contains_key(&started.id) {
            return;
        }
        let key = EndpointKey::of(&started.method, &started.url);
        let (totals, key) = self.endpoint_totals(&key);
        totals.started += 1;
        if started.signal_aborted {
            totals.started_aborted += 1;
        }
        let counts = self.site_entry(started.site, SiteKind::Request);
        counts.live += 1;
        counts.created += 1;
        let network_id = if started.signal_aborted {
            None
        } else {
            self.join_to_network(&started.method, &started.url, t, &started.id)
        };
        self.requests.insert(
            started.id.clone(),
            LiveRequest {
                api: started.api,
                endpoint: key,
                url: started.url.clone(),
                site: started.site,
                started_t: t,
                controller: started.controller,
                timer: started.timer,
                signal_aborted: started.signal_aborted,
                network_id,
            },
        );
    }

    fn on_request_ended(&mut self, id: &str, outcome: &RequestOutcome) {
        let Some(request) = self.requests.remove(id) else {
            return;
        };
        if request.network_id.is_none()
            && (request.signal_aborted || matches!(outcome, RequestOutcome::Aborted))
        {
            self.network_check.never_sent += 1;
        }
        let (totals, _) = self.endpoint_totals(&request.endpoint);
        match outcome {
            RequestOutcome::Completed { .. } => totals.completed += 1,
            RequestOutcome::Aborted => totals.aborted += 1,
            RequestOutcome::Failed { .. } => totals.failed += 1,
        }
        match outcome {
            RequestOutcome::Completed { .. } => self.totals.requests_completed += 1,
            RequestOutcome::Aborted => self.totals.requests_aborted += 1,
            RequestOutcome::Failed { .. } => self.totals.requests_failed += 1,
        }
        let counts = self.site_entry(request.site, SiteKind::Request);
        counts.live = counts.live.saturating_sub(1);
        if matches!(outcome, RequestOutcome::Aborted) {
            counts.cleared += 1;
        }
    }

    /// Joins an agent request to the earliest unjoined Network request with
    /// the same method and URL sent within [`NETWORK_JOIN_WINDOW_S`].
    fn join_to_network(
        &mut self,
        method: &str,
        url: &str,
        t: f64,
        agent_id: &str,
    ) -> Option<String> {
        let candidate = self
            .network
            .iter()
            .filter(|(_, sent)| {
                sent.agent_request.is_none()
                    && sent.method.eq_ignore_ascii_case(method)
                    && sent.url == url
                    && (sent.sent_t - t).abs() <= NETWORK_JOIN_WINDOW_S
            })
            .min_by(|a, b| a.1.sent_t.total_cmp(&b.1.sent_t).then_with(|| a.0.cmp(b.0)))
            .map(|(id, _)| id.clone())?;
        if let Some(sent) = self.network.get_mut(&candidate) {
            sent.agent_request = Some(agent_id.to_owned());
        }
        self.network_check.joined += 1;
        Some(candidate)
    }

    fn on_network(&mut self, event: &NetworkEvent, t: f64) {
        match event {
            NetworkEvent::Sent {
                request_id,
                method,
                url,
            } => {
                if self.network.contains_key(request_id) {
                    // A redirect reuses the request id.
                    return;
                }
                // Join to the oldest unjoined agent request with this method and URL.
                let agent_request = self
                    .requests
                    .iter()
                    .filter(|(_, request)| {
                        request.network_id.is_none()
                            && !request.signal_aborted
                            && request.endpoint.method.eq_ignore_ascii_case(method)
                            && &request.url == url
                            && (request.started_t - t).abs() <= NETWORK_JOIN_WINDOW_S
                    })
                    .min_by(|a, b| {
                        // Ties go to the lower id, so the join does not depend
                        // on the map's iteration order.
                        a.1.started_t
                            .total_cmp(&b.1.started_t)
                            .then_with(|| (a.0.len(), a.0).cmp(&(b.0.len(), b.0)))
                    })
                    .map(|(id, _)| id.clone());
                if let Some(agent_id) = &agent_request {
                    if let Some(request) = self.requests.get_mut(agent_id) {
                        request.network_id = Some(request_id.clone());
                    }
                    self.network_check.joined += 1;
                }
                self.network.insert(
                    request_id.clone(),
                    NetworkRequest {
                        method: method.clone(),
                        url: url.clone(),
                        sent_t: t,
                        agent_request,
                    },
                );
            }
            NetworkEvent::Response { .. } => {}
            NetworkEvent::Finished { request_id } | NetworkEvent::Failed { request_id, .. } => {
                self.network.remove(request_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{PollSignal, RequestEnded};

    fn at(t: f64, body: RecordBody) -> Record {
        Record { t, body }
    }

    fn injected(t: f64, document: u32) -> Record {
        at(
            t,
            RecordBody::AgentInjected {
                url: "http://127.0.0.1/".into(),
                late: false,
                document: Some(document),
                top: Some(true),
            },
        )
    }

    fn timer(t: f64, document: u32, id: u32, kind: TimerKind, site: u32) -> Record {
        at(
            t,
            RecordBody::TimerCreated {
                id: object_id(document, id),
                timer: kind,
                delay_ms: 1000.0,
                site: Some(site),
                parent: None,
                page_ms: 0.0,
            },
        )
    }

    fn request(t: f64, document: u32, id: u64, url: &str, signal_aborted: bool) -> Record {
        at(
            t,
            RecordBody::RequestStarted(RequestStarted {
                id: request_id(document, id),
                api: RequestApi::Fetch,
                method: "GET".into(),
                url: url.into(),
                site: Some(9),
                controller: None,
                signal_aborted,
                timer: None,
                body_fields: BTreeMap::new(),
                page_ms: 0.0,
            }),
        )
    }

    fn ended(t: f64, document: u32, id: u64, outcome: RequestOutcome) -> Record {
        at(
            t,
            RecordBody::RequestEnded(RequestEnded {
                id: request_id(document, id),
                outcome,
                response_fields: BTreeMap::new(),
                page_ms: 0.0,
            }),
        )
    }

    fn state(records: &[Record]) -> LiveState {
        let mut state = LiveState::new();
        for record in records {
            state.ingest(record);
        }
        state
    }

    const STATUS: &str = "http://127.0.0.1:8080/api/video/status?operationName=op-1";

    /// A navigation before any injection (the tab was still loading at
    /// attach, or its first load failed) must not retire the documents that
    /// come after it.
    #[test]
    fn navigation_before_injection_keeps_later_documents() {
        let navigation = |t: f64| {
            at(
                t,
                RecordBody::Navigation {
                    url: "http://127.0.0.1/".into(),
                    navigation: NavigationKind::Full,
                },
            )
        };
        let state = state(&[
            navigation(0.1),
            injected(0.1, 1),
            navigation(3.0),
            injected(3.1, 2),
            timer(3.2, 2, 1, TimerKind::Interval, 1),
            timer(3.2, 2, 2, TimerKind::Timeout, 2),
        ]);
        assert_eq!(state.counts().timers_live, 2);
        assert_eq!(state.counts().intervals_live, 1);
    }

    #[test]
    fn timers_counted_by_kind() {
        let state = state(&[
            injected(0.0, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            timer(0.1, 1, 2, TimerKind::Interval, 1),
            timer(0.1, 1, 3, TimerKind::Interval, 2),
            timer(0.1, 1, 4, TimerKind::Timeout, 3),
            timer(0.1, 1, 5, TimerKind::Timeout, 3),
            at(
                0.2,
                RecordBody::TimerCleared {
                    id: object_id(1, 1),
                    site: None,
                    page_ms: 0.0,
                },
            ),
            at(
                0.3,
                RecordBody::TimerFired {
                    id: object_id(1, 4),
                    page_ms: 0.0,
                },
            ),
        ]);
        let counts = state.counts();
        assert_eq!(counts.timers_live, 3);
        assert_eq!(counts.intervals_live, 2);
        assert_eq!(counts.timeouts_live, 1);
        assert_eq!(counts.timers_created, 5);
        assert_eq!(counts.timers_cleared, 1);
    }

    #[test]
    fn interval_fired_stays_live() {
        let state = state(&[
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            at(
                1.1,
                RecordBody::TimerFired {
                    id: object_id(1, 1),
                    page_ms: 0.0,
                },
            ),
        ]);
        assert_eq!(state.counts().intervals_live, 1);
    }

    #[test]
    fn duplicate_created_ignored() {
        let state = state(&[
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
        ]);
        assert_eq!(state.counts().timers_created, 1);
        assert_eq!(state.sites()[0].live, 1);
    }

    #[test]
    fn clear_of_unknown_timer_ignored() {
        let state = state(&[at(
            0.2,
            RecordBody::TimerCleared {
                id: object_id(1, 77),
                site: None,
                page_ms: 0.0,
            },
        )]);
        assert_eq!(state.counts().timers_cleared, 0);
    }

    #[test]
    fn sites_group_live_timers() {
        let state = state(&[
            timer(0.1, 1, 1, TimerKind::Interval, 4),
            timer(0.1, 1, 2, TimerKind::Interval, 4),
            timer(0.1, 1, 3, TimerKind::Timeout, 5),
            at(
                0.2,
                RecordBody::TimerCleared {
                    id: object_id(1, 3),
                    site: None,
                    page_ms: 0.0,
                },
            ),
        ]);
        let sites = state.sites();
        assert_eq!(sites[0].site, Some(4));
        assert_eq!(sites[0].kind, SiteKind::Interval);
        assert_eq!(sites[0].live, 2);
        assert_eq!(sites[1].site, Some(5));
        assert_eq!(sites[1].live, 0);
        assert_eq!(sites[1].cleared, 1);
        assert_eq!(sites[1].delay_ms, Some(1000.0));
    }

    #[test]
    fn request_outcomes_each_counted_once() {
        let state = state(&[
            request(1.0, 1, 1, STATUS, false),
            request(1.0, 1, 2, STATUS, false),
            request(1.0, 1, 3, STATUS, true),
            request(1.0, 1, 4, STATUS, false),
            request(1.0, 1, 5, STATUS, false),
            ended(1.5, 1, 1, RequestOutcome::Completed { status: 200 }),
            ended(1.5, 1, 2, RequestOutcome::Aborted),
            ended(1.5, 1, 3, RequestOutcome::Aborted),
            ended(
                1.5,
                1,
                4,
                RequestOutcome::Failed {
                    error: "TypeError: Failed to fetch".into(),
                },
            ),
            ended(
                1.6,
                1,
                4,
                RequestOutcome::Failed {
                    error: "again".into(),
                },
            ),
        ]);
        let counts = state.counts();
        assert_eq!(counts.requests_in_flight, 1);
        assert_eq!(counts.requests_completed, 1);
        assert_eq!(counts.requests_aborted, 2);
        assert_eq!(counts.requests_failed, 1);
        let row = state.endpoint("GET", "/api/video/status", 3.0).unwrap();
        assert_eq!(row.in_flight, 1);
        assert_eq!(row.started, 5);
        assert_eq!(row.started_aborted, 1);
        assert_eq!(row.oldest_in_flight_s, Some(2.0));
        assert_eq!(state.network_check().never_sent, 2);
    }

    #[test]
    fn endpoint_oldest_age_uses_earliest_start() {
        let state = state(&[
            request(1.0, 1, 1, STATUS, false),
            request(4.0, 1, 2, STATUS, false),
        ]);
        let row = state.endpoint("get", "/api/video/status", 31.0).unwrap();
        assert_eq!(row.in_flight, 2);
        assert_eq!(row.oldest_in_flight_s, Some(30.0));
    }

    #[test]
    fn endpoint_table_is_bounded() {
        let records: Vec<Record> = (0..(MAX_ENDPOINTS as u64 + 20))
            .map(|n| request(1.0, 1, n + 1, &format!("http://127.0.0.1/items/{n}"), false))
            .collect();
        let state = state(&records);
        let rows = state.endpoints(2.0);
        assert_eq!(rows.len(), MAX_ENDPOINTS + 1);
        let other = rows
            .iter()
            .find(|row| row.endpoint.path == OTHER_ENDPOINT)
            .unwrap();
        assert_eq!(other.in_flight, 20);
    }

    #[test]
    fn new_top_document_retires_old() {
        let state = state(&[
            injected(0.0, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            request(0.2, 1, 1, STATUS, false),
            at(
                0.2,
                RecordBody::ControllerCreated {
                    id: object_id(1, 1),
                    site: None,
                    api: None,
                    page_ms: 0.0,
                },
            ),
            injected(5.0, 2),
            at(
                5.0,
                RecordBody::Navigation {
                    url: "http://127.0.0.1/".into(),
                    navigation: NavigationKind::Reload,
                },
            ),
            timer(5.1, 2, 1, TimerKind::Interval, 1),
            // A late event of the old document is ignored.
            timer(5.2, 1, 2, TimerKind::Interval, 1),
        ]);
        let counts = state.counts();
        assert_eq!(counts.timers_live, 1);
        assert_eq!(counts.requests_in_flight, 0);
        assert_eq!(counts.controllers_live, 0);
        assert_eq!(
            state
                .sites()
                .iter()
                .find(|row| row.kind == SiteKind::Interval)
                .unwrap()
                .live,
            1
        );
    }

    #[test]
    fn navigation_without_agent_clears_all() {
        let state = state(&[
            injected(0.0, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            at(
                9.0,
                RecordBody::Navigation {
                    url: "http://127.0.0.1/".into(),
                    navigation: NavigationKind::Full,
                },
            ),
        ]);
        assert_eq!(state.counts().timers_live, 0);
    }

    #[test]
    fn same_document_navigation_keeps_timers() {
        let state = state(&[
            injected(0.0, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            at(
                9.0,
                RecordBody::Navigation {
                    url: "http://127.0.0.1/home".into(),
                    navigation: NavigationKind::SameDocument,
                },
            ),
        ]);
        assert_eq!(state.counts().timers_live, 1);
    }

    #[test]
    fn iframe_injection_keeps_top_document() {
        let state = state(&[
            injected(0.0, 1),
            timer(0.1, 1, 1, TimerKind::Interval, 1),
            at(
                0.5,
                RecordBody::AgentInjected {
                    url: "http://127.0.0.1/frame".into(),
                    late: false,
                    document: Some(2),
                    top: Some(false),
                },
            ),
        ]);
        assert_eq!(state.counts().timers_live, 1);
        assert_eq!(state.agent().document, Some(1));
    }

    #[test]
    fn late_injection_reported() {
        let state = state(&[at(
            0.0,
            RecordBody::AgentInjected {
                url: "http://127.0.0.1/".into(),
                late: true,
                document: Some(1),
                top: Some(true),
            },
        )]);
        assert!(state.agent().injected);
        assert!(state.agent().late);
    }

    #[test]
    fn controllers_live_and_aborted() {
        let created = |id, api: Option<&str>| {
            at(
                0.1,
                RecordBody::ControllerCreated {
                    id: object_id(1, id),
                    site: Some(2),
                    api: api.map(Into::into),
                    page_ms: 0.0,
                },
            )
        };
        let state = state(&[
            created(1, None),
            created(2, None),
            created(3, Some("timeout")),
            at(
                1.0,
                RecordBody::ControllerAborted {
                    id: object_id(1, 1),
                    site: None,
                    page_ms: 0.0,
                },
            ),
            at(
                1.1,
                RecordBody::ControllerAborted {
                    id: object_id(1, 1),
                    site: None,
                    page_ms: 0.0,
                },
            ),
            at(
                1.2,
                RecordBody::ControllerAborted {
                    id: object_id(1, 3),
                    site: None,
                    page_ms: 0.0,
                },
            ),
            at(
                2.0,
                RecordBody::ControllerCollected {
                    id: object_id(1, 2),
                    page_ms: 0.0,
                },
            ),
        ]);
        let counts = state.counts();
        assert_eq!(counts.controllers_live, 1);
        assert_eq!(counts.controllers_aborted, 1);
    }

    #[test]
    fn network_joined_to_agent_request() {
        let sent = |t, id: &str| {
            at(
                t,
                RecordBody::Network(NetworkEvent::Sent {
                    request_id: id.into(),
                    method: "GET".into(),
                    url: STATUS.into(),
                }),
            )
        };
        let state = state(&[
            request(1.0, 1, 1, STATUS, false),
            request(1.0, 1, 2, STATUS, false),
            sent(1.01, "n1"),
            at(
                1.5,
                RecordBody::Network(NetworkEvent::Finished {
                    request_id: "n1".into(),
                }),
            ),
            ended(1.5, 1, 1, RequestOutcome::Completed { status: 200 }),
        ]);
        let check = state.network_check();
        assert_eq!(check.joined, 1);
        assert_eq!(check.network_in_flight, 0);
        assert_eq!(check.agent_only_in_flight, 1);
    }

    #[test]
    fn network_join_respects_window() {
        let state = state(&[
            at(
                1.0,
                RecordBody::Network(NetworkEvent::Sent {
                    request_id: "n1".into(),
                    method: "GET".into(),
                    url: STATUS.into(),
                }),
            ),
            request(9.0, 1, 1, STATUS, false),
        ]);
        assert_eq!(state.network_check().joined, 0);
    }

    #[test]
    fn poll_signals_do_not_change_counts() {
        let signal = PollSignal {
            signal: crate::record::PollSignalKind::Start,
            operation: "op-1".into(),
            poll_type: None,
            reason: None,
            source: "api".into(),
            attempts: None,
            age_ms: None,
        };
        let state = state(&[at(0.0, RecordBody::PollSignal(signal))]);
        assert_eq!(state.counts(), LiveCounts::default());
    }

    #[test]
    fn ids_carry_document() {
        assert_eq!(document_of(object_id(7, 12)), 7);
        assert_eq!(object_id(7, 12) & 0xffff_ffff, 12);
        assert_eq!(document_of_request(&request_id(3, 44)), Some(3));
        assert_eq!(document_of_request("n1"), None);
    }

    #[test]
    fn redact_secret_query_values() {
        assert_eq!(
            redact_url("https://a.test/x?operationName=op-1&token=abc&apiKey=k&x=1#frag"),
            "https://a.test/x?operationName=op-1&token=REDACTED&apiKey=REDACTED&x=1#frag"
        );
        assert_eq!(
            redact_url("https://u:p@a.test/x?session_id=s"),
            "https://a.test/x?session_id=REDACTED"
        );
        assert_eq!(
            redact_url("https://a.test/x?auth%5Ftoken=1&code"),
            "https://a.test/x?auth%5Ftoken=REDACTED&code"
        );
        assert_eq!(redact_url("https://a.test/path"), "https://a.test/path");
    }

    #[test]
    fn endpoint_key_drops_query() {
        let key = EndpointKey::of("get", STATUS);
        assert_eq!(key.method, "GET");
        assert_eq!(key.path, "/api/video/status");
        assert_eq!(EndpointKey::of("GET", "not a url?x=1").path, "not a url");
    }
}
