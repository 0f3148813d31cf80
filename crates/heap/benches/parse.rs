//! Benchmark of the parser and analyses on real Chromium snapshots (made by
//! `tools/make_snapshot.mjs`; they are too big for the repository).
//!
//! `cargo bench -p leakscope-heap` runs every case whose files exist under
//! `$LEAKSCOPE_SNAPSHOTS` (default `/work/snapshots`); with arguments it runs
//! one case, so `/usr/bin/time -v` can measure its peak memory alone:
//! `… -- analyze FILE`, `… -- diff BEFORE AFTER`, `… -- parse-full FILE`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use leakscope_heap::{diff_files, parse_file, summarize, ParseOptions, SummaryOptions};

fn analyze(path: &Path) -> String {
    let t = Instant::now();
    let s = parse_file(path, ParseOptions::summary()).expect("parse");
    let parsed = t.elapsed();
    // The same call as `leakscope analyze`: dominator tree and class counts
    // on both cores, then class retained sizes, detached nodes and closures.
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    let total = t.elapsed();
    format!(
        "analyze {}: {} nodes, {} edges, {} classes; parse {:.3} s, +summary {:.3} s, total {:.3} s",
        path.display(),
        summary.nodes,
        summary.edges,
        summary.classes.len(),
        parsed.as_secs_f64(),
        (total - parsed).as_secs_f64(),
        total.as_secs_f64()
    )
}

fn diff(a: &Path, b: &Path) -> String {
    let t = Instant::now();
    let d = diff_files(a, b).expect("diff");
    let total = t.elapsed();
    let top = d
        .classes
        .first()
        .map(|c| format!("{} {:+}", c.name, c.count_delta))
        .unwrap_or_default();
    format!(
        "diff {} {}: {} classes changed (top: {top}); total {:.3} s",
        a.display(),
        b.display(),
        d.classes.len(),
        total.as_secs_f64()
    )
}

fn parse_full(path: &Path) -> String {
    let t = Instant::now();
    let s = parse_file(path, ParseOptions::full()).expect("parse");
    format!(
        "parse-full {}: {} nodes in {:.3} s",
        path.display(),
        s.node_count(),
        t.elapsed().as_secs_f64()
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("analyze") => println!("{}", analyze(Path::new(&args[1]))),
        Some("diff") => println!("{}", diff(Path::new(&args[1]), Path::new(&args[2]))),
        Some("parse-full") => println!("{}", parse_full(Path::new(&args[1]))),
        Some("dump-retained") => {
            // "id retained" per node, to compare with other tools.
            let s = parse_file(Path::new(&args[1]), ParseOptions::summary()).expect("parse");
            let d = leakscope_heap::dominators(&s).expect("dominators");
            for n in 0..s.node_count() as u32 {
                println!("{} {}", s.node_id(n), d.retained[n as usize]);
            }
        }
        Some("validate") => {
            let t = Instant::now();
            let h = leakscope_heap::validate_file(Path::new(&args[1])).expect("valid");
            println!(
                "validate {}: {} nodes in {:.3} s",
                args[1],
                h.node_count,
                t.elapsed().as_secs_f64()
            );
        }
        Some("parse") => {
            let t = Instant::now();
            let s = parse_file(Path::new(&args[1]), ParseOptions::summary()).expect("parse");
            println!(
                "parse {}: {} nodes in {:.3} s",
                args[1],
                s.node_count(),
                t.elapsed().as_secs_f64()
            );
        }
        _ => {
            let dir = PathBuf::from(
                std::env::var("LEAKSCOPE_SNAPSHOTS").unwrap_or_else(|_| "/work/snapshots".into()),
            );
            let runs = 3;
            for name in ["s10", "s100a", "s400"] {
                let path = dir.join(format!("{name}.heapsnapshot"));
                if path.exists() {
                    for _ in 0..runs {
                        println!("{}", analyze(&path));
                    }
                }
            }
            let (a, b) = (
                dir.join("s100a.heapsnapshot"),
                dir.join("s100b.heapsnapshot"),
            );
            if a.exists() && b.exists() {
                for _ in 0..runs {
                    println!("{}", diff(&a, &b));
                }
            }
        }
    }
}
