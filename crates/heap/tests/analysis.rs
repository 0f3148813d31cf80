//! Dominators, retained sizes, classes, detached nodes, held closures,
//! retainer paths and diffs, with exact values on hand-made graphs and
//! checks on a real Chromium snapshot.

mod common;

use common::*;
use leakscope_heap::{
    diff, diff_files, dominators, parse_bytes, parse_file, retainer_paths_for_class, summarize,
    HeapSnapshot, ParseOptions, SummaryOptions,
};

fn parse(text: &str) -> HeapSnapshot {
    parse_bytes(text.as_bytes(), ParseOptions::full()).expect("parses")
}

/// root → A; A → B, A → C; B → D, C → D (a diamond); D → W; and a weak edge
/// root → D that must not make the root D's dominator.
fn diamond() -> HeapSnapshot {
    parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "A", 3, 10, 0),
            N(OBJECT, "B", 5, 20, 0),
            N(OBJECT, "C", 7, 30, 0),
            N(OBJECT, "D", 9, 40, 0),
            N(OBJECT, "W", 11, 50, 0),
        ],
        &[
            E(0, PROPERTY, "a", 1),
            E(0, WEAK, "cache", 4),
            E(1, PROPERTY, "b", 2),
            E(1, PROPERTY, "c", 3),
            E(2, PROPERTY, "d", 4),
            E(3, PROPERTY, "d", 4),
            E(4, PROPERTY, "w", 5),
        ],
    ))
}

#[test]
fn diamond_dominators_ignore_the_weak_edge() {
    let d = dominators(&diamond()).expect("edges kept");
    assert_eq!(d.idom, [0, 0, 1, 1, 1, 4]);
}

#[test]
fn diamond_retained_sizes() {
    let d = dominators(&diamond()).expect("edges kept");
    assert_eq!(d.retained, [150, 150, 20, 30, 90, 50]);
}

#[test]
fn class_retained_counts_nested_objects_once() {
    // root → L1 → L2 → L3 (a linked list of one class) and root → X.
    let s = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Link", 3, 10, 0),
            N(OBJECT, "Link", 5, 10, 0),
            N(OBJECT, "Link", 7, 10, 0),
            N(OBJECT, "X", 9, 5, 0),
        ],
        &[
            E(0, PROPERTY, "head", 1),
            E(1, PROPERTY, "next", 2),
            E(2, PROPERTY, "next", 3),
            E(0, PROPERTY, "x", 4),
        ],
    ));
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    let link = summary
        .classes
        .iter()
        .find(|c| c.name == "Link")
        .expect("Link class");
    assert_eq!(
        (link.count, link.self_size, link.retained_size),
        (3, 30, 30)
    );
    assert_eq!(summary.classes[0].name, "(synthetic)");
    assert_eq!(summary.classes[0].retained_size, 35);
    assert_eq!(summary.classes[1].name, "Link");
}

#[test]
fn shortcut_edges_retain_only_from_the_root() {
    // root -shortcut-> G; H -shortcut-> G must not make H dominate anything.
    let s = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "G", 3, 10, 0),
            N(OBJECT, "H", 5, 10, 0),
            N(OBJECT, "T", 7, 7, 0),
        ],
        &[
            E(0, SHORTCUT, "global", 1),
            E(0, PROPERTY, "h", 2),
            E(2, SHORTCUT, "t", 3),
            E(1, PROPERTY, "t", 3),
        ],
    ));
    let d = dominators(&s).expect("edges kept");
    assert_eq!(d.idom, [0, 0, 0, 1]);
    assert_eq!(d.retained, [27, 17, 10, 7]);
}

#[test]
fn unreachable_nodes_hang_under_the_root() {
    let s = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Live", 3, 10, 0),
            N(OBJECT, "Orphan", 5, 4, 0),
        ],
        &[E(0, PROPERTY, "live", 1), E(2, PROPERTY, "back", 1)],
    ));
    let d = dominators(&s).expect("edges kept");
    assert_eq!(d.idom, [0, 0, 0]);
    assert_eq!(d.retained, [14, 10, 4]);
}

#[test]
fn detached_nodes_are_counted_by_class() {
    let s = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(NATIVE, "Detached HTMLDivElement", 3, 100, 2),
            N(NATIVE, "Detached HTMLDivElement", 5, 100, 2),
            N(NATIVE, "HTMLBodyElement", 7, 80, 1),
        ],
        &[
            E(0, PROPERTY, "a", 1),
            E(1, ELEMENT, "0", 2),
            E(0, PROPERTY, "body", 3),
        ],
    ));
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    assert_eq!(summary.detached_nodes, 2);
    assert_eq!(summary.detached_classes.len(), 1);
    assert_eq!(summary.detached_classes[0].name, "Detached HTMLDivElement");
    assert_eq!(summary.detached_classes[0].count, 2);
    assert_eq!(summary.detached_classes[0].self_size, 200);
}

#[test]
fn closures_held_by_timers_are_found() {
    // Blink's chain: DOMTimer → ScheduledAction → V8Function → closure.
    let s = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(NATIVE, "DOMTimer", 3, 40, 0),
            N(NATIVE, "ScheduledAction", 5, 30, 0),
            N(NATIVE, "V8Function", 7, 20, 0),
            N(CLOSURE, "pollStatus", 9, 32, 0),
            N(OBJECT, "PollState", 11, 24, 0),
        ],
        &[
            E(0, ELEMENT, "1", 1),
            E(1, ELEMENT, "1", 2),
            E(2, ELEMENT, "2", 3),
            E(3, ELEMENT, "1", 4),
            E(4, CONTEXT, "state", 5),
        ],
    ));
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    assert_eq!(summary.held_closures.len(), 1);
    let held = &summary.held_closures[0];
    assert_eq!(held.holder, "DOMTimer");
    assert_eq!(held.name, "pollStatus");
    assert_eq!(held.count, 1);
    assert_eq!(held.retained_size, 56);
    assert_eq!(held.sample_ids, [9]);
}

fn before() -> HeapSnapshot {
    parse(&before_text())
}

fn after() -> HeapSnapshot {
    parse(&after_text())
}

#[test]
fn diff_counts_added_and_removed_by_id() {
    let d = diff(&before(), &after());
    assert_eq!(d.classes.len(), 2, "Foo and the root did not change");
    let bar = &d.classes[0];
    assert_eq!(bar.name, "Bar");
    assert_eq!((bar.added, bar.removed), (2, 1));
    assert_eq!((bar.added_size, bar.removed_size), (44, 20));
    assert_eq!((bar.count_delta, bar.size_delta), (1, 24));
    assert_eq!(bar.new_ids, [11, 9], "in the second snapshot's order");
    let baz = &d.classes[1];
    assert_eq!(baz.name, "Baz");
    assert_eq!(
        (baz.added, baz.removed, baz.count_delta, baz.size_delta),
        (1, 0, 1, 8)
    );
    assert_eq!(baz.new_ids, [13]);
}

#[test]
fn diff_the_other_way_is_the_negation() {
    let d = diff(&after(), &before());
    let bar = d.classes.iter().find(|c| c.name == "Bar").expect("Bar");
    assert_eq!(
        (bar.added, bar.removed, bar.count_delta, bar.size_delta),
        (1, 2, -1, -24)
    );
    let baz = d.classes.iter().find(|c| c.name == "Baz").expect("Baz");
    assert_eq!((baz.count_delta, baz.size_delta), (-1, -8));
}

#[test]
fn diff_files_parses_both_and_matches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.heapsnapshot");
    let b = dir.path().join("b.heapsnapshot");
    std::fs::write(&a, before_text()).expect("write");
    std::fs::write(&b, after_text()).expect("write");
    let d = diff_files(&a, &b).expect("diff");
    assert_eq!(d.before_nodes, 4);
    assert_eq!(d.after_nodes, 6);
    assert_eq!(d.classes[0].name, "Bar");
    assert_eq!(d.classes[0].size_delta, 24);
}

fn before_text() -> String {
    build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Foo", 3, 16, 0),
            N(OBJECT, "Bar", 5, 20, 0),
            N(OBJECT, "Bar", 7, 20, 0),
        ],
        &[
            E(0, PROPERTY, "foo", 1),
            E(1, PROPERTY, "a", 2),
            E(1, PROPERTY, "b", 3),
        ],
    )
}

/// Foo stays (id 3), Bar 5 goes, Bar 7 stays, Bars 9 and 11 and Baz 13 come.
fn after_text() -> String {
    build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Bar", 11, 24, 0),
            N(OBJECT, "Foo", 3, 16, 0),
            N(OBJECT, "Bar", 7, 20, 0),
            N(OBJECT, "Bar", 9, 20, 0),
            N(OBJECT, "Baz", 13, 8, 0),
        ],
        &[
            E(0, PROPERTY, "foo", 2),
            E(2, PROPERTY, "b", 3),
            E(2, PROPERTY, "c", 4),
            E(2, PROPERTY, "d", 1),
            E(0, PROPERTY, "z", 5),
        ],
    )
}

// --- A real Chromium 156 snapshot: 3,000 of each generator class and three
// intervals whose `pollStatus` callbacks hold a `PollState`.

fn real() -> HeapSnapshot {
    parse_file(&fixture("chromium-5mb.heapsnapshot"), ParseOptions::full()).expect("parses")
}

#[test]
fn real_snapshot_classes_have_the_allocated_counts() {
    let summary = summarize(&real(), SummaryOptions::default()).expect("summary");
    for class in ["OrderLine", "Customer", "Session"] {
        let c = summary
            .classes
            .iter()
            .find(|c| c.name == class)
            .unwrap_or_else(|| panic!("{class}"));
        assert_eq!(c.count, 3000, "{class}");
        assert!(c.retained_size >= c.self_size, "{class}");
    }
    let poll = summary
        .classes
        .iter()
        .find(|c| c.name == "PollState")
        .expect("PollState");
    assert_eq!(poll.count, 3);
    assert_eq!(summary.node_types.values().sum::<u64>(), summary.nodes);
}

#[test]
fn real_snapshot_root_retains_everything_reachable() {
    let s = real();
    let d = dominators(&s).expect("edges");
    let total: u64 = (0..s.node_count() as u32).map(|n| s.self_size(n)).sum();
    assert_eq!(d.retained[0], total);
    // A dominator is never the node itself, except at the root, and retained
    // size is never below self size.
    for n in 1..s.node_count() {
        assert_ne!(d.idom[n] as usize, n);
        assert!(d.retained[n] >= s.self_size(n as u32));
    }
}

#[test]
fn real_snapshot_timer_closures_are_held() {
    let summary = summarize(&real(), SummaryOptions::default()).expect("summary");
    let held = summary
        .held_closures
        .iter()
        .find(|h| h.name == "pollStatus")
        .expect("the intervals' callbacks are held");
    assert_eq!(held.holder, "DOMTimer");
    assert_eq!(held.count, 3);
}

#[test]
fn real_snapshot_retainer_paths_reach_the_class() {
    let s = real();
    let paths = retainer_paths_for_class(&s, "Customer", 3).expect("paths");
    assert_eq!(paths.len(), 3);
    for path in &paths {
        assert_eq!(path.steps[0].node, 0);
        assert_eq!(path.steps.last().expect("target").class, "Customer");
        // Every step's edge really leads from the previous node to this one.
        for pair in path.steps.windows(2) {
            let found = s
                .edges(pair[0].node)
                .expect("edges")
                .any(|e| e.to == pair[1].node && Some(e.name.to_string()) == pair[1].edge_name);
            assert!(found, "{}", path.to_line());
        }
    }
}

#[test]
fn summary_without_edges_has_no_retained_sizes() {
    let s = parse_file(
        &fixture("chromium-5mb.heapsnapshot"),
        ParseOptions::nodes_only(),
    )
    .expect("parses");
    let summary = summarize(&s, SummaryOptions::default()).expect("summary");
    assert!(!summary.retained_computed);
    assert!(summary.classes.iter().all(|c| c.retained_size == 0));
    assert!(dominators(&s).is_err());
}

/// Two snapshots from separate profiler sessions: V8 gave the new `Leak`
/// object the id a `Foo` had, and a `Leak` array grew in place.
#[test]
fn diff_survives_reused_ids() {
    let before = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Foo", 3, 16, 0),
            N(OBJECT, "Leak", 5, 100, 0),
        ],
        &[E(0, ELEMENT, "1", 1), E(0, ELEMENT, "2", 2)],
    ));
    let after = parse(&build(
        &[
            N(SYNTHETIC, "", 1, 0, 0),
            N(OBJECT, "Leak", 3, 100, 0),
            N(OBJECT, "Leak", 5, 300, 0),
        ],
        &[E(0, ELEMENT, "1", 1), E(0, ELEMENT, "2", 2)],
    ));
    let d = diff(&before, &after);
    let leak = d.classes.iter().find(|c| c.name == "Leak").expect("Leak");
    assert_eq!((leak.added, leak.removed), (1, 0), "id 3 changed class");
    assert_eq!(leak.new_ids, [3]);
    assert_eq!(leak.count_delta, 1);
    assert_eq!(
        leak.size_delta, 300,
        "from the totals: 400 after, 100 before"
    );
    let foo = d.classes.iter().find(|c| c.name == "Foo").expect("Foo");
    assert_eq!((foo.removed, foo.count_delta, foo.size_delta), (1, -1, -16));
}
