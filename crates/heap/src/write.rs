//! Writes a graph back as a `.heapsnapshot` in the current V8 layout and key
//! order (six node fields, `snapshot`, `nodes`, `edges`, trace arrays,
//! `samples`, `locations`, `strings`), so the files Leakscope writes open in
//! Chrome DevTools and in any tool that expects V8's own output.

use std::io::Write;

use crate::error::{Result, SnapshotError};
use crate::snapshot::HeapSnapshot;

/// Writes `s` as JSON to `out`. Needs a snapshot parsed with every column
/// ([`crate::ParseOptions::full`]). Wrap `out` in a `BufWriter` for files.
pub fn write_snapshot<W: Write>(s: &HeapSnapshot, out: W) -> Result<()> {
    let o = s.options;
    if !(o.keep_nodes && o.keep_edges && o.keep_edge_names) {
        return Err(SnapshotError::NotKept {
            what: "every column",
        });
    }
    write_all(s, out).map_err(|source| SnapshotError::Write { source })
}

fn write_all<W: Write>(s: &HeapSnapshot, mut w: W) -> std::io::Result<()> {
    let node_types = serde_json::to_string(&s.node_type_names)?;
    let edge_types = serde_json::to_string(&s.edge_type_names)?;
    write!(
        w,
        "{{\"snapshot\":{{\"meta\":{{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"detachedness\"],\
         \"node_types\":[{node_types},\"string\",\"number\",\"number\",\"number\",\"number\"],\
         \"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],\
         \"edge_types\":[{edge_types},\"string_or_number\",\"node\"],\
         \"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\",\"line\",\"column\"],\
         \"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],\
         \"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],\
         \"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}},\
         \"node_count\":{},\"edge_count\":{},\"trace_function_count\":0}},\n\"nodes\":[",
        s.node_count(),
        s.edge_count
    )?;
    for i in 0..s.node_count() {
        let sep = if i == 0 { "" } else { ",\n" };
        let edges = s.first_edge[i + 1] - s.first_edge[i];
        let detached = s.detachedness.get(i).copied().unwrap_or(0);
        write!(
            w,
            "{sep}{},{},{},{},{},{}",
            s.node_type[i], s.node_name[i], s.node_id[i], s.self_size[i], edges, detached
        )?;
    }
    w.write_all(b"],\n\"edges\":[")?;
    for e in 0..s.edge_to.len() {
        let sep = if e == 0 { "" } else { ",\n" };
        let to = u64::from(s.edge_to[e]) * 6;
        write!(w, "{sep}{},{},{to}", s.edge_type[e], s.edge_name[e])?;
    }
    w.write_all(b"],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[],\n\"strings\":[")?;
    for i in 0..s.strings.len() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut w, s.strings.get(i as u32))?;
    }
    w.write_all(b"]}\n")?;
    w.flush()
}
