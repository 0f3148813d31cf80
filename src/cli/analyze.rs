//! `leakscope analyze FILE`: the summary of one heap snapshot, by class with
//! retained sizes, plus detached DOM nodes and closures held by timers. The
//! human output is an aligned table; `--json` prints the same data for
//! scripts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use leakscope_heap::{
    parse_file_with_progress, summarize, HeapSnapshot, ParseOptions, Summary, SummaryOptions,
};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `.heapsnapshot` file.
    pub file: PathBuf,
    /// Show this many classes (default 20 in the table, all in JSON).
    #[arg(long)]
    pub top: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Files above this size get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 20 << 20;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let snapshot = load(&args.file, ParseOptions::summary())?;
    let summary = summarize(&snapshot, SummaryOptions::default())
        .with_context(|| format!("cannot analyse {}", args.file.display()))?;
    if args.json {
        print_json(&summary, args.top)?;
    } else {
        print_table(&args.file, &summary, args.top.unwrap_or(20));
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a snapshot with a progress bar on stderr for big files.
pub(crate) fn load(path: &Path, options: ParseOptions) -> anyhow::Result<HeapSnapshot> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let bar = (size >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal())
        .then(|| progress_bar(path, size));
    let report = |bytes: u64| {
        if let Some(bar) = &bar {
            bar.set_position(bytes);
        }
    };
    let result = parse_file_with_progress(path, options, Some(&report));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    result.with_context(|| format!("cannot parse {}", path.display()))
}

pub(crate) fn progress_bar(path: &Path, size: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("reading {}", path.display()));
    bar
}

#[derive(Serialize)]
struct JsonSummary<'a> {
    nodes: u64,
    edges: u64,
    self_size: u64,
    node_types: &'a std::collections::BTreeMap<String, u64>,
    classes: &'a [leakscope_heap::ClassSummary],
    detached_nodes: u64,
    detached_classes: &'a [leakscope_heap::ClassSummary],
    held_closures: &'a [leakscope_heap::HeldClosure],
}

fn print_json(s: &Summary, top: Option<usize>) -> anyhow::Result<()> {
    let classes = &s.classes[..top.unwrap_or(usize::MAX).min(s.classes.len())];
    let out = JsonSummary {
        nodes: s.nodes,
        edges: s.edges,
        self_size: s.self_size,
        node_types: &s.node_types,
        classes,
        detached_nodes: s.detached_nodes,
        detached_classes: &s.detached_classes,
        held_closures: &s.held_closures,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn print_table(file: &Path, s: &Summary, top: usize) {
    println!(
        "{}: {} nodes, {} edges, {} self size",
        file.display(),
        thousands(s.nodes),
        thousands(s.edges),
        bytes(s.self_size)
    );
    let mut types: Vec<_> = s.node_types.iter().collect();
    types.sort_by(|a, b| b.1.cmp(a.1));
    let types: Vec<String> = types
        .iter()
        .map(|(t, c)| format!("{t} {}", thousands(**c)))
        .collect();
    println!("node types: {}", types.join(", "));
    println!();
    let rows: Vec<[String; 4]> = s
        .classes
        .iter()
        .take(top)
        .map(|c| {
            [
                c.name.clone(),
                thousands(c.count),
                bytes(c.self_size),
                bytes(c.retained_size),
            ]
        })
        .collect();
    print_rows(&["Class", "Count", "Self size", "Retained size"], &rows);
    if s.classes.len() > top {
        println!(
            "… {} more classes (--top N to show more)",
            s.classes.len() - top
        );
    }
    println!();
    if s.has_detachedness {
        println!("detached DOM nodes: {}", thousands(s.detached_nodes));
        for c in s.detached_classes.iter().take(top) {
            println!(
                "  {} ×{} ({})",
                c.name,
                thousands(c.count),
                bytes(c.self_size)
            );
        }
    } else {
        println!("detached DOM nodes: not recorded by this V8 version");
    }
    if s.held_closures.is_empty() {
        println!("closures held by timers or pending activities: none");
    } else {
        println!("closures held by timers or pending activities:");
        let rows: Vec<[String; 4]> = s
            .held_closures
            .iter()
            .take(top)
            .map(|h| {
                let ids: Vec<String> = h.sample_ids.iter().map(|id| format!("@{id}")).collect();
                [
                    h.holder.clone(),
                    h.name.clone(),
                    thousands(h.count),
                    format!("{}  {}", bytes(h.retained_size), ids.join(" ")),
                ]
            })
            .collect();
        print_rows(
            &["Holder", "Function", "Count", "Retained, sample ids"],
            &rows,
        );
    }
}

/// Prints rows under a header, the first column left-aligned and the others
/// right-aligned, each as wide as its widest cell.
pub(crate) fn print_rows<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut width = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(cell.chars().count());
            if i == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in B, KB, MB or GB (powers of 1000, as DevTools shows them).
pub(crate) fn bytes(n: u64) -> String {
    let f = n as f64;
    if n < 1000 {
        format!("{n} B")
    } else if f < 1e6 {
        format!("{:.1} kB", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.2} GB", f / 1e9)
    }
}

/// Signed bytes, with `+` for growth.
pub(crate) fn signed_bytes(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "+" };
    format!("{sign}{}", bytes(n.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn bytes_pick_a_unit() {
        assert_eq!(bytes(36), "36 B");
        assert_eq!(bytes(1500), "1.5 kB");
        assert_eq!(bytes(2_500_000), "2.5 MB");
        assert_eq!(signed_bytes(-1500), "-1.5 kB");
        assert_eq!(signed_bytes(24), "+24 B");
    }
}
