//! Choosing the target to attach to from what the user typed: a target id,
//! or a piece of a tab's URL or title.
//!
//! An exact id wins. Otherwise the text is matched (case-insensitive) against
//! the URL and title of page targets first, then of every target; an exact URL
//! beats a substring. No match lists the available targets, several matches
//! list the candidates, so the user can retry with an id.

use crate::session::Target;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no target matches {query:?}; available targets:\n{}\npass one of these ids with --tab", list(.available))]
    NotFound {
        query: String,
        available: Vec<Target>,
    },
    #[error("{query:?} matches {} targets:\n{}\npass one of these ids with --tab", .candidates.len(), list(.candidates))]
    Ambiguous {
        query: String,
        candidates: Vec<Target>,
    },
    #[error("the browser has no debuggable targets; open a tab first")]
    NoTargets,
}

/// Formats targets one per line: id, type, title and URL.
pub fn list(targets: &[Target]) -> String {
    if targets.is_empty() {
        return "  (none)".to_owned();
    }
    targets
        .iter()
        .map(|target| {
            format!(
                "  {}  {:<8} {:?}  {}",
                target.id, target.kind, target.title, target.url
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Picks the target `query` names.
pub fn select_target(targets: &[Target], query: &str) -> Result<Target, SelectError> {
    if targets.is_empty() {
        return Err(SelectError::NoTargets);
    }
    if let Some(target) = targets.iter().find(|target| target.id == query) {
        return Ok(target.clone());
    }
    let needle = query.to_lowercase();
    let pages: Vec<&Target> = targets
        .iter()
        .filter(|target| target.kind == "page")
        .collect();
    for pool in [pages, targets.iter().collect()] {
        let exact: Vec<&Target> = pool
            .iter()
            .copied()
            .filter(|target| target.url.to_lowercase() == needle)
            .collect();
        if exact.len() == 1 {
            return Ok(exact[0].clone());
        }
        let matches: Vec<&Target> = pool
            .iter()
            .copied()
            .filter(|target| {
                target.url.to_lowercase().contains(&needle)
                    || target.title.to_lowercase().contains(&needle)
            })
            .collect();
        match matches.len() {
            0 => continue,
            1 => return Ok(matches[0].clone()),
            _ => {
                return Err(SelectError::Ambiguous {
                    query: query.to_owned(),
                    candidates: matches.into_iter().cloned().collect(),
                })
            }
        }
    }
    Err(SelectError::NotFound {
        query: query.to_owned(),
        available: targets.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, kind: &str, title: &str, url: &str) -> Target {
        Target {
            id: id.into(),
            kind: kind.into(),
            title: title.into(),
            url: url.into(),
            attached: false,
        }
    }

    fn targets() -> Vec<Target> {
        vec![
            target("AAA", "page", "Editor", "http://127.0.0.1:8080/editor"),
            target("BBB", "page", "Docs", "http://127.0.0.1:8080/docs"),
            target("CCC", "service_worker", "sw", "http://127.0.0.1:8080/sw.js"),
        ]
    }

    #[test]
    fn exact_id_wins() {
        assert_eq!(select_target(&targets(), "BBB").unwrap().id, "BBB");
    }

    #[test]
    fn substring_of_url_or_title() {
        assert_eq!(select_target(&targets(), "editor").unwrap().id, "AAA");
        assert_eq!(select_target(&targets(), "DOCS").unwrap().id, "BBB");
    }

    #[test]
    fn pages_before_other_targets() {
        assert_eq!(select_target(&targets(), "sw.js").unwrap().id, "CCC");
    }

    #[test]
    fn ambiguous_lists_candidates() {
        let error = select_target(&targets(), "127.0.0.1").unwrap_err();
        let SelectError::Ambiguous { candidates, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(candidates.len(), 2);
        assert!(error.to_string().contains("AAA"), "{error}");
        assert!(error.to_string().contains("BBB"), "{error}");
    }

    #[test]
    fn exact_url_beats_substring() {
        let mut list = targets();
        list.push(target(
            "DDD",
            "page",
            "Editor 2",
            "http://127.0.0.1:8080/editor/2",
        ));
        assert_eq!(
            select_target(&list, "http://127.0.0.1:8080/editor")
                .unwrap()
                .id,
            "AAA"
        );
    }

    #[test]
    fn unknown_lists_available() {
        let error = select_target(&targets(), "ZZZ").unwrap_err();
        assert!(matches!(error, SelectError::NotFound { .. }));
        let message = error.to_string();
        assert!(
            message.contains("ZZZ") && message.contains("AAA") && message.contains("CCC"),
            "{message}"
        );
    }

    #[test]
    fn no_targets() {
        assert_eq!(select_target(&[], "x").unwrap_err(), SelectError::NoTargets);
    }
}
