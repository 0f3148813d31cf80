//! Time to render the overview chart of a long recording: one hour sampled at
//! 10 Hz (36,000 samples) with 200 poll lifecycles, as a 1600x900 SVG and PNG.
//!
//! Run with `cargo bench -p leakscope-report --bench overview`. It prints the
//! median and minimum of 30 renders after 3 warm-up renders; the target is a
//! median under 50 ms for the SVG.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leakscope_model::*;
use leakscope_report::view::{Analysis, Lane, LaneEnd};
use leakscope_report::{ChartOptions, Overview};

const MB: f64 = 1024.0 * 1024.0;

fn recording() -> Recording {
    let header = Header {
        format_version: FORMAT_VERSION,
        leakscope_version: "bench".into(),
        browser: BrowserInfo::default(),
        target: TargetInfo {
            id: "T".into(),
            kind: "page".into(),
            title: "one hour at 10 Hz".into(),
            url: "http://127.0.0.1/".into(),
        },
        started_at_ms: 0.0,
        settings: Settings {
            interval_ms: 100,
            ..Settings::default()
        },
    };
    let mut records = Vec::with_capacity(36_100);
    for index in 0..36_000u64 {
        let t = index as f64 / 10.0;
        // A rising heap with a sawtooth and a little deterministic noise.
        let used =
            (40.0 + t * 0.02 + (index % 300) as f64 * 0.01 + ((index * 7919) % 13) as f64 * 0.05)
                * MB;
        records.push(Record {
            t,
            body: RecordBody::Sample(Sample {
                heap_used: used as u64,
                heap_total: (used * 1.3) as u64,
                counts: Some(LiveCounts {
                    timers_live: (index / 1800) % 20,
                    requests_in_flight: index % 4,
                    ..LiveCounts::default()
                }),
                metrics: BTreeMap::new(),
                ..Sample::default()
            }),
        });
        if index % 6000 == 0 {
            records.push(Record {
                t,
                body: RecordBody::Marker {
                    label: format!("cycle {}", index / 6000),
                },
            });
        }
    }
    Recording {
        header,
        records,
        truncated_tail: false,
    }
}

fn analysis() -> Analysis {
    let lanes = (0..200u32)
        .map(|index| {
            let start = index as f64 * 17.0;
            let end = [
                LaneEnd::Complete,
                LaneEnd::Failed,
                LaneEnd::Timeout,
                LaneEnd::Active,
            ][index as usize % 4];
            Lane {
                operation: format!("op-{index}"),
                poll_type: Some(
                    ["video", "audio-suno", "upscale", "audio-minimax"][index as usize % 4].into(),
                ),
                endpoint: None,
                start_t: start,
                end_t: (end != LaneEnd::Active).then_some(start + 300.0),
                end,
                attempts: 60,
                runaway_from: (index % 5 == 0).then_some(start + 200.0),
                orphaned_from: (index % 7 == 0).then_some(start + 100.0),
                flags: Vec::new(),
            }
        })
        .collect();
    Analysis {
        lanes,
        ..Analysis::default()
    }
}

fn measure(name: &str, mut render: impl FnMut() -> usize) {
    for _ in 0..3 {
        render();
    }
    let mut times: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let bytes = render();
            let elapsed = start.elapsed();
            assert!(bytes > 0);
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "{name}: median {:.1} ms, min {:.1} ms (30 runs)",
        times[15].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn main() {
    let recording = recording();
    let analysis = analysis();
    let start = Instant::now();
    let overview = Overview::build(&recording, &analysis);
    println!(
        "build overview from 36,000 samples: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let options = ChartOptions::default();
    measure("svg 1600x900", || {
        leakscope_report::render_svg(&overview, &options)
            .unwrap()
            .len()
    });
    measure("png 1600x900", || {
        leakscope_report::render_png(&overview, &options)
            .unwrap()
            .len()
    });
    // Set LEAKSCOPE_BENCH_OUT to a directory to look at the rendered chart.
    if let Ok(dir) = std::env::var("LEAKSCOPE_BENCH_OUT") {
        let png = leakscope_report::render_png(&overview, &options).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("bench-overview.png"), png).unwrap();
    }
}
