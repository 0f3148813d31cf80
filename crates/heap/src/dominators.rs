//! The dominator tree and retained sizes, by the Semi-NCA algorithm (the
//! Lengauer–Tarjan semidominators with path compression, then immediate
//! dominators by walking up the spanning tree): near-linear time, and a
//! handful of `u32` arrays indexed by DFS number.
//!
//! Which edges count follows DevTools, so retained sizes agree with what a
//! developer sees there: weak edges never retain, and shortcut edges retain
//! only when they leave the synthetic root (they mark the page's global
//! objects). Nodes that no counting edge reaches from the root (kept alive
//! only through weak edges, or garbage) hang directly under the root.

use rayon::prelude::*;

use crate::error::{Result, SnapshotError};
use crate::snapshot::HeapSnapshot;

/// The dominator tree of a snapshot, indexed by node ordinal.
#[derive(Debug, Clone, Default)]
pub struct Dominators {
    /// Immediate dominator of each node; the root (node 0) is its own.
    pub idom: Vec<u32>,
    /// Retained size in bytes: the node's self size plus the self sizes of
    /// everything it dominates.
    pub retained: Vec<u64>,
}

const NONE: u32 = u32::MAX;

/// Computes immediate dominators and retained sizes from the synthetic root.
pub fn dominators(s: &HeapSnapshot) -> Result<Dominators> {
    if !s.options.keep_edges {
        return Err(SnapshotError::NotKept { what: "edges" });
    }
    let n = s.node_count();
    if n == 0 {
        return Ok(Dominators::default());
    }
    let weak = s.types.edge_weak;
    let shortcut = s.types.edge_shortcut;
    let counts = |src: u32, t: u8| Some(t) != weak && (Some(t) != shortcut || src == 0);

    // The depth-first numbering and the predecessor lists each read every
    // edge once and do not depend on each other, so they run on both cores.
    let ((order, parent, pre_of), (pred_start, mut preds)) =
        rayon::join(|| depth_first(s, counts), || predecessors(s, counts));
    // Predecessors as DFS numbers, as the semidominator step compares them.
    preds
        .par_chunks_mut(1 << 16)
        .for_each(|chunk| chunk.iter_mut().for_each(|v| *v = pre_of[*v as usize]));

    // Semidominators, processed in reverse DFS order. `ancestor` is the
    // spanning forest of processed vertices, compressed as it is searched;
    // `label[v]` is the vertex of least semidominator on v's compressed path.
    // Buffers are reused where sizes match: fresh pages cost a page fault
    // each, which on a 5-million-node graph is a good part of the run time.
    let mut ancestor = pre_of;
    ancestor.copy_from_slice(&parent);
    let mut semi: Vec<u32> = (0..n as u32).collect();
    let mut label: Vec<u32> = (0..n as u32).collect();
    let mut path: Vec<u32> = Vec::new();
    for w in (1..n).rev() {
        let mut sw = parent[w];
        let last = w as u32 + 1;
        let node = order[w] as usize;
        for &v in &preds[pred_start[node] as usize..pred_start[node + 1] as usize] {
            let u = eval(v, last, &mut ancestor, &mut label, &semi, &mut path);
            sw = sw.min(semi[u as usize]);
        }
        semi[w] = sw;
    }
    drop(label);
    drop(preds);
    drop(pred_start);
    drop(ancestor);

    // Immediate dominators: the nearest spanning-tree ancestor at or above
    // the semidominator, found in increasing DFS order.
    let mut idom = parent;
    for w in 1..n {
        let sw = semi[w];
        let mut c = idom[w];
        while c > sw {
            c = idom[c as usize];
        }
        idom[w] = c;
    }
    let mut idom_node = semi;

    // Retained sizes: children have higher DFS numbers than their immediate
    // dominators, so one backward pass adds every subtree into its parent.
    let mut retained: Vec<u64> = s.self_size.iter().map(|&x| u64::from(x)).collect();
    for p in (1..n).rev() {
        let node = order[p] as usize;
        let dom = order[idom[p] as usize] as usize;
        retained[dom] += retained[node];
    }
    for p in 0..n {
        idom_node[order[p] as usize] = order[idom[p] as usize];
    }
    Ok(Dominators {
        idom: idom_node,
        retained,
    })
}

/// Numbers the nodes in depth-first order over counting edges, from the root
/// first and then from every node not reached yet. Returns the order (node
/// by DFS number), the spanning-tree parent of each DFS number, and the DFS
/// number of each node.
fn depth_first(
    s: &HeapSnapshot,
    counts: impl Fn(u32, u8) -> bool,
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let n = s.node_count();
    let mut pre_of = vec![NONE; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    let mut stack: Vec<(u32, u32)> = Vec::new();
    for start in std::iter::once(0).chain(1..n as u32) {
        if pre_of[start as usize] != NONE {
            continue;
        }
        pre_of[start as usize] = order.len() as u32;
        order.push(start);
        parent.push(0);
        stack.push((start, s.first_edge[start as usize]));
        while let Some(&(v, mut e)) = stack.last() {
            let end = s.first_edge[v as usize + 1];
            let mut next = NONE;
            while e < end {
                let t = s.edge_type[e as usize];
                let w = s.edge_to[e as usize];
                e += 1;
                if counts(v, t) && pre_of[w as usize] == NONE {
                    next = w;
                    break;
                }
            }
            let top = stack.len() - 1;
            stack[top].1 = e;
            if next == NONE {
                stack.pop();
            } else {
                pre_of[next as usize] = order.len() as u32;
                order.push(next);
                parent.push(pre_of[v as usize]);
                stack.push((next, s.first_edge[next as usize]));
            }
        }
    }
    (order, parent, pre_of)
}

/// Collects the sources of the counting edges into each node, in compressed
/// rows by node ordinal: row `w` is `preds[start[w]..start[w + 1]]`.
fn predecessors(s: &HeapSnapshot, counts: impl Fn(u32, u8) -> bool) -> (Vec<u32>, Vec<u32>) {
    let n = s.node_count();
    let mut start = vec![0u32; n + 1];
    for v in 0..n as u32 {
        for e in s.first_edge[v as usize]..s.first_edge[v as usize + 1] {
            if counts(v, s.edge_type[e as usize]) {
                start[s.edge_to[e as usize] as usize + 1] += 1;
            }
        }
    }
    for i in 1..=n {
        start[i] += start[i - 1];
    }
    // Fill each row from its start, using `start` as the cursor. After
    // filling, `start[i]` is the end of row i, so shift it back.
    let mut preds = vec![0u32; start[n] as usize];
    for v in 0..n as u32 {
        for e in s.first_edge[v as usize]..s.first_edge[v as usize + 1] {
            if counts(v, s.edge_type[e as usize]) {
                let w = s.edge_to[e as usize] as usize;
                preds[start[w] as usize] = v;
                start[w] += 1;
            }
        }
    }
    for i in (1..=n).rev() {
        start[i] = start[i - 1];
    }
    start[0] = 0;
    (start, preds)
}

/// Returns the vertex of least semidominator on the path from `v` up to the
/// root of its tree in the processed forest, compressing the path on the way.
/// Vertices numbered below `last` are not processed yet and stand alone.
fn eval(
    v: u32,
    last: u32,
    ancestor: &mut [u32],
    label: &mut [u32],
    semi: &[u32],
    path: &mut Vec<u32>,
) -> u32 {
    if ancestor[v as usize] < last {
        return label[v as usize];
    }
    path.clear();
    let mut x = v;
    loop {
        path.push(x);
        x = ancestor[x as usize];
        if ancestor[x as usize] < last {
            break;
        }
    }
    let mut p = x;
    let mut p_label = label[p as usize];
    while let Some(y) = path.pop() {
        ancestor[y as usize] = ancestor[p as usize];
        let y_label = label[y as usize];
        if semi[p_label as usize] < semi[y_label as usize] {
            label[y as usize] = p_label;
        } else {
            p_label = y_label;
        }
        p = y;
    }
    label[v as usize]
}
