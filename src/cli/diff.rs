//! `leakscope diff BEFORE AFTER`: what grew between two snapshots of the same
//! page, per class (objects matched by node id), largest growth first, with
//! the ids of new objects to feed to `leakscope retainers --node`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use leakscope_heap::{diff_files, SnapshotDiff};
use serde::Serialize;

use super::analyze::{bytes, print_rows, signed_bytes, thousands};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier snapshot.
    pub before: PathBuf,
    /// The later snapshot of the same page (same browser session).
    pub after: PathBuf,
    /// Show this many classes (default 20 in the table, all in JSON).
    #[arg(long)]
    pub top: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// New-object ids listed per class in JSON; the count is always complete.
const MAX_IDS: usize = 1000;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("reading both snapshots");
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    });
    let result = diff_files(&args.before, &args.after);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let d = result.with_context(|| {
        format!(
            "cannot diff {} and {}",
            args.before.display(),
            args.after.display()
        )
    })?;
    if args.json {
        print_json(&d, args.top)?;
    } else {
        print_table(&d, args.top.unwrap_or(20));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonClass<'a> {
    name: &'a str,
    count_delta: i64,
    size_delta: i64,
    added: u64,
    removed: u64,
    added_size: u64,
    removed_size: u64,
    /// Up to `MAX_IDS` ids of added objects.
    new_ids: &'a [u64],
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    before_nodes: u64,
    after_nodes: u64,
    before_self_size: u64,
    after_self_size: u64,
    classes: Vec<JsonClass<'a>>,
}

fn print_json(d: &SnapshotDiff, top: Option<usize>) -> anyhow::Result<()> {
    let classes = d
        .classes
        .iter()
        .take(top.unwrap_or(usize::MAX))
        .map(|c| JsonClass {
            name: &c.name,
            count_delta: c.count_delta,
            size_delta: c.size_delta,
            added: c.added,
            removed: c.removed,
            added_size: c.added_size,
            removed_size: c.removed_size,
            new_ids: &c.new_ids[..c.new_ids.len().min(MAX_IDS)],
        })
        .collect();
    let out = JsonDiff {
        before_nodes: d.before_nodes,
        after_nodes: d.after_nodes,
        before_self_size: d.before_self_size,
        after_self_size: d.after_self_size,
        classes,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn print_table(d: &SnapshotDiff, top: usize) {
    println!(
        "before: {} nodes, {}; after: {} nodes, {} ({})",
        thousands(d.before_nodes),
        bytes(d.before_self_size),
        thousands(d.after_nodes),
        bytes(d.after_self_size),
        signed_bytes(d.after_self_size as i64 - d.before_self_size as i64)
    );
    println!();
    if d.classes.is_empty() {
        println!("no object was added or removed");
        return;
    }
    let rows: Vec<[String; 6]> = d
        .classes
        .iter()
        .take(top)
        .map(|c| {
            let ids: Vec<String> = c
                .new_ids
                .iter()
                .take(3)
                .map(|id| format!("@{id}"))
                .collect();
            [
                c.name.clone(),
                format!("{:+}", c.count_delta),
                signed_bytes(c.size_delta),
                thousands(c.added),
                thousands(c.removed),
                ids.join(" "),
            ]
        })
        .collect();
    print_rows(
        &["Class", "Count Δ", "Size Δ", "Added", "Removed", "New ids"],
        &rows,
    );
    if d.classes.len() > top {
        println!(
            "… {} more classes (--top N to show more)",
            d.classes.len() - top
        );
    }
}
