//! The streaming parser. It reads the file in large chunks and never keeps it
//! whole in memory: numeric arrays (`nodes`, `edges`) are scanned byte by byte straight
//! into columns, `strings` are unescaped into one packed buffer, the small
//! `snapshot` object goes through serde_json, and every other top-level value
//! (trace trees, samples, locations, scopes, keys a newer V8 adds) is skipped
//! without being decoded. Keys may come in any order; when `nodes` or `edges`
//! come before `snapshot`, their raw numbers wait until the layout is known.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{describe_byte, Result, Section, SnapshotError};
use crate::meta::{parse_layout, EdgeRole, Layout, NodeRole};
use crate::snapshot::{HeapSnapshot, KnownTypes, ParseOptions, Strings};

/// Bytes read from the source at a time. Large enough that the per-read cost
/// vanishes, small enough not to matter for peak memory.
const CHUNK: usize = 4 << 20;

/// Called with the number of bytes read so far, once per chunk.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Parses a snapshot file with the given columns kept.
pub fn parse_file(path: &Path, options: ParseOptions) -> Result<HeapSnapshot> {
    parse_file_with_progress(path, options, None)
}

/// Like [`parse_file`], reporting bytes read to `progress`.
pub fn parse_file_with_progress(
    path: &Path,
    options: ParseOptions,
    progress: Option<Progress<'_>>,
) -> Result<HeapSnapshot> {
    let file = File::open(path).map_err(|source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(CHUNK as u64);
    parse_with_chunk(file, options, progress, chunk_for(size))
}

/// Returns a read buffer size no bigger than the input, so small files and
/// fuzz inputs do not pay for zeroing a full chunk.
fn chunk_for(len: u64) -> usize {
    (len.saturating_add(1)).clamp(64, CHUNK as u64) as usize
}

/// Parses a snapshot from bytes in memory (tests, fuzzing).
pub fn parse_bytes(bytes: &[u8], options: ParseOptions) -> Result<HeapSnapshot> {
    parse_with_chunk(bytes, options, None, chunk_for(bytes.len() as u64))
}

/// Parses a snapshot from any reader, which is read in large chunks.
pub fn parse_reader<R: Read>(
    reader: R,
    options: ParseOptions,
    progress: Option<Progress<'_>>,
) -> Result<HeapSnapshot> {
    parse_with_chunk(reader, options, progress, CHUNK)
}

fn parse_with_chunk<R: Read>(
    reader: R,
    options: ParseOptions,
    progress: Option<Progress<'_>>,
    chunk: usize,
) -> Result<HeapSnapshot> {
    let mut input = Input::new(reader, progress, chunk);
    let raw = read_document(&mut input, options)?;
    let saturated = raw.nodes.as_ref().map_or(0, |n| n.saturated_sizes);
    if saturated > 0 {
        tracing::warn!(saturated, "self sizes above 4 GiB were stored as 4 GiB");
    }
    match assemble(raw, options)? {
        Assembled::Snapshot(snapshot) => {
            tracing::debug!(
                nodes = snapshot.node_count(),
                edges = snapshot.edge_count(),
                bytes = input.offset(),
                "parsed heap snapshot"
            );
            Ok(*snapshot)
        }
        // Only `check_only` keeps no nodes, and it is not public.
        Assembled::Counts { .. } => Err(SnapshotError::NotKept { what: "nodes" }),
    }
}

/// Counts of a checked file, from a check that keeps nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotSummaryHeader {
    /// Nodes in the `nodes` array (equal to the header's `node_count`).
    pub node_count: u64,
    /// Edges in the `edges` array.
    pub edge_count: u64,
    /// Entries of the `strings` array.
    pub string_count: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Checks that a file is a complete snapshot of the expected shape, with as
/// many nodes and edges as its header announces, keeping nothing in memory.
pub fn validate_file(path: &Path) -> Result<SnapshotSummaryHeader> {
    let file = File::open(path).map_err(|source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(CHUNK as u64);
    validate_with_chunk(file, chunk_for(size))
}

/// [`validate_file`] over any reader.
pub fn validate_reader<R: Read>(reader: R) -> Result<SnapshotSummaryHeader> {
    validate_with_chunk(reader, CHUNK)
}

fn validate_with_chunk<R: Read>(reader: R, chunk: usize) -> Result<SnapshotSummaryHeader> {
    let mut input = Input::new(reader, None, chunk);
    let raw = read_document(&mut input, ParseOptions::check_only())?;
    let bytes = input.offset();
    let string_count = raw.string_count;
    let (node_count, edge_count) = match assemble(raw, ParseOptions::check_only())? {
        Assembled::Snapshot(s) => (s.node_count() as u64, s.edge_count()),
        Assembled::Counts {
            node_count,
            edge_count,
        } => (node_count, edge_count),
    };
    Ok(SnapshotSummaryHeader {
        node_count,
        edge_count,
        string_count,
        bytes,
    })
}

// ---------------------------------------------------------------------------
// Input

struct Input<'p, R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    progress: Option<Progress<'p>>,
}

impl<'p, R: Read> Input<'p, R> {
    fn new(src: R, progress: Option<Progress<'p>>, chunk: usize) -> Self {
        Input {
            src,
            buf: vec![0; chunk],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            progress,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Moves unread bytes to the front and reads more. Returns false at the
    /// end of input (nothing was added).
    fn refill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len();
            self.buf.resize(len * 2, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    if let Some(progress) = self.progress {
                        progress(self.base + self.end as u64);
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(SnapshotError::Read {
                        offset: self.offset(),
                        source,
                    })
                }
            }
        }
    }

    /// Returns the next byte that is not whitespace, without consuming it.
    fn peek_token(&mut self) -> Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if !is_ws(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes and returns the next non-whitespace byte. The end of input is
    /// an error here.
    fn next_token(&mut self, section: Section) -> Result<u8> {
        match self.peek_token()? {
            Some(b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(section)),
        }
    }

    fn expect(&mut self, want: u8, section: Section, expected: &'static str) -> Result<()> {
        let b = self.next_token(section)?;
        if b == want {
            Ok(())
        } else {
            Err(self.syntax_at(self.offset() - 1, section, expected, b))
        }
    }

    fn truncated(&self, section: Section) -> SnapshotError {
        SnapshotError::Truncated {
            section,
            offset: self.offset(),
        }
    }

    fn syntax_at(
        &self,
        offset: u64,
        section: Section,
        expected: &'static str,
        b: u8,
    ) -> SnapshotError {
        SnapshotError::Syntax {
            section,
            offset,
            expected,
            found: describe_byte(b),
        }
    }

    /// Makes at least `n` bytes available from `pos`, unless input ends.
    fn ensure(&mut self, n: usize) -> Result<bool> {
        while self.end - self.pos < n {
            if !self.refill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

// ---------------------------------------------------------------------------
// Document

/// Numeric array values read before the layout was known.
struct Deferred {
    values: Vec<u64>,
}

#[derive(Default)]
struct RawSnapshot {
    layout: Option<Layout>,
    nodes: Option<NodeColumns>,
    edges: Option<EdgeColumns>,
    deferred_nodes: Option<Deferred>,
    deferred_edges: Option<Deferred>,
    strings: Option<Strings>,
    string_count: u64,
}

fn read_document<R: Read>(input: &mut Input<'_, R>, options: ParseOptions) -> Result<RawSnapshot> {
    let mut raw = RawSnapshot::default();
    match input.peek_token()? {
        None => return Err(SnapshotError::Empty),
        Some(b'{') => input.pos += 1,
        Some(b) => return Err(input.syntax_at(input.offset(), Section::Document, "`{`", b)),
    }
    // The section the reader is in or has just finished: a file that ends
    // between two keys is reported as cut after the last complete section.
    let mut section = Section::Document;
    let mut key = Vec::new();
    let mut first = true;
    loop {
        let b = input.next_token(section)?;
        if b == b'}' && first {
            break;
        }
        if b != b'"' {
            return Err(input.syntax_at(input.offset() - 1, Section::Document, "a key", b));
        }
        key.clear();
        read_string(input, Section::Document, &mut key)?;
        section = match key.as_slice() {
            b"snapshot" => Section::Meta,
            b"nodes" => Section::Nodes,
            b"edges" => Section::Edges,
            b"strings" => Section::Strings,
            _ => Section::Other,
        };
        input.expect(b':', section, "`:`")?;
        match section {
            Section::Meta => {
                let start = input.offset();
                let mut bytes = Vec::new();
                skip_value(input, section, Some(&mut bytes))?;
                raw.layout = Some(parse_layout(&bytes, start)?);
                if let Some(deferred) = raw.deferred_nodes.take() {
                    raw.nodes = Some(replay_nodes(deferred, raw.layout.as_ref(), options)?);
                }
                if let Some(deferred) = raw.deferred_edges.take() {
                    raw.edges = Some(replay_edges(deferred, raw.layout.as_ref(), options)?);
                }
            }
            Section::Nodes => {
                input.expect(b'[', section, "`[`")?;
                match &raw.layout {
                    Some(layout) => {
                        let mut cols = NodeColumns::new(layout, options);
                        let values = layout.node_count.unwrap_or(0) * layout.node_fields() as u64;
                        parse_numbers_into(input, section, values, |v| cols.push(v))?;
                        raw.nodes = Some(cols);
                    }
                    None => raw.deferred_nodes = Some(read_deferred(input, section)?),
                }
            }
            Section::Edges => {
                input.expect(b'[', section, "`[`")?;
                match &raw.layout {
                    Some(layout) => {
                        let mut cols = EdgeColumns::new(layout, options);
                        let values = layout.edge_count.unwrap_or(0) * layout.edge_fields() as u64;
                        parse_numbers_into(input, section, values, |v| cols.push(v))?;
                        raw.edges = Some(cols);
                    }
                    None => raw.deferred_edges = Some(read_deferred(input, section)?),
                }
            }
            Section::Strings => {
                input.expect(b'[', section, "`[`")?;
                let (strings, count) = read_strings(input, options.keep_nodes)?;
                raw.strings = Some(strings);
                raw.string_count = count;
            }
            _ => skip_value(input, section, None)?,
        }
        first = false;
        match input.next_token(section)? {
            b',' => continue,
            b'}' => break,
            b => {
                return Err(input.syntax_at(input.offset() - 1, Section::Document, "`,` or `}`", b))
            }
        }
    }
    if let Some(b) = input.peek_token()? {
        return Err(input.syntax_at(input.offset(), Section::Document, "the end of input", b));
    }
    Ok(raw)
}

/// Reads a numeric array whole, for a `nodes` or `edges` section that comes
/// before the meta, so its values can only be split into columns later.
fn read_deferred<R: Read>(input: &mut Input<'_, R>, section: Section) -> Result<Deferred> {
    let mut values = Vec::new();
    parse_numbers(input, section, &mut |v| {
        values.push(v);
        Ok(())
    })?;
    Ok(Deferred { values })
}

fn replay_nodes(
    deferred: Deferred,
    layout: Option<&Layout>,
    options: ParseOptions,
) -> Result<NodeColumns> {
    let layout = layout.ok_or(SnapshotError::Missing {
        section: Section::Meta,
    })?;
    let mut cols = NodeColumns::new(layout, options);
    for v in deferred.values {
        cols.push(v)?;
    }
    Ok(cols)
}

fn replay_edges(
    deferred: Deferred,
    layout: Option<&Layout>,
    options: ParseOptions,
) -> Result<EdgeColumns> {
    let layout = layout.ok_or(SnapshotError::Missing {
        section: Section::Meta,
    })?;
    let mut cols = EdgeColumns::new(layout, options);
    for v in deferred.values {
        cols.push(v)?;
    }
    Ok(cols)
}

// ---------------------------------------------------------------------------
// Numbers

/// Arrays announced with at least this many values are parsed on two
/// threads: this one scans digits, a second one stores the values.
const PIPELINE_MIN_VALUES: u64 = 1 << 18;

/// Values handed from the scanning thread to the storing thread at a time.
const BATCH: usize = 1 << 19;

/// Reads a numeric array into `sink`, on two threads when it is big.
fn parse_numbers_into<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    expected_values: u64,
    mut sink: impl FnMut(u64) -> Result<()> + Send,
) -> Result<u64> {
    if expected_values < PIPELINE_MIN_VALUES {
        return parse_numbers(input, section, &mut sink);
    }
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u64>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u64>>(4);
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || -> Result<()> {
            for batch in full_rx {
                for &v in &batch {
                    sink(v)?;
                }
                // The scanner may be gone already; the buffer is then freed.
                let _ = empty_tx.try_send(batch);
            }
            Ok(())
        });
        let mut batch: Vec<u64> = Vec::with_capacity(BATCH);
        let mut consumer_gone = false;
        let scanned = parse_numbers(input, section, &mut |v| {
            batch.push(v);
            if batch.len() == BATCH {
                let mut next = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                next.clear();
                let full = std::mem::replace(&mut batch, next);
                if full_tx.send(full).is_err() {
                    // The storing thread stopped on an error; it is reported below.
                    consumer_gone = true;
                    return Err(SnapshotError::Worker { section });
                }
            }
            Ok(())
        });
        if !batch.is_empty() && !consumer_gone {
            let _ = full_tx.send(std::mem::take(&mut batch));
        }
        drop(full_tx);
        let stored = consumer
            .join()
            .unwrap_or(Err(SnapshotError::Worker { section }));
        // A storing error comes first: it is about values before the scan stopped.
        stored?;
        scanned
    })
}

const EXPECT_FIRST: u8 = 0;
const EXPECT: u8 = 1;
const IN_NUMBER: u8 = 2;
const AFTER: u8 = 3;

/// Reads unsigned integers up to and including the closing `]` (the `[` is
/// already consumed), handing each to `sink`. State carries across chunk
/// boundaries, so a number split between two reads is read whole.
fn parse_numbers<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    sink: &mut impl FnMut(u64) -> Result<()>,
) -> Result<u64> {
    let mut state = EXPECT_FIRST;
    let mut value: u64 = 0;
    let mut digits = 0usize;
    // Offset of the number being read, which may have begun in an earlier read.
    let mut number_start = 0u64;
    let mut count = 0u64;
    loop {
        if input.pos == input.end && !input.refill()? {
            return Err(input.truncated(section));
        }
        let buf = &input.buf[..input.end];
        let mut i = input.pos;
        while i < buf.len() {
            let b = buf[i];
            if b.wrapping_sub(b'0') < 10 {
                if state == AFTER {
                    return Err(input.syntax_at(input.base + i as u64, section, "`,` or `]`", b));
                }
                if state != IN_NUMBER {
                    state = IN_NUMBER;
                    value = 0;
                    digits = 0;
                    number_start = input.base + i as u64;
                }
                let start = i;
                while i < buf.len() {
                    let d = buf[i].wrapping_sub(b'0');
                    if d >= 10 {
                        break;
                    }
                    value = value.wrapping_mul(10).wrapping_add(u64::from(d));
                    i += 1;
                }
                digits += i - start;
                // 19 digits always fit in a u64.
                if digits > 19 {
                    return Err(SnapshotError::Syntax {
                        section,
                        offset: number_start,
                        expected: "a number below 10^19",
                        found: "number with more than 19 digits".into(),
                    });
                }
                continue;
            }
            match b {
                b',' => {
                    if state == IN_NUMBER || state == AFTER {
                        sink(value)?;
                        count += 1;
                        state = EXPECT;
                    } else {
                        return Err(input.syntax_at(input.base + i as u64, section, "a number", b));
                    }
                }
                b']' => {
                    match state {
                        IN_NUMBER | AFTER => {
                            sink(value)?;
                            count += 1;
                        }
                        EXPECT_FIRST => {}
                        _ => {
                            return Err(input.syntax_at(
                                input.base + i as u64,
                                section,
                                "a number",
                                b,
                            ))
                        }
                    }
                    input.pos = i + 1;
                    return Ok(count);
                }
                b' ' | b'\n' | b'\r' | b'\t' => {
                    if state == IN_NUMBER {
                        state = AFTER;
                    }
                }
                _ => {
                    let expected = if state == IN_NUMBER || state == AFTER {
                        "`,` or `]`"
                    } else {
                        "a number"
                    };
                    return Err(input.syntax_at(input.base + i as u64, section, expected, b));
                }
            }
            i += 1;
        }
        input.pos = i;
    }
}

/// Node columns being filled; which value goes where comes from the layout.
struct NodeColumns {
    roles: Vec<NodeRole>,
    keep: bool,
    type_count: u64,
    field: usize,
    values: u64,
    node_type: Vec<u8>,
    name: Vec<u32>,
    id: Vec<u32>,
    self_size: Vec<u32>,
    first_edge: Vec<u32>,
    detachedness: Vec<u8>,
    edge_sum: u64,
    max_name: u32,
    /// Self sizes above `u32::MAX`, stored as `u32::MAX`.
    saturated_sizes: u64,
}

impl NodeColumns {
    fn new(layout: &Layout, options: ParseOptions) -> Self {
        let cap = if options.keep_nodes {
            // The header count is a hint only: cap it so a lying header
            // cannot make us allocate gigabytes up front.
            layout.node_count.unwrap_or(0).min(1 << 26) as usize
        } else {
            0
        };
        let mut first_edge = Vec::with_capacity(cap + 1);
        first_edge.push(0);
        NodeColumns {
            roles: layout.node_roles.clone(),
            keep: options.keep_nodes,
            type_count: layout.node_type_names.len() as u64,
            field: 0,
            values: 0,
            node_type: Vec::with_capacity(cap),
            name: Vec::with_capacity(cap),
            id: Vec::with_capacity(cap),
            self_size: Vec::with_capacity(cap),
            first_edge,
            detachedness: if layout.has_detachedness {
                Vec::with_capacity(cap)
            } else {
                Vec::new()
            },
            edge_sum: 0,
            max_name: 0,
            saturated_sizes: 0,
        }
    }

    fn node_index(&self) -> u64 {
        self.values / self.roles.len() as u64
    }

    fn bad(&self, field: &'static str, value: u64, reason: &'static str) -> SnapshotError {
        SnapshotError::BadValue {
            section: Section::Nodes,
            index: self.node_index(),
            field,
            value,
            reason,
        }
    }

    #[inline]
    fn push(&mut self, v: u64) -> Result<()> {
        match self.roles[self.field] {
            NodeRole::Type => {
                if v >= self.type_count {
                    return Err(self.bad("type", v, "beyond the node types in meta"));
                }
                if self.keep {
                    self.node_type.push(v as u8);
                }
            }
            NodeRole::Name => {
                let name =
                    u32::try_from(v).map_err(|_| self.bad("name", v, "not a string index"))?;
                self.max_name = self.max_name.max(name);
                if self.keep {
                    self.name.push(name);
                }
            }
            NodeRole::Id => {
                let id = u32::try_from(v).map_err(|_| self.bad("id", v, "above 2^32"))?;
                if self.keep {
                    self.id.push(id);
                }
            }
            NodeRole::SelfSize => {
                let size = u32::try_from(v).unwrap_or_else(|_| {
                    self.saturated_sizes += 1;
                    u32::MAX
                });
                if self.keep {
                    self.self_size.push(size);
                }
            }
            NodeRole::EdgeCount => {
                self.edge_sum += v;
                if self.edge_sum > u64::from(u32::MAX) {
                    return Err(self.bad("edge_count", v, "brings the edge total above 2^32"));
                }
                if self.keep {
                    self.first_edge.push(self.edge_sum as u32);
                }
            }
            NodeRole::Detachedness => {
                if self.keep {
                    self.detachedness.push(u8::try_from(v).unwrap_or(0));
                }
            }
            NodeRole::Ignore => {}
        }
        self.values += 1;
        self.field += 1;
        if self.field == self.roles.len() {
            self.field = 0;
        }
        Ok(())
    }
}

/// Edge columns being filled.
struct EdgeColumns {
    roles: Vec<EdgeRole>,
    keep: bool,
    keep_names: bool,
    type_count: u64,
    node_fields: u64,
    /// `u64::MAX / node_fields + 1`: divides a `to_node` below 2^32 exactly
    /// with one multiplication.
    magic: u64,
    field: usize,
    values: u64,
    edge_type: Vec<u8>,
    name: Vec<u32>,
    to: Vec<u32>,
    max_to: u32,
}

impl EdgeColumns {
    fn new(layout: &Layout, options: ParseOptions) -> Self {
        let cap = if options.keep_edges {
            layout.edge_count.unwrap_or(0).min(1 << 28) as usize
        } else {
            0
        };
        let node_fields = layout.node_fields() as u64;
        EdgeColumns {
            roles: layout.edge_roles.clone(),
            keep: options.keep_edges,
            keep_names: options.keep_edges && options.keep_edge_names,
            type_count: layout.edge_type_names.len() as u64,
            node_fields,
            magic: u64::MAX / node_fields + 1,
            field: 0,
            values: 0,
            edge_type: Vec::with_capacity(cap),
            name: if options.keep_edge_names {
                Vec::with_capacity(cap)
            } else {
                Vec::new()
            },
            to: Vec::with_capacity(cap),
            max_to: 0,
        }
    }

    fn bad(&self, field: &'static str, value: u64, reason: &'static str) -> SnapshotError {
        let index = self.values / self.roles.len() as u64;
        SnapshotError::BadValue {
            section: Section::Edges,
            index,
            field,
            value,
            reason,
        }
    }

    #[inline]
    fn push(&mut self, v: u64) -> Result<()> {
        match self.roles[self.field] {
            EdgeRole::Type => {
                if v >= self.type_count {
                    return Err(self.bad("type", v, "beyond the edge types in meta"));
                }
                if self.keep {
                    self.edge_type.push(v as u8);
                }
            }
            EdgeRole::NameOrIndex => {
                let name =
                    u32::try_from(v).map_err(|_| self.bad("name_or_index", v, "above 2^32"))?;
                if self.keep_names {
                    self.name.push(name);
                }
            }
            EdgeRole::ToNode => {
                if v > u64::from(u32::MAX) {
                    return Err(self.bad("to_node", v, "above 2^32"));
                }
                let ordinal = ((u128::from(self.magic) * u128::from(v)) >> 64) as u64;
                if ordinal * self.node_fields != v {
                    return Err(self.bad("to_node", v, "not a multiple of the node field count"));
                }
                let ordinal = ordinal as u32;
                self.max_to = self.max_to.max(ordinal);
                if self.keep {
                    self.to.push(ordinal);
                }
            }
            EdgeRole::Ignore => {}
        }
        self.values += 1;
        self.field += 1;
        if self.field == self.roles.len() {
            self.field = 0;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Strings and skipping

/// Reads the `strings` array (the `[` is consumed). Returns the packed table
/// (empty when `keep` is false) and the number of strings.
fn read_strings<R: Read>(input: &mut Input<'_, R>, keep: bool) -> Result<(Strings, u64)> {
    let section = Section::Strings;
    let mut strings = Strings::default();
    let mut scratch = Vec::new();
    let mut count = 0u64;
    if input.peek_token()? == Some(b']') {
        input.pos += 1;
        return Ok((strings, 0));
    }
    loop {
        input.expect(b'"', section, "a string")?;
        if keep {
            let start = strings.bytes.len();
            read_string(input, section, &mut strings.bytes)?;
            if std::str::from_utf8(&strings.bytes[start..]).is_err() {
                let fixed = String::from_utf8_lossy(&strings.bytes[start..]).into_owned();
                strings.bytes.truncate(start);
                strings.bytes.extend_from_slice(fixed.as_bytes());
            }
            let end = u32::try_from(strings.bytes.len()).map_err(|_| SnapshotError::BadValue {
                section,
                index: count,
                field: "strings",
                value: strings.bytes.len() as u64,
                reason: "the strings add up to more than 4 GiB",
            })?;
            strings.ends.push(end);
        } else {
            scratch.clear();
            read_string(input, section, &mut scratch)?;
        }
        count += 1;
        match input.next_token(section)? {
            b',' => continue,
            b']' => return Ok((strings, count)),
            b => return Err(input.syntax_at(input.offset() - 1, section, "`,` or `]`", b)),
        }
    }
}

/// Unescapes one JSON string (the opening quote is consumed) onto `out`.
/// Lone surrogates (JavaScript strings may contain them) become U+FFFD.
fn read_string<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    out: &mut Vec<u8>,
) -> Result<()> {
    loop {
        if input.pos == input.end && !input.refill()? {
            return Err(input.truncated(section));
        }
        let avail = &input.buf[input.pos..input.end];
        match memchr::memchr2(b'"', b'\\', avail) {
            None => {
                out.extend_from_slice(avail);
                input.pos = input.end;
            }
            Some(k) => {
                out.extend_from_slice(&avail[..k]);
                let b = avail[k];
                input.pos += k + 1;
                if b == b'"' {
                    return Ok(());
                }
                read_escape(input, section, out)?;
            }
        }
    }
}

fn read_escape<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    out: &mut Vec<u8>,
) -> Result<()> {
    if !input.ensure(1)? {
        return Err(input.truncated(section));
    }
    let b = input.buf[input.pos];
    input.pos += 1;
    let c = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 8,
        b'f' => 12,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let unit = read_hex4(input, section)?;
            let ch = if (0xD800..0xDC00).contains(&unit) {
                // A high surrogate: combine with a following low one if any.
                if input.ensure(2)?
                    && input.buf[input.pos] == b'\\'
                    && input.buf[input.pos + 1] == b'u'
                {
                    let save = input.pos;
                    input.pos += 2;
                    let low = read_hex4(input, section)?;
                    if (0xDC00..0xE000).contains(&low) {
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    } else {
                        input.pos = save;
                        None
                    }
                } else {
                    None
                }
            } else {
                char::from_u32(unit)
            };
            let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut tmp = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            return Ok(());
        }
        other => {
            return Err(input.syntax_at(input.offset() - 1, section, "an escape character", other))
        }
    };
    out.push(c);
    Ok(())
}

fn read_hex4<R: Read>(input: &mut Input<'_, R>, section: Section) -> Result<u32> {
    if !input.ensure(4)? {
        input.pos = input.end;
        return Err(input.truncated(section));
    }
    let mut v = 0u32;
    for _ in 0..4 {
        let b = input.buf[input.pos];
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(input.syntax_at(input.offset(), section, "a hex digit", b)),
        };
        v = v * 16 + u32::from(d);
        input.pos += 1;
    }
    Ok(v)
}

/// Skips one JSON value without decoding it, copying its bytes to `capture`
/// when given. Brackets are counted, strings are stepped over.
fn skip_value<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    mut capture: Option<&mut Vec<u8>>,
) -> Result<()> {
    let first = input
        .peek_token()?
        .ok_or_else(|| input.truncated(section))?;
    let scalar = !matches!(first, b'{' | b'[' | b'"');
    let mut depth = 0u32;
    let mut in_string = false;
    let mut escape = false;
    let mut started = false;
    loop {
        if input.pos == input.end && !input.refill()? {
            if scalar && started {
                return Ok(());
            }
            return Err(input.truncated(section));
        }
        let start = input.pos;
        let buf = &input.buf[..input.end];
        let mut i = start;
        let mut done = false;
        while i < buf.len() {
            let b = buf[i];
            if scalar {
                if matches!(b, b',' | b'}' | b']') || is_ws(b) {
                    if !started {
                        return Err(input.syntax_at(input.base + i as u64, section, "a value", b));
                    }
                    done = true;
                    break;
                }
                started = true;
                i += 1;
                continue;
            }
            i += 1;
            if in_string {
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        done = true;
                        break;
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return Err(input.syntax_at(
                            input.base + (i - 1) as u64,
                            section,
                            "a value",
                            b,
                        ));
                    }
                    depth -= 1;
                    if depth == 0 {
                        done = true;
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(out) = capture.as_deref_mut() {
            out.extend_from_slice(&input.buf[start..i]);
        }
        input.pos = i;
        if done {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------
// Assembly and checks

fn assemble(raw: RawSnapshot, options: ParseOptions) -> Result<Assembled> {
    let layout = raw.layout.ok_or(SnapshotError::Missing {
        section: Section::Meta,
    })?;
    if raw.deferred_nodes.is_some() || raw.deferred_edges.is_some() {
        return Err(SnapshotError::Missing {
            section: Section::Meta,
        });
    }
    let nodes = raw.nodes.ok_or(SnapshotError::Missing {
        section: Section::Nodes,
    })?;
    let edges = raw.edges.ok_or(SnapshotError::Missing {
        section: Section::Edges,
    })?;
    let strings = raw.strings.ok_or(SnapshotError::Missing {
        section: Section::Strings,
    })?;

    let nf = layout.node_fields() as u64;
    if nodes.values % nf != 0 {
        return Err(SnapshotError::CountMismatch {
            section: Section::Nodes,
            unit: "node values (a whole number of nodes)",
            expected: nodes.values.div_ceil(nf) * nf,
            found: nodes.values,
        });
    }
    let node_count = nodes.values / nf;
    if let Some(expected) = layout.node_count {
        if expected != node_count {
            return Err(SnapshotError::CountMismatch {
                section: Section::Nodes,
                unit: "nodes",
                expected,
                found: node_count,
            });
        }
    }
    if node_count > u64::from(u32::MAX) {
        return Err(SnapshotError::CountMismatch {
            section: Section::Nodes,
            unit: "nodes at most (2^32 - 1)",
            expected: u64::from(u32::MAX),
            found: node_count,
        });
    }
    let ef = layout.edge_fields() as u64;
    if edges.values % ef != 0 {
        return Err(SnapshotError::CountMismatch {
            section: Section::Edges,
            unit: "edge values (a whole number of edges)",
            expected: edges.values.div_ceil(ef) * ef,
            found: edges.values,
        });
    }
    let edge_count = edges.values / ef;
    if let Some(expected) = layout.edge_count {
        if expected != edge_count {
            return Err(SnapshotError::CountMismatch {
                section: Section::Edges,
                unit: "edges",
                expected,
                found: edge_count,
            });
        }
    }
    if nodes.edge_sum != edge_count {
        return Err(SnapshotError::CountMismatch {
            section: Section::Edges,
            unit: "edges (the sum of the nodes' edge_count)",
            expected: nodes.edge_sum,
            found: edge_count,
        });
    }
    if edge_count > 0 && u64::from(edges.max_to) >= node_count {
        let index = edges
            .to
            .iter()
            .position(|&t| u64::from(t) >= node_count)
            .unwrap_or(0) as u64;
        return Err(SnapshotError::BadValue {
            section: Section::Edges,
            index,
            field: "to_node",
            value: u64::from(edges.max_to) * nf,
            reason: "points past the last node",
        });
    }
    let string_count = raw.string_count;
    if node_count > 0 && u64::from(nodes.max_name) >= string_count {
        let index = nodes
            .name
            .iter()
            .position(|&n| u64::from(n) >= string_count)
            .unwrap_or(0) as u64;
        return Err(SnapshotError::BadValue {
            section: Section::Nodes,
            index,
            field: "name",
            value: u64::from(nodes.max_name),
            reason: "beyond the strings table",
        });
    }
    if !options.keep_nodes {
        return Ok(Assembled::Counts {
            node_count,
            edge_count,
        });
    }

    let types = KnownTypes::new(&layout.node_type_names, &layout.edge_type_names);
    let snapshot = HeapSnapshot {
        node_type: nodes.node_type,
        node_name: nodes.name,
        node_id: nodes.id,
        self_size: nodes.self_size,
        first_edge: nodes.first_edge,
        detachedness: nodes.detachedness,
        edge_type: edges.edge_type,
        edge_name: edges.name,
        edge_to: edges.to,
        strings,
        node_type_names: layout.node_type_names,
        edge_type_names: layout.edge_type_names,
        edge_count,
        types,
        options,
    };
    if options.keep_edges && options.keep_edge_names {
        check_edge_names(&snapshot)?;
    }
    Ok(Assembled::Snapshot(Box::new(snapshot)))
}

/// String-named edges must name an existing string.
fn check_edge_names(s: &HeapSnapshot) -> Result<()> {
    let count = s.strings.len() as u64;
    for (e, (&t, &name)) in s.edge_type.iter().zip(&s.edge_name).enumerate() {
        if !s.is_index_edge(t) && u64::from(name) >= count {
            return Err(SnapshotError::BadValue {
                section: Section::Edges,
                index: e as u64,
                field: "name_or_index",
                value: u64::from(name),
                reason: "beyond the strings table",
            });
        }
    }
    Ok(())
}

/// A checked document: the graph, or only its counts when nothing was kept.
enum Assembled {
    Snapshot(Box<HeapSnapshot>),
    Counts { node_count: u64, edge_count: u64 },
}
