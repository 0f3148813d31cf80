//! Checked-in expectations for what a reviewer reads: the overview PNG and
//! `report.md` of the fixed synthetic recording. Rerun with `LEAKSCOPE_BLESS=1`
//! to accept an intended change, then look at the new files before committing.

mod common;

use leakscope_report::{analyze, ChartOptions, Overview, Report};

#[test]
fn overview_png_matches() {
    let recording = common::recording();
    let overview = Overview::build(&recording, &analyze(&recording));
    let png = leakscope_report::render_png(&overview, &ChartOptions::default()).unwrap();
    common::check_expected("overview.png", &png);
}

#[test]
fn report_md_matches() {
    let recording = common::recording();
    let markdown = Report::build(&recording, &analyze(&recording)).to_markdown();
    common::check_expected("report.md", markdown.as_bytes());
}

#[test]
fn png_is_deterministic() {
    let recording = common::recording();
    let overview = Overview::build(&recording, &analyze(&recording));
    let options = ChartOptions {
        width: 800,
        height: 450,
        ..ChartOptions::default()
    };
    let first = leakscope_report::render_png(&overview, &options).unwrap();
    let second = leakscope_report::render_png(&overview, &options).unwrap();
    assert_eq!(first, second);
}

#[test]
fn svg_has_series_and_labels() {
    let recording = common::recording();
    let overview = Overview::build(&recording, &analyze(&recording));
    let svg = leakscope_report::render_svg(&overview, &ChartOptions::default()).unwrap();
    assert!(svg.starts_with("<svg"), "not an SVG document");
    for text in [
        "heap used",
        "live timers",
        "requests in flight",
        "op-suno-2 (audio-suno)",
        "closed generation panel",
        "JS heap (MB)",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
}

#[test]
fn chart_range_selects_window() {
    let recording = common::recording();
    let overview = Overview::build(&recording, &analyze(&recording));
    let options = ChartOptions {
        from: Some(180.0),
        to: Some(240.0),
        ..ChartOptions::default()
    };
    let svg = leakscope_report::render_svg(&overview, &options).unwrap();
    // A 60 s window labels its axis in seconds, and the lifecycle that ended at
    // 110 s is outside it.
    assert!(
        svg.lines().any(|line| line.trim() == "200s"),
        "no 200s axis label"
    );
    assert!(!svg.contains("op-video-1"), "lane outside the range drawn");
}

#[test]
fn empty_recording_renders() {
    let mut recording = common::recording();
    recording.records.clear();
    let analysis = analyze(&recording);
    let overview = Overview::build(&recording, &analysis);
    let svg = leakscope_report::render_svg(&overview, &ChartOptions::default()).unwrap();
    assert!(svg.contains("no poll lifecycles in this range"));
    let markdown = Report::build(&recording, &analysis).to_markdown();
    assert!(markdown.contains("No alerts."));
    assert!(markdown.contains("no end record"));
}
