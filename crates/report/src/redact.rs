//! Redaction of secrets before anything leaves the machine in a bundle.
//!
//! The recording never carries headers, cookies or bodies, but URLs, stack
//! frames, console-derived labels and parsed body fields can still hold
//! credentials. Every string that goes into a bundle passes through
//! [`Redactor::redact_text`]. It replaces with [`REDACTED`] the value of each
//! `name=value` pair whose name looks secret. It also replaces URL passwords,
//! `Bearer` tokens, and whatever follows a `Cookie:`, `Set-Cookie:` or
//! `Authorization:` header name. Parsed body fields and free-form settings
//! whose key looks secret lose their value too.

use std::collections::BTreeMap;

use leakscope_model::{Alert, Header, NetworkEvent, Record, RecordBody, Recording, Site};

/// Text that replaces a secret value.
pub const REDACTED: &str = "REDACTED";

/// Query parameter names treated as secret by default. A name matches when it
/// contains one of these, ignoring case, so `access_token` and `X-Amz-Signature`
/// match too.
pub const DEFAULT_SECRET_NAMES: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "auth",
    "session",
    "signature",
    "code",
    "cookie",
    "credential",
];

/// Header names whose whole value is secret when they appear in text.
const SECRET_HEADERS: &[&str] = &[
    "set-cookie:",
    "cookie:",
    "authorization:",
    "proxy-authorization:",
];

/// Replaces secret values in strings and records.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Lower-case name fragments; see [`DEFAULT_SECRET_NAMES`].
    secret_names: Vec<String>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(DEFAULT_SECRET_NAMES.iter().map(|name| name.to_string()))
    }
}

impl Redactor {
    /// Creates a redactor for the given name fragments (matched case-insensitively).
    pub fn new(names: impl IntoIterator<Item = String>) -> Redactor {
        let mut secret_names: Vec<String> = names
            .into_iter()
            .map(|name| name.to_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        secret_names.sort();
        secret_names.dedup();
        Redactor { secret_names }
    }

    pub fn secret_names(&self) -> &[String] {
        &self.secret_names
    }

    /// True when a parameter or field name looks secret.
    pub fn is_secret_name(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        self.secret_names
            .iter()
            .any(|secret| name.contains(secret.as_str()))
    }

    /// Redacts secret values anywhere in `text` (URLs, stack frames, messages).
    /// Applying it twice gives the same text as applying it once.
    pub fn redact_text(&self, text: &str) -> String {
        let text = self.redact_headers(text);
        let text = redact_bearer(&text);
        let text = redact_userinfo(&text);
        self.redact_pairs(&text)
    }

    /// Replaces the value of each `name=value` pair whose name looks secret. A
    /// value ends at the next `&`, `#`, `;`, `,`, whitespace, quote or bracket.
    fn redact_pairs(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('=') {
            let (before, after) = rest.split_at(at);
            out.push_str(before);
            out.push('=');
            let after = &after[1..];
            let name_start = before.rfind(|c: char| !is_name_char(c)).map_or(0, |index| {
                index + before[index..].chars().next().map_or(1, char::len_utf8)
            });
            let name = percent_decode_lossy(&before[name_start..]);
            let value_len = after.find(is_value_end).unwrap_or(after.len());
            if !name.is_empty() && value_len > 0 && self.is_secret_name(&name) {
                out.push_str(REDACTED);
            } else {
                out.push_str(&after[..value_len]);
            }
            rest = &after[value_len..];
        }
        out.push_str(rest);
        out
    }

    /// Replaces the rest of the line after a cookie or authorization header name.
    fn redact_headers(&self, text: &str) -> String {
        let lower = text.to_lowercase();
        // Lower-casing can change byte lengths outside ASCII; only then fall back
        // to leaving headers to the other passes (the pair pass still catches
        // `name=value` cookie pairs with secret-looking names).
        if lower.len() != text.len() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut index = 0;
        while index < text.len() {
            let found = SECRET_HEADERS
                .iter()
                .filter_map(|header| lower[index..].find(header).map(|at| (at, header.len())))
                .min();
            let Some((at, header_len)) = found else { break };
            let value_start = index + at + header_len;
            let value_end = text[value_start..]
                .find(['\n', '\r', '"'])
                .map_or(text.len(), |end| value_start + end);
            out.push_str(&text[index..value_start]);
            if text[value_start..value_end].trim().is_empty() {
                out.push_str(&text[value_start..value_end]);
            } else {
                out.push(' ');
                out.push_str(REDACTED);
            }
            index = value_end;
        }
        out.push_str(&text[index..]);
        out
    }

    /// Redacts a parsed field map (`body_fields`, `response_fields`).
    pub fn redact_fields(&self, fields: &mut BTreeMap<String, String>) {
        for (name, value) in fields.iter_mut() {
            if self.is_secret_name(name) {
                *value = REDACTED.to_owned();
            } else {
                *value = self.redact_text(value);
            }
        }
    }

    /// Redacts a JSON value: every string, and the value of every key that looks secret.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.redact_text(text),
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|item| self.redact_json(item))
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    if self.is_secret_name(key)
                        && !item.is_object()
                        && !item.is_array()
                        && !item.is_null()
                    {
                        *item = serde_json::Value::String(REDACTED.to_owned());
                    } else {
                        self.redact_json(item);
                    }
                }
            }
            _ => {}
        }
    }

    /// Redacts every string of a JSON value but keeps values under secret-looking
    /// keys, for configuration whose key names (`query_key`) are not secrets.
    pub fn redact_json_strings(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.redact_text(text),
            serde_json::Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.redact_json_strings(item)),
            serde_json::Value::Object(map) => map
                .values_mut()
                .for_each(|item| self.redact_json_strings(item)),
            _ => {}
        }
    }

    pub fn redact_header(&self, header: &mut Header) {
        header.target.url = self.redact_text(&header.target.url);
        header.target.title = self.redact_text(&header.target.title);
        let mut extra = serde_json::Value::Object(
            std::mem::take(&mut header.settings.extra)
                .into_iter()
                .collect(),
        );
        self.redact_json(&mut extra);
        if let serde_json::Value::Object(map) = extra {
            header.settings.extra = map.into_iter().collect();
        }
    }

    /// Redacts every string of a record that can carry page data.
    pub fn redact_record(&self, record: &mut Record) {
        match &mut record.body {
            RecordBody::Gap { reason } => *reason = self.redact_text(reason),
            RecordBody::Navigation { url, .. } | RecordBody::AgentInjected { url, .. } => {
                *url = self.redact_text(url)
            }
            RecordBody::Site(Site {
                url, function, raw, ..
            }) => {
                *url = self.redact_text(url);
                *function = self.redact_text(function);
                *raw = self.redact_text(raw);
            }
            RecordBody::RequestStarted(started) => {
                started.url = self.redact_text(&started.url);
                self.redact_fields(&mut started.body_fields);
            }
            RecordBody::RequestEnded(ended) => {
                if let leakscope_model::RequestOutcome::Failed { error } = &mut ended.outcome {
                    *error = self.redact_text(error);
                }
                self.redact_fields(&mut ended.response_fields);
            }
            RecordBody::Network(event) => match event {
                NetworkEvent::Sent { url, .. } => *url = self.redact_text(url),
                NetworkEvent::Failed { error, .. } => *error = self.redact_text(error),
                NetworkEvent::Response { .. } | NetworkEvent::Finished { .. } => {}
            },
            RecordBody::PollSignal(signal) => {
                signal.operation = self.redact_text(&signal.operation);
                signal.reason = signal
                    .reason
                    .as_deref()
                    .map(|reason| self.redact_text(reason));
            }
            RecordBody::Marker { label } => *label = self.redact_text(label),
            RecordBody::Snapshot(snapshot) => {
                snapshot.path = self.redact_text(&snapshot.path);
                snapshot.status = self.redact_text(&snapshot.status);
            }
            RecordBody::Alert(Alert {
                subject, message, ..
            }) => {
                *subject = self.redact_text(subject);
                *message = self.redact_text(message);
            }
            RecordBody::End { message, .. } => *message = self.redact_text(message),
            RecordBody::Sample(_)
            | RecordBody::TimerCreated { .. }
            | RecordBody::TimerCleared { .. }
            | RecordBody::TimerFired { .. }
            | RecordBody::ControllerCreated { .. }
            | RecordBody::ControllerAborted { .. }
            | RecordBody::ControllerCollected { .. }
            | RecordBody::Losses(_) => {}
        }
    }

    /// Returns a redacted copy of a whole recording.
    pub fn redact_recording(&self, recording: &Recording) -> Recording {
        let mut redacted = recording.clone();
        self.redact_header(&mut redacted.header);
        for record in &mut redacted.records {
            self.redact_record(record);
        }
        redacted
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '%' | '[' | ']')
}

fn is_value_end(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | '#' | ';' | ',' | '"' | '\'' | '<' | '>' | ')' | '(' | '`' | '\\'
        )
}

/// Decodes `%XX` escapes so `access%5Ftoken` is recognised as `access_token`.
fn percent_decode_lossy(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = |byte: u8| (byte as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the token after `Bearer ` or `Basic ` (any case).
fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        let found = ["bearer ", "basic "]
            .iter()
            .filter_map(|scheme| lower[index..].find(scheme).map(|at| (at, scheme.len())))
            .min();
        let Some((at, scheme_len)) = found else { break };
        let token_start = index + at + scheme_len;
        let token_end = text[token_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';'))
            .map_or(text.len(), |end| token_start + end);
        out.push_str(&text[index..token_start]);
        // Only credential-looking tokens: long enough that "basic usage" stays.
        if token_end - token_start >= 8 && &text[token_start..token_end] != REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(&text[token_start..token_end]);
        }
        index = token_end;
    }
    out.push_str(&text[index..]);
    out
}

/// Replaces the password in `scheme://user:password@host`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let authority_len = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.find(':') {
                    Some(colon) if &userinfo[colon + 1..] != REDACTED => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(REDACTED);
                    }
                    _ => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::default().redact_text(text)
    }

    #[test]
    fn query_secrets_redacted() {
        let url = "https://app.test/api/video/status?operationName=op-17&token=abc123&X-Amz-Signature=deadbeef#access_token=xyz";
        assert_eq!(
            redact(url),
            "https://app.test/api/video/status?operationName=op-17&token=REDACTED&X-Amz-Signature=REDACTED#access_token=REDACTED"
        );
    }

    #[test]
    fn ordinary_params_kept() {
        let url = "http://127.0.0.1:8080/api/audio/suno/status?operationName=op-1&attempt=3";
        assert_eq!(redact(url), url);
    }

    #[test]
    fn percent_encoded_name_redacted() {
        assert_eq!(
            redact("/x?access%5Ftoken=s3cr3t"),
            "/x?access%5Ftoken=REDACTED"
        );
    }

    #[test]
    fn userinfo_password_redacted() {
        assert_eq!(
            redact("see https://bob:hunter22@example.test/path"),
            "see https://bob:REDACTED@example.test/path"
        );
    }

    #[test]
    fn header_values_redacted() {
        assert_eq!(
            redact("Cookie: sid=abc; theme=dark\nnext"),
            "Cookie: REDACTED\nnext"
        );
        assert_eq!(
            redact("authorization: Bearer eyJhbGciOi.x.y"),
            "authorization: REDACTED"
        );
        assert_eq!(
            redact("sent Bearer eyJhbGciOiJIUzI1NiJ9 to api"),
            "sent Bearer REDACTED to api"
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        let text = "https://u:p4ssword@h.test/?session=1&code=2 Cookie: a=b Bearer abcdefghijk";
        let once = redact(text);
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn configured_names_only() {
        let redactor = Redactor::new(["opid".to_owned()]);
        assert_eq!(
            redactor.redact_text("/s?opId=7&token=t"),
            "/s?opId=REDACTED&token=t"
        );
    }
}
