//! `leakscope retainers FILE (--class NAME | --node ID)`: the shortest chains
//! of references from the GC roots that keep an object alive, the proof of
//! why a leaked object was not collected.

use std::path::PathBuf;
use std::process::ExitCode;

use leakscope_heap::{
    retainer_path, retainer_paths_for_class, ParseOptions, RetainerPath, SnapshotError,
};
use serde::Serialize;

use super::analyze::{bytes, load};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["class", "node"])))]
pub struct Args {
    /// The `.heapsnapshot` file.
    pub file: PathBuf,
    /// Show paths to objects of this class (as `leakscope analyze` names it).
    #[arg(long)]
    pub class: Option<String>,
    /// Show the path to the object with this node id, written `1234` or as
    /// other output prints it, `@1234`.
    #[arg(long, value_parser = parse_node_id)]
    pub node: Option<u64>,
    /// With `--class`, how many objects to show paths for (nearest first).
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    target: String,
    paths: &'a [RetainerPath],
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let snapshot = load(&args.file, ParseOptions::full())?;
    let (target, paths) = match (&args.class, args.node) {
        (_, Some(id)) => {
            let node = snapshot
                .node_by_id(id)
                .ok_or(SnapshotError::NoSuchNode { id })?;
            let path = retainer_path(&snapshot, node)?;
            (format!("node @{id}"), path.into_iter().collect::<Vec<_>>())
        }
        (Some(class), None) => {
            let paths = retainer_paths_for_class(&snapshot, class, args.limit)?;
            (format!("class {class}"), paths)
        }
        (None, None) => anyhow::bail!("give --class NAME or --node ID"),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&JsonOut {
                target,
                paths: &paths
            })?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if paths.is_empty() {
        let reason = match &args.class {
            Some(class) => format!(
                "no object of class {class} is reachable from the roots (check the name with `leakscope analyze {}`)",
                args.file.display()
            ),
            None => "the object is reachable only through weak references, or not at all".to_string(),
        };
        // Nothing to show is a failed look-up, so scripts can tell it apart.
        anyhow::bail!("{target}: {reason}");
    }
    for (i, path) in paths.iter().enumerate() {
        print_path(i + 1, path);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_path(number: usize, path: &RetainerPath) {
    let Some(last) = path.steps.last() else {
        return;
    };
    println!(
        "path {number} to {} @{} ({} steps):",
        last.class,
        last.node_id,
        path.steps.len().saturating_sub(1)
    );
    for (depth, step) in path.steps.iter().enumerate() {
        let indent = "  ".repeat(depth + 1);
        let Some(edge) = &step.edge_name else {
            println!("{indent}(root)");
            continue;
        };
        let kind = step.edge_type.as_deref().unwrap_or("");
        let name = if step.node_name.is_empty() {
            step.class.as_str()
        } else {
            step.node_name.as_str()
        };
        let name: String = name.chars().take(80).collect();
        println!(
            "{indent}{edge} ({kind}) → {name} @{} [{}, {}]",
            step.node_id,
            step.node_type,
            bytes(step.self_size)
        );
    }
    println!();
}

/// Parses a node id, with or without the `@` that output puts before it.
fn parse_node_id(text: &str) -> Result<u64, String> {
    let digits = text.trim().strip_prefix('@').unwrap_or(text.trim());
    digits
        .parse::<u64>()
        .map_err(|_| format!("invalid node id {text:?}; give a number such as 1234 or @1234"))
}
