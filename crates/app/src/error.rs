//! The one error type every app command rejects with: a stable `code` the UI
//! branches on, and a `message` for the person (lower-case, naming the value
//! and what to do). The UI never parses the message.
//!
//! Conversions from the core's, the report's and the heap library's errors
//! live here, so each command maps its failure to a code in one place.

use serde::Serialize;

/// Stable error codes. The UI branches on these; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    ConnectFailed,
    AttachFailed,
    NoSession,
    /// Another long action (snapshot, analysis, export, attach) is running.
    Busy,
    Cancelled,
    SnapshotFailed,
    BundleInvalid,
    Io,
    BadInput,
    LaunchFailed,
    Internal,
}

impl ErrorCode {
    /// Returns the code as the UI receives it (`"no_session"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::ConnectFailed => "connect_failed",
            ErrorCode::AttachFailed => "attach_failed",
            ErrorCode::NoSession => "no_session",
            ErrorCode::Busy => "busy",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::SnapshotFailed => "snapshot_failed",
            ErrorCode::BundleInvalid => "bundle_invalid",
            ErrorCode::Io => "io",
            ErrorCode::BadInput => "bad_input",
            ErrorCode::LaunchFailed => "launch_failed",
            ErrorCode::Internal => "internal",
        }
    }
}

/// `{ code, message }`, the rejection value of every command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({})", code.as_str())]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    pub fn no_session() -> AppError {
        AppError::new(
            ErrorCode::NoSession,
            "no tab is attached; attach to a tab, open the demo or open a recording first",
        )
    }

    pub fn busy(what: &str) -> AppError {
        AppError::new(
            ErrorCode::Busy,
            format!("{what} is still running; wait for it to finish or cancel it"),
        )
    }

    pub fn cancelled(what: &str) -> AppError {
        AppError::new(ErrorCode::Cancelled, format!("{what} was cancelled"))
    }

    pub fn bad_input(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::BadInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Internal, message)
    }

    /// Builds the error of an I/O failure on `path` during `action` ("create", "read", ...).
    pub fn io(action: &str, path: &std::path::Path, error: &std::io::Error) -> AppError {
        let code = if error.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::Io
        };
        AppError::new(
            code,
            format!(
                "failed to {action} {}: {error}; check that the path exists and is writable",
                path.display()
            ),
        )
    }
}

impl From<leakscope_core::ConnectError> for AppError {
    fn from(error: leakscope_core::ConnectError) -> AppError {
        AppError::new(ErrorCode::ConnectFailed, error.to_string())
    }
}

impl From<leakscope_core::launcher::LaunchError> for AppError {
    fn from(error: leakscope_core::launcher::LaunchError) -> AppError {
        AppError::new(ErrorCode::LaunchFailed, error.to_string())
    }
}

impl From<leakscope_report::BundleError> for AppError {
    fn from(error: leakscope_report::BundleError) -> AppError {
        use leakscope_model::RecordingError;
        use leakscope_report::BundleError;
        let not_found = |source: &std::io::Error| source.kind() == std::io::ErrorKind::NotFound;
        let code = match &error {
            BundleError::Read { source, .. } if not_found(source) => ErrorCode::NotFound,
            BundleError::Recording(RecordingError::Open { source, .. }) if not_found(source) => {
                ErrorCode::NotFound
            }
            BundleError::Write { .. }
            | BundleError::Read { .. }
            | BundleError::Exists { .. }
            | BundleError::Recording(RecordingError::Open { .. })
            | BundleError::Recording(RecordingError::Write { .. }) => ErrorCode::Io,
            _ => ErrorCode::BundleInvalid,
        };
        AppError::new(code, error.to_string())
    }
}

impl From<leakscope_model::RecordingError> for AppError {
    fn from(error: leakscope_model::RecordingError) -> AppError {
        AppError::from(leakscope_report::BundleError::from(error))
    }
}

impl From<leakscope_report::ChartError> for AppError {
    fn from(error: leakscope_report::ChartError) -> AppError {
        let code = match error {
            leakscope_report::ChartError::InvalidRange { .. }
            | leakscope_report::ChartError::InvalidSize { .. } => ErrorCode::BadInput,
            _ => ErrorCode::Internal,
        };
        AppError::new(code, error.to_string())
    }
}

impl From<leakscope_heap::SnapshotError> for AppError {
    fn from(error: leakscope_heap::SnapshotError) -> AppError {
        let code = match &error {
            leakscope_heap::SnapshotError::NoSuchNode { .. } => ErrorCode::NotFound,
            _ => ErrorCode::SnapshotFailed,
        };
        AppError::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let json = serde_json::to_value(AppError::no_session()).unwrap();
        assert_eq!(json["code"], "no_session");
        assert!(json["message"].as_str().unwrap().starts_with("no tab"));
    }

    #[test]
    fn code_names_match_serde() {
        let codes = [
            ErrorCode::NotFound,
            ErrorCode::ConnectFailed,
            ErrorCode::AttachFailed,
            ErrorCode::NoSession,
            ErrorCode::Busy,
            ErrorCode::Cancelled,
            ErrorCode::SnapshotFailed,
            ErrorCode::BundleInvalid,
            ErrorCode::Io,
            ErrorCode::BadInput,
            ErrorCode::LaunchFailed,
            ErrorCode::Internal,
        ];
        for code in codes {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn missing_recording_is_not_found() {
        let error = leakscope_model::RecordingReader::open(std::path::Path::new(
            "/nonexistent/leakscope.jsonl",
        ))
        .unwrap_err();
        assert_eq!(AppError::from(error).code, ErrorCode::NotFound);
    }
}
