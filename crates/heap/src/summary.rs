//! The summary of one snapshot: totals, a histogram by node type, classes
//! with counts, self and retained sizes, detached DOM nodes, and closures held
//! by timers and pending activities. Classes are grouped as the DevTools
//! summary groups them, and a class's retained size counts each object once:
//! an object dominated by another object of its own class adds nothing more.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::dominators::{dominators, Dominators};
use crate::error::Result;
use crate::snapshot::HeapSnapshot;

/// What [`summarize`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOptions {
    /// Compute the dominator tree and retained sizes (needs edges).
    pub retained: bool,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions { retained: true }
    }
}

/// One class (constructor) in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassSummary {
    pub name: String,
    pub count: u64,
    /// Bytes.
    pub self_size: u64,
    /// Bytes; 0 when retained sizes were not computed.
    pub retained_size: u64,
}

/// Closures kept alive by one kind of holder (a timer, a pending activity),
/// grouped by the closure's function name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldClosure {
    /// The holder's name, as in the snapshot (`DOMTimer`, `Pending activities`).
    pub holder: String,
    /// The function name (`(anonymous)` when it has none).
    pub name: String,
    pub count: u64,
    /// Bytes retained by these closures together (0 without retained sizes).
    pub retained_size: u64,
    /// Ids of up to five of them, for `leakscope retainers --node`.
    pub sample_ids: Vec<u64>,
}

/// The summary of one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub nodes: u64,
    pub edges: u64,
    /// Bytes: the sum of all self sizes.
    pub self_size: u64,
    /// Node type name → number of nodes.
    pub node_types: BTreeMap<String, u64>,
    /// Largest retained size first (largest self size when not computed).
    pub classes: Vec<ClassSummary>,
    /// Nodes whose `detachedness` says detached.
    pub detached_nodes: u64,
    /// Detached nodes by class, most first.
    pub detached_classes: Vec<ClassSummary>,
    /// Whether the snapshot records detachedness at all.
    pub has_detachedness: bool,
    pub held_closures: Vec<HeldClosure>,
    pub retained_computed: bool,
}

/// Names of nodes that keep callbacks alive on the page's behalf: Blink's
/// timers and their scheduled actions, its pending activities root, and
/// Node.js timer objects.
const HOLDERS: [&str; 5] = [
    "DOMTimer",
    "ScheduledAction",
    "Pending activities",
    "Timeout",
    "Immediate",
];

/// How far from a holder, through non-JavaScript nodes, a closure is looked
/// for: Blink's chain is DOMTimer → ScheduledAction → V8Function → closure.
const HOLDER_DEPTH: u32 = 4;

/// Summarises a snapshot (with retained sizes when asked and edges were kept).
pub fn summarize(s: &HeapSnapshot, options: SummaryOptions) -> Result<Summary> {
    if !(options.retained && s.options.keep_edges) {
        return Ok(summarize_with(s, None));
    }
    // The per-class counts run after the dominator tree, not beside it. The
    // class of every node (4 bytes each), alive during the tree's build, took
    // the peak memory of a 400 MB snapshot past 400 MB. The tree already uses
    // both cores inside.
    let doms = dominators(s)?;
    let tally = Tally::new(s);
    Ok(tally.finish(s, Some(&doms)))
}

/// Summarises a snapshot with dominators computed elsewhere.
pub fn summarize_with(s: &HeapSnapshot, doms: Option<&Dominators>) -> Summary {
    Tally::new(s).finish(s, doms)
}

/// Counts of the summary that need only the nodes, not retained sizes.
struct Tally {
    type_counts: Vec<u64>,
    self_total: u64,
    class_of: Vec<u32>,
    names: Vec<String>,
    classes: Vec<ClassSummary>,
}

impl Tally {
    fn new(s: &HeapSnapshot) -> Tally {
        let n = s.node_count();
        let mut type_counts = vec![0u64; s.node_type_names.len()];
        let mut self_total = 0u64;
        for i in 0..n {
            type_counts[s.node_type[i] as usize] += 1;
            self_total += u64::from(s.self_size[i]);
        }
        let (class_of, names) = classify(s);
        let mut classes: Vec<ClassSummary> = names
            .iter()
            .map(|name| ClassSummary {
                name: name.clone(),
                count: 0,
                self_size: 0,
                retained_size: 0,
            })
            .collect();
        for i in 0..n {
            let c = &mut classes[class_of[i] as usize];
            c.count += 1;
            c.self_size += u64::from(s.self_size[i]);
        }
        Tally {
            type_counts,
            self_total,
            class_of,
            names,
            classes,
        }
    }

    fn finish(self, s: &HeapSnapshot, doms: Option<&Dominators>) -> Summary {
        let Tally {
            type_counts,
            self_total,
            class_of,
            names,
            mut classes,
        } = self;
        let n = s.node_count();
        let node_types = s
            .node_type_names
            .iter()
            .zip(&type_counts)
            .filter(|(_, &c)| c > 0)
            .map(|(name, &c)| (name.clone(), c))
            .collect();
        if let Some(d) = doms {
            for (class, retained) in class_retained(&d.idom, &d.retained, &class_of, names.len())
                .into_iter()
                .enumerate()
            {
                classes[class].retained_size = retained;
            }
        }

        let mut detached_nodes = 0;
        let mut detached_by_class: HashMap<u32, (u64, u64)> = HashMap::new();
        for (i, &d) in s.detachedness.iter().enumerate() {
            if d == 2 {
                detached_nodes += 1;
                let e = detached_by_class.entry(class_of[i]).or_default();
                e.0 += 1;
                e.1 += u64::from(s.self_size[i]);
            }
        }
        let mut detached_classes: Vec<ClassSummary> = detached_by_class
            .into_iter()
            .map(|(c, (count, size))| ClassSummary {
                name: names[c as usize].clone(),
                count,
                self_size: size,
                retained_size: 0,
            })
            .collect();
        detached_classes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));

        classes.sort_by(|a, b| {
            b.retained_size
                .cmp(&a.retained_size)
                .then_with(|| b.self_size.cmp(&a.self_size))
                .then_with(|| a.name.cmp(&b.name))
        });

        Summary {
            nodes: n as u64,
            edges: s.edge_count,
            self_size: self_total,
            node_types,
            classes,
            detached_nodes,
            detached_classes,
            has_detachedness: !s.detachedness.is_empty(),
            held_closures: held_closures(s, doms),
            retained_computed: doms.is_some(),
        }
    }
}

/// Gives every node a class id, and returns the class names by id.
pub(crate) fn classify(s: &HeapSnapshot) -> (Vec<u32>, Vec<String>) {
    const UNSET: u32 = u32::MAX;
    let mut by_string = vec![UNSET; s.strings.len()];
    let mut by_type = vec![UNSET; s.node_type_names.len()];
    let mut by_name: HashMap<String, u32> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut intern = |name: std::borrow::Cow<'_, str>, names: &mut Vec<String>| -> u32 {
        if let Some(&id) = by_name.get(name.as_ref()) {
            return id;
        }
        let id = names.len() as u32;
        names.push(name.to_string());
        by_name.insert(name.into_owned(), id);
        id
    };
    let mut class_of = Vec::with_capacity(s.node_count());
    for i in 0..s.node_count() as u32 {
        let t = s.node_type[i as usize];
        let named = Some(t) == s.types.object || Some(t) == s.types.native;
        let slot = if named {
            &mut by_string[s.node_name[i as usize] as usize]
        } else {
            &mut by_type[t as usize]
        };
        if *slot == UNSET {
            *slot = intern(s.class_name(i), &mut names);
        }
        class_of.push(*slot);
    }
    (class_of, names)
}

/// Retained size per class: a depth-first walk of the dominator tree adds an
/// object's retained size unless an object of its class is above it.
fn class_retained(idom: &[u32], retained: &[u64], class_of: &[u32], classes: usize) -> Vec<u64> {
    let n = idom.len();
    let mut out = vec![0u64; classes];
    if n == 0 {
        return out;
    }
    // Children lists of the dominator tree.
    let mut start = vec![0u32; n + 1];
    for &d in idom.iter().skip(1) {
        start[d as usize + 1] += 1;
    }
    for i in 1..=n {
        start[i] += start[i - 1];
    }
    let mut children = vec![0u32; n.saturating_sub(1)];
    let mut cursor = start.clone();
    for (v, &d) in idom.iter().enumerate().skip(1) {
        children[cursor[d as usize] as usize] = v as u32;
        cursor[d as usize] += 1;
    }
    drop(cursor);
    let mut above = vec![0u32; classes];
    let mut stack: Vec<(u32, u32)> = vec![(0, start[0])];
    let enter = |v: u32, above: &mut [u32], out: &mut [u64]| {
        let c = class_of[v as usize] as usize;
        if above[c] == 0 {
            out[c] += retained[v as usize];
        }
        above[c] += 1;
    };
    enter(0, &mut above, &mut out);
    while let Some(&(v, next)) = stack.last() {
        if next < start[v as usize + 1] {
            let top = stack.len() - 1;
            stack[top].1 = next + 1;
            let child = children[next as usize];
            enter(child, &mut above, &mut out);
            stack.push((child, start[child as usize]));
        } else {
            above[class_of[v as usize] as usize] -= 1;
            stack.pop();
        }
    }
    out
}

/// Finds closures that timers and pending activities keep alive.
fn held_closures(s: &HeapSnapshot, doms: Option<&Dominators>) -> Vec<HeldClosure> {
    if !s.options.keep_edges || s.types.closure.is_none() {
        return Vec::new();
    }
    let holder_strings: Vec<(u32, &str)> = (0..s.strings.len() as u32)
        .filter_map(|i| {
            let text = s.strings.get(i);
            HOLDERS.iter().find(|h| **h == text).map(|h| (i, *h))
        })
        .collect();
    if holder_strings.is_empty() {
        return Vec::new();
    }
    let mut seen = vec![false; s.node_count()];
    let mut groups: BTreeMap<(usize, String), HeldClosure> = BTreeMap::new();
    for (rank, holder) in HOLDERS.iter().enumerate() {
        let Some(&(string, _)) = holder_strings.iter().find(|(_, h)| h == holder) else {
            continue;
        };
        for start in 0..s.node_count() as u32 {
            let t = Some(s.node_type[start as usize]);
            let holder_type = t == s.types.native || t == s.types.object || t == s.types.synthetic;
            if s.node_name[start as usize] != string || !holder_type {
                continue;
            }
            let mut frontier = vec![start];
            for _ in 0..HOLDER_DEPTH {
                let mut next = Vec::new();
                for &v in &frontier {
                    for e in s.first_edge[v as usize]..s.first_edge[v as usize + 1] {
                        if Some(s.edge_type[e as usize]) == s.types.edge_weak {
                            continue;
                        }
                        let w = s.edge_to[e as usize];
                        let wt = Some(s.node_type[w as usize]);
                        if wt == s.types.closure {
                            if !seen[w as usize] {
                                seen[w as usize] = true;
                                let name = match s.node_name(w) {
                                    "" => "(anonymous)".to_string(),
                                    other => other.to_string(),
                                };
                                let g = groups.entry((rank, name.clone())).or_insert_with(|| {
                                    HeldClosure {
                                        holder: holder.to_string(),
                                        name,
                                        count: 0,
                                        retained_size: 0,
                                        sample_ids: Vec::new(),
                                    }
                                });
                                g.count += 1;
                                g.retained_size += doms.map_or(0, |d| d.retained[w as usize]);
                                if g.sample_ids.len() < 5 {
                                    g.sample_ids.push(s.node_id(w));
                                }
                            }
                        } else if wt == s.types.native || wt == s.types.hidden {
                            next.push(w);
                        }
                    }
                }
                frontier = next;
            }
        }
    }
    let mut out: Vec<HeldClosure> = groups.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.retained_size.cmp(&a.retained_size))
    });
    out
}
