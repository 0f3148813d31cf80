//! `report.md`: what a reviewer of a bug report reads first.
//!
//! [`Report`] gathers the facts (target, duration, verdict, alerts, poll
//! lifecycles, timer creation sites, endpoints, snapshots, losses) once, so the
//! Markdown and the `--json` output of `leakscope report` always agree. The
//! Markdown uses only headings, lists and pipe tables, which issue trackers
//! render as they are.

use std::collections::BTreeMap;
use std::path::Path;

use leakscope_model::{EndReason, Losses, RecordBody, Recording, RequestOutcome, TimerKind};
use serde::{Deserialize, Serialize};

use crate::chart::format_time;
use crate::view::{recording_duration, Analysis, LaneEnd, VerdictView};

/// How many timer creation sites and endpoints the report lists.
const TOP_ROWS: usize = 10;

/// Warning printed wherever snapshots are mentioned.
pub const SNAPSHOT_WARNING: &str =
    "A heap snapshot contains everything in the page's memory (user data, tokens, \
     message text), so bundles include snapshots only when asked with `--with-snapshots`.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub target_url: String,
    pub browser: String,
    /// Start of the recording, RFC 3339 in UTC.
    pub started_at: String,
    pub duration_s: f64,
    pub samples: u64,
    pub interval_ms: u64,
    /// End reason of the recording (`duration`, `stopped`, ...), `None` when it
    /// has no end record.
    pub end_reason: Option<String>,
    pub end_message: Option<String>,
    pub truncated_tail: bool,
    pub gaps: u64,
    pub verdict: Option<VerdictView>,
    pub alerts: Vec<AlertRow>,
    pub lifecycles: Vec<LifecycleRow>,
    pub timer_sites: Vec<TimerSiteRow>,
    pub endpoints: Vec<EndpointRow>,
    pub snapshots: Vec<SnapshotRow>,
    /// Classes that changed most between the first and the last good snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_diff: Option<SnapshotDiffView>,
    /// Reason there is no snapshot diff although snapshots were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_diff_note: Option<String>,
    pub losses: Losses,
}

/// The difference between two heap snapshots, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDiffView {
    pub before: String,
    pub after: String,
    pub before_nodes: u64,
    pub after_nodes: u64,
    /// Change of the summed self size, bytes.
    pub size_delta: i64,
    /// Largest size growth first, at most [`TOP_ROWS`].
    pub classes: Vec<ClassRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    pub name: String,
    pub added: u64,
    pub removed: u64,
    pub count_delta: i64,
    /// Bytes.
    pub size_delta: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub level: String,
    pub rule: String,
    pub subject: String,
    pub message: String,
    pub first_seen_s: f64,
    pub last_seen_s: f64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRow {
    pub operation: String,
    pub poll_type: Option<String>,
    pub endpoint: Option<String>,
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub ended: String,
    pub attempts: u64,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerSiteRow {
    pub site: String,
    pub created: u64,
    pub live_at_end: u64,
    pub intervals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRow {
    /// Origin and path, without the query.
    pub endpoint: String,
    pub requests: u64,
    pub completed: u64,
    pub failed: u64,
    pub aborted: u64,
    pub in_flight_at_end: u64,
    /// HTTP status codes of completed requests, with counts.
    pub statuses: BTreeMap<u16, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub t: f64,
    pub path: String,
    pub bytes: u64,
    pub status: String,
}

impl Report {
    /// Gathers the report of a (redacted) recording and its analysis.
    pub fn build(recording: &Recording, analysis: &Analysis) -> Report {
        let header = &recording.header;
        let mut samples = 0;
        let mut gaps = 0;
        let mut end = None;
        let mut losses = Losses::default();
        let mut snapshots = Vec::new();
        for record in &recording.records {
            match &record.body {
                RecordBody::Sample(_) => samples += 1,
                RecordBody::Gap { .. } => gaps += 1,
                RecordBody::End { reason, message } => end = Some((*reason, message.clone())),
                // Losses records carry running totals, so the last one counts.
                RecordBody::Losses(latest) => losses = latest.clone(),
                RecordBody::Snapshot(snapshot) => snapshots.push(SnapshotRow {
                    t: record.t,
                    path: snapshot.path.clone(),
                    bytes: snapshot.bytes,
                    status: snapshot.status.clone(),
                }),
                _ => {}
            }
        }
        let title = if header.target.title.is_empty() {
            header.target.url.clone()
        } else {
            header.target.title.clone()
        };
        let browser = if header.browser.revision.is_empty() {
            header.browser.product.clone()
        } else {
            format!("{} ({})", header.browser.product, header.browser.revision)
        };
        Report {
            title,
            target_url: header.target.url.clone(),
            browser,
            started_at: format_epoch_ms(header.started_at_ms),
            duration_s: recording_duration(recording),
            samples,
            interval_ms: header.settings.interval_ms,
            end_reason: end
                .as_ref()
                .map(|(reason, _): &(EndReason, String)| reason.as_str().to_owned()),
            end_message: end
                .map(|(_, message)| message)
                .filter(|message| !message.is_empty()),
            truncated_tail: recording.truncated_tail,
            gaps,
            verdict: analysis.verdict.clone(),
            alerts: alert_rows(analysis),
            lifecycles: lifecycle_rows(analysis, recording_duration(recording)),
            timer_sites: timer_site_rows(recording),
            endpoints: endpoint_rows(recording),
            snapshots,
            snapshot_diff: None,
            snapshot_diff_note: None,
            losses,
        }
    }

    /// Adds the diff of the first and the last good snapshot, read from files
    /// under `base_dir` (the recording's directory) with the heap parser.
    pub fn with_snapshot_diff(mut self, base_dir: Option<&Path>) -> Report {
        let good: Vec<&SnapshotRow> = self
            .snapshots
            .iter()
            .filter(|row| row.status == leakscope_model::SNAPSHOT_OK)
            .collect();
        let (Some(first), Some(last)) = (good.first(), good.last()) else {
            return self;
        };
        if good.len() < 2 {
            self.snapshot_diff_note = Some(
                "only one snapshot was taken; take two to see what grew between them".to_owned(),
            );
            return self;
        }
        let resolve = |path: &str| match base_dir {
            Some(base) if Path::new(path).is_relative() => base.join(path),
            _ => Path::new(path).to_owned(),
        };
        match leakscope_heap::diff_files(&resolve(&first.path), &resolve(&last.path)) {
            Ok(diff) => {
                let classes = diff
                    .classes
                    .iter()
                    .take(TOP_ROWS)
                    .map(|class| ClassRow {
                        name: class.name.clone(),
                        added: class.added,
                        removed: class.removed,
                        count_delta: class.count_delta,
                        size_delta: class.size_delta,
                    })
                    .collect();
                self.snapshot_diff = Some(SnapshotDiffView {
                    before: first.path.clone(),
                    after: last.path.clone(),
                    before_nodes: diff.before_nodes,
                    after_nodes: diff.after_nodes,
                    size_delta: diff.after_self_size as i64 - diff.before_self_size as i64,
                    classes,
                });
            }
            Err(error) => {
                self.snapshot_diff_note =
                    Some(format!("the snapshots could not be compared: {error}"))
            }
        }
        self
    }

    /// Renders the report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let when = |t: f64| format_time(t, self.duration_s);
        out += &format!("# Leakscope report: {}\n\n", escape(&self.title));
        out += "| | |\n|---|---|\n";
        out += &format!("| Target | {} |\n", escape(&self.target_url));
        out += &format!("| Browser | {} |\n", escape(&self.browser));
        out += &format!("| Started | {} |\n", self.started_at);
        out += &format!(
            "| Duration | {} ({} samples every {} ms{}) |\n",
            when(self.duration_s),
            self.samples,
            self.interval_ms,
            if self.gaps > 0 {
                format!(", {} missed", self.gaps)
            } else {
                String::new()
            }
        );
        let ended = match (&self.end_reason, &self.end_message) {
            (Some(reason), Some(message)) => format!("{reason}: {}", escape(message)),
            (Some(reason), None) => reason.clone(),
            (None, _) => {
                "no end record: the recorder stopped without closing the recording".to_owned()
            }
        };
        out += &format!("| Ended | {ended} |\n");
        if self.truncated_tail {
            out += "| Note | the last line of the recording was cut short and was dropped |\n";
        }

        out += "\n## Verdict\n\n";
        match &self.verdict {
            Some(verdict) => {
                out += &format!("**{}**\n\n", escape(&verdict.headline));
                for line in &verdict.evidence {
                    out += &format!("- {}\n", escape(line));
                }
                if let Some(trend) = &verdict.trend {
                    out += &format!(
                        "- Heap trend {:+.2} MB/min from {} to {}.\n",
                        trend.slope_mb_per_min,
                        when(trend.from_t),
                        when(trend.to_t)
                    );
                }
            }
            None => out += "No leak verdict was computed for this recording.\n",
        }

        out += &format!("\n## Alerts ({})\n\n", self.alerts.len());
        if self.alerts.is_empty() {
            out += "No alerts.\n";
        } else {
            out += "| Level | Rule | Subject | First seen | Last seen | Count | Message |\n|---|---|---|---|---|---:|---|\n";
            for alert in &self.alerts {
                out += &format!(
                    "| {} | `{}` | {} | {} | {} | {} | {} |\n",
                    alert.level,
                    escape(&alert.rule),
                    escape(&alert.subject),
                    when(alert.first_seen_s),
                    when(alert.last_seen_s),
                    alert.count,
                    escape(&alert.message)
                );
            }
        }

        out += &format!("\n## Poll lifecycles ({})\n\n", self.lifecycles.len());
        if self.lifecycles.is_empty() {
            out += "No poll lifecycles.\n";
        } else {
            out += "| Operation | Type | Endpoint | Start | End | Ended as | Attempts | Flags |\n|---|---|---|---|---|---|---:|---|\n";
            for row in &self.lifecycles {
                out += &format!(
                    "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                    escape(&row.operation),
                    row.poll_type.as_deref().map_or("-".to_owned(), escape),
                    row.endpoint.as_deref().map_or("-".to_owned(), escape),
                    when(row.start_s),
                    row.end_s.map_or("-".to_owned(), when),
                    row.ended,
                    row.attempts,
                    if row.flags.is_empty() {
                        "-".to_owned()
                    } else {
                        escape(&row.flags.join(", "))
                    }
                );
            }
        }

        out += "\n## Timer creation sites\n\n";
        if self.timer_sites.is_empty() {
            out += "No timers were seen (the in-page agent may not have run).\n";
        } else {
            out += "| Site | Created | Live at end | Intervals |\n|---|---:|---:|---:|\n";
            for row in &self.timer_sites {
                out += &format!(
                    "| `{}` | {} | {} | {} |\n",
                    escape(&row.site),
                    row.created,
                    row.live_at_end,
                    row.intervals
                );
            }
        }

        out += "\n## Endpoints\n\n";
        if self.endpoints.is_empty() {
            out += "No requests were seen.\n";
        } else {
            out += "| Endpoint | Requests | Completed | Failed | Aborted | In flight at end | Statuses |\n|---|---:|---:|---:|---:|---:|---|\n";
            for row in &self.endpoints {
                let statuses: Vec<String> = row
                    .statuses
                    .iter()
                    .map(|(status, count)| format!("{status} x{count}"))
                    .collect();
                out += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    escape(&row.endpoint),
                    row.requests,
                    row.completed,
                    row.failed,
                    row.aborted,
                    row.in_flight_at_end,
                    if statuses.is_empty() {
                        "-".to_owned()
                    } else {
                        statuses.join(", ")
                    }
                );
            }
        }

        out += &format!("\n## Heap snapshots ({})\n\n", self.snapshots.len());
        if self.snapshots.is_empty() {
            out += "No heap snapshots were taken.\n";
        } else {
            out += "| Time | File | Size | Status |\n|---|---|---:|---|\n";
            for row in &self.snapshots {
                out += &format!(
                    "| {} | `{}` | {} | {} |\n",
                    when(row.t),
                    escape(&row.path),
                    format_bytes(row.bytes),
                    escape(&row.status)
                );
            }
            out += &format!("\n{SNAPSHOT_WARNING}\n");
        }
        if let Some(diff) = &self.snapshot_diff {
            out += &format!(
                "\n### What grew from `{}` to `{}`\n\n{} to {} objects, self size {}.\n\n",
                escape(&diff.before),
                escape(&diff.after),
                diff.before_nodes,
                diff.after_nodes,
                format_signed_bytes(diff.size_delta)
            );
            if diff.classes.is_empty() {
                out += "No class changed.\n";
            } else {
                out += "| Class | Added | Removed | Count change | Size change |\n|---|---:|---:|---:|---:|\n";
                for class in &diff.classes {
                    out += &format!(
                        "| `{}` | {} | {} | {:+} | {} |\n",
                        escape(&class.name),
                        class.added,
                        class.removed,
                        class.count_delta,
                        format_signed_bytes(class.size_delta)
                    );
                }
            }
        } else if let Some(note) = &self.snapshot_diff_note {
            out += &format!("\nNo snapshot diff: {}.\n", escape(note));
        }

        out += "\n## Lost data\n\n";
        let undecoded = self.losses.undecoded_total();
        if undecoded == 0 && self.losses.dropped_events == 0 && self.losses.timed_out_commands == 0
        {
            out += "Nothing was lost: every CDP message decoded, no event was dropped and no command timed out.\n";
        } else {
            out += &format!("- CDP messages that failed to decode: {undecoded}\n");
            for (method, count) in &self.losses.undecoded {
                let method = if method == "?" {
                    "(unknown method)".to_owned()
                } else {
                    format!("`{}`", escape(method))
                };
                out += &format!("  - {method}: {count}\n");
            }
            out += &format!(
                "- Events dropped by a full channel: {}\n",
                self.losses.dropped_events
            );
            out += &format!(
                "- Commands that timed out: {}\n",
                self.losses.timed_out_commands
            );
        }
        out
    }
}

fn alert_rows(analysis: &Analysis) -> Vec<AlertRow> {
    let mut rows: Vec<AlertRow> = analysis
        .alerts
        .iter()
        .map(|alert| AlertRow {
            level: format!("{:?}", alert.level).to_lowercase(),
            rule: alert.rule.clone(),
            subject: alert.subject.clone(),
            message: alert.message.clone(),
            first_seen_s: alert.first_seen,
            last_seen_s: alert.last_seen,
            count: alert.count,
        })
        .collect();
    // Most severe first, then in order of appearance.
    let level_of = |name: &str| {
        ["emergency", "critical", "warning", "info"]
            .iter()
            .position(|level| *level == name)
            .unwrap_or(4)
    };
    rows.sort_by(|a, b| {
        level_of(&a.level)
            .cmp(&level_of(&b.level))
            .then(a.first_seen_s.total_cmp(&b.first_seen_s))
    });
    rows
}

fn lifecycle_rows(analysis: &Analysis, duration: f64) -> Vec<LifecycleRow> {
    analysis
        .lanes
        .iter()
        .map(|lane| {
            let mut flags = Vec::new();
            if let Some(t) = lane.orphaned_from {
                flags.push(format!("orphaned from {}", format_time(t, duration)));
            }
            if let Some(t) = lane.runaway_from {
                flags.push(format!("runaway from {}", format_time(t, duration)));
            }
            flags.extend(
                lane.flags
                    .iter()
                    .filter(|flag| !matches!(flag.as_str(), "orphaned" | "runaway"))
                    .cloned(),
            );
            let ended = match lane.end {
                LaneEnd::Active => "still polling".to_owned(),
                other => other.as_str().to_owned(),
            };
            LifecycleRow {
                operation: lane.operation.clone(),
                poll_type: lane.poll_type.clone(),
                endpoint: lane.endpoint.clone(),
                start_s: lane.start_t,
                end_s: lane.end_t,
                ended,
                attempts: lane.attempts,
                flags,
            }
        })
        .collect()
}

fn timer_site_rows(recording: &Recording) -> Vec<TimerSiteRow> {
    let mut sites: BTreeMap<u32, String> = BTreeMap::new();
    let mut live: BTreeMap<u64, Option<u32>> = BTreeMap::new();
    let mut rows: BTreeMap<Option<u32>, TimerSiteRow> = BTreeMap::new();
    for record in &recording.records {
        match &record.body {
            RecordBody::Site(site) => {
                sites.insert(site.id, site.label());
            }
            RecordBody::TimerCreated {
                id, timer, site, ..
            } => {
                let row = rows.entry(*site).or_insert_with(|| TimerSiteRow {
                    site: String::new(),
                    created: 0,
                    live_at_end: 0,
                    intervals: 0,
                });
                row.created += 1;
                if *timer == TimerKind::Interval {
                    row.intervals += 1;
                }
                live.insert(*id, *site);
            }
            RecordBody::TimerCleared { id, .. } | RecordBody::TimerFired { id, .. } => {
                live.remove(id);
            }
            _ => {}
        }
    }
    for site in live.values() {
        if let Some(row) = rows.get_mut(site) {
            row.live_at_end += 1;
        }
    }
    let mut rows: Vec<TimerSiteRow> = rows
        .into_iter()
        .map(|(site, mut row)| {
            row.site = site
                .and_then(|site| sites.get(&site).cloned())
                .unwrap_or_else(|| "(unknown site)".to_owned());
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.live_at_end
            .cmp(&a.live_at_end)
            .then(b.created.cmp(&a.created))
            .then(a.site.cmp(&b.site))
    });
    rows.truncate(TOP_ROWS);
    rows
}

fn endpoint_rows(recording: &Recording) -> Vec<EndpointRow> {
    let mut endpoint_of: BTreeMap<String, String> = BTreeMap::new();
    let mut rows: BTreeMap<String, EndpointRow> = BTreeMap::new();
    for record in &recording.records {
        match &record.body {
            RecordBody::RequestStarted(started) => {
                let endpoint = endpoint_label(&started.method, &started.url);
                let row = rows.entry(endpoint.clone()).or_insert_with(|| EndpointRow {
                    endpoint: endpoint.clone(),
                    requests: 0,
                    completed: 0,
                    failed: 0,
                    aborted: 0,
                    in_flight_at_end: 0,
                    statuses: BTreeMap::new(),
                });
                row.requests += 1;
                row.in_flight_at_end += 1;
                endpoint_of.insert(started.id.clone(), endpoint);
            }
            RecordBody::RequestEnded(ended) => {
                let Some(row) = endpoint_of
                    .remove(&ended.id)
                    .and_then(|endpoint| rows.get_mut(&endpoint))
                else {
                    continue;
                };
                row.in_flight_at_end -= 1;
                match &ended.outcome {
                    RequestOutcome::Completed { status } => {
                        row.completed += 1;
                        *row.statuses.entry(*status).or_default() += 1;
                    }
                    RequestOutcome::Aborted => row.aborted += 1,
                    RequestOutcome::Failed { .. } => row.failed += 1,
                }
            }
            _ => {}
        }
    }
    let mut rows: Vec<EndpointRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then(a.endpoint.cmp(&b.endpoint))
    });
    rows.truncate(TOP_ROWS);
    rows
}

/// `GET http://host/path`, without query or fragment.
fn endpoint_label(method: &str, url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{method} {}{}",
            parsed.origin().ascii_serialization(),
            parsed.path()
        ),
        Err(_) => format!("{method} {}", url.split(['?', '#']).next().unwrap_or(url)),
    }
}

/// Escapes text for a Markdown table cell or line.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn format_bytes(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn format_signed_bytes(bytes: i64) -> String {
    let sign = if bytes < 0 { "-" } else { "+" };
    format!("{sign}{}", format_bytes(bytes.unsigned_abs()))
}

/// Formats epoch milliseconds as RFC 3339 UTC with second precision.
pub fn format_epoch_ms(ms: f64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp((ms / 1000.0).floor() as i64)
        .ok()
        .and_then(|when| when.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms since the Unix epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formats_utc() {
        assert_eq!(format_epoch_ms(1_764_876_000_000.0), "2025-12-04T19:20:00Z");
    }

    #[test]
    fn pipes_escaped() {
        assert_eq!(escape("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn endpoint_drops_query() {
        assert_eq!(
            endpoint_label(
                "GET",
                "http://127.0.0.1:8080/api/video/status?operationName=x"
            ),
            "GET http://127.0.0.1:8080/api/video/status"
        );
    }
}
