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
                        parse_numbers_into(input, section, values, |v| cols.push_all(v))?;
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
                        parse_numbers_into(input, section, values, |v| cols.push_all(v))?;
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
        values.extend_from_slice(v);
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
/// threads, which share the digit scan; the second one also stores values.
const PIPELINE_MIN_VALUES: u64 = 1 << 18;

/// Share of each block that the reading thread scans itself. It also reads
/// the file, while the other thread stores every value, and this split gave
/// both about the same CPU time on the benchmark snapshots.
const READER_SHARE: f64 = 0.6;

/// Work for the second thread of [`parse_numbers_into`], in file order.
enum Job {
    /// Scan a block that starts after a comma and ends with one, whose first
    /// byte is at this file offset, and keep its values until the values
    /// before it arrive.
    Scan(Vec<u8>, u64),
    /// Store these values, then those of the pending block, if any. The
    /// error, when there is one, ends the array after these values.
    Store(Vec<u64>, Option<SnapshotError>),
}

/// Reads a numeric array into `sink`, on two threads when it is big. The
/// sink gets the values in order, in slices of any length.
///
/// On two threads, this one reads the file and cuts what it has read at the
/// last comma into a block, and the block at a comma into two parts. The
/// second part goes to the other thread to scan while this one scans the
/// first part. The other thread stores the first part's values, then the
/// second's, so values reach the sink in file order, and the first error in
/// the file wins. The tail of the array, with its `]`, is scanned here.
fn parse_numbers_into<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    expected_values: u64,
    mut sink: impl FnMut(&[u64]) -> Result<()> + Send,
) -> Result<()> {
    if expected_values < PIPELINE_MIN_VALUES {
        return parse_numbers(input, section, &mut sink).map(|_| ());
    }
    let (jobs, received) = std::sync::mpsc::sync_channel::<Job>(2);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || -> Result<()> {
            let mut pending: Option<(Vec<u64>, Option<SnapshotError>)> = None;
            for job in received {
                match job {
                    Job::Scan(bytes, base) => pending = Some(scan_block(bytes, base, section)),
                    Job::Store(values, error) => {
                        sink(&values)?;
                        if let Some(error) = error {
                            return Err(error);
                        }
                        if let Some((values, error)) = pending.take() {
                            sink(&values)?;
                            if let Some(error) = error {
                                return Err(error);
                            }
                        }
                    }
                }
            }
            Ok(())
        });
        let read = split_blocks(input, section, &jobs);
        drop(jobs);
        let stored = worker
            .join()
            .unwrap_or(Err(SnapshotError::Worker { section }));
        // An error of the other thread comes first: it is about values
        // before the point where this thread stopped.
        stored?;
        read
    })
}

/// The reading side of [`parse_numbers_into`]: sends blocks and values to
/// the other thread until the array ends, the input ends or an error.
fn split_blocks<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    jobs: &std::sync::mpsc::SyncSender<Job>,
) -> Result<()> {
    let gone = || SnapshotError::Worker { section };
    let mut start = Start::Array;
    loop {
        if input.pos == input.end && !input.refill()? {
            break;
        }
        let avail = &input.buf[input.pos..input.end];
        // The tail with the `]`, or with no comma to cut at, is scanned below.
        if memchr::memchr(b']', avail).is_some() {
            break;
        }
        let Some(last_comma) = memchr::memrchr(b',', avail) else {
            if !input.refill()? {
                break;
            }
            continue;
        };
        let block = &avail[..=last_comma];
        let target = (block.len() as f64 * READER_SHARE) as usize;
        let first_len = memchr::memchr(b',', &block[target.min(last_comma)..])
            .map_or(block.len(), |k| target.min(last_comma) + k + 1);
        let base = input.offset();
        if first_len < block.len() {
            let second = block[first_len..].to_vec();
            jobs.send(Job::Scan(second, base + first_len as u64))
                .map_err(|_| gone())?;
        }
        let (values, error) = scan_block(block[..first_len].to_vec(), base, section);
        input.pos += block.len();
        start = Start::AfterComma;
        let failed = error.is_some();
        jobs.send(Job::Store(values, error)).map_err(|_| gone())?;
        if failed {
            // The other thread returns the error after the values before it.
            return Ok(());
        }
    }
    let mut values = Vec::new();
    let scanned = parse_numbers_from(input, section, start, &mut |v| {
        values.extend_from_slice(v);
        Ok(())
    });
    jobs.send(Job::Store(values, scanned.err()))
        .map_err(|_| gone())
}

/// Scans one block of an array (see [`Start::Block`]) at file offset
/// `base`. Returns its values up to the first error, and that error.
fn scan_block(bytes: Vec<u8>, base: u64, section: Section) -> (Vec<u64>, Option<SnapshotError>) {
    let end = bytes.len();
    let mut input = Input {
        src: std::io::empty(),
        buf: bytes,
        pos: 0,
        end,
        base,
        eof: true,
        progress: None,
    };
    let mut values = Vec::with_capacity(end / 4);
    let scanned = parse_numbers_from(&mut input, section, Start::Block, &mut |v| {
        values.extend_from_slice(v);
        Ok(())
    });
    (values, scanned.err())
}

const EXPECT_FIRST: u8 = 0;
const EXPECT: u8 = 1;
const IN_NUMBER: u8 = 2;
const AFTER: u8 = 3;

/// Values the scanner collects before it hands them to its sink: small
/// enough to stay in the L1 cache, large enough that the call per slice
/// costs nothing.
const SCAN_BATCH: usize = 2048;

/// Reads unsigned integers up to and including the closing `]` (the `[` is
/// already consumed), handing them to `sink` in order, in slices. Values read
/// before an error reach the sink before the error is returned, and an error
/// of the sink comes first, because it is about an earlier value.
fn parse_numbers<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    sink: &mut impl FnMut(&[u64]) -> Result<()>,
) -> Result<u64> {
    parse_numbers_from(input, section, Start::Array, sink)
}

/// Where a scan starts, and what ends it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Just after the `[`: the array may be empty, and `]` ends it.
    Array,
    /// Just after a comma, in the rest of an array that `]` ends.
    AfterComma,
    /// Just after a comma, in a block that ends after a comma: the end of
    /// input in that state ends the block, and any `]` is an error.
    Block,
}

/// [`parse_numbers`] from a given start.
fn parse_numbers_from<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    start: Start,
    sink: &mut impl FnMut(&[u64]) -> Result<()>,
) -> Result<u64> {
    let mut out = Vec::with_capacity(SCAN_BATCH);
    let scanned = scan_numbers(input, section, start, &mut out, sink);
    // A failed sink call clears `out`, so the sink is never called again
    // after it failed.
    if !out.is_empty() {
        sink(&out)?;
    }
    scanned
}

/// Appends `value` to `out`, and hands `out` to `sink` when it is full.
#[inline(always)]
fn emit(out: &mut Vec<u64>, value: u64, sink: &mut impl FnMut(&[u64]) -> Result<()>) -> Result<()> {
    out.push(value);
    if out.len() < SCAN_BATCH {
        return Ok(());
    }
    let stored = sink(out);
    out.clear();
    stored
}

/// Scans the numbers for [`parse_numbers`]. State carries across chunk
/// boundaries, so a number split between two reads is read whole.
fn scan_numbers<R: Read>(
    input: &mut Input<'_, R>,
    section: Section,
    start: Start,
    out: &mut Vec<u64>,
    sink: &mut impl FnMut(&[u64]) -> Result<()>,
) -> Result<u64> {
    let mut state = if start == Start::Array {
        EXPECT_FIRST
    } else {
        EXPECT
    };
    let mut value: u64 = 0;
    let mut digits = 0usize;
    // Offset of the number being read, which may have begun in an earlier read.
    let mut number_start = 0u64;
    let mut count = 0u64;
    loop {
        if input.pos == input.end && !input.refill()? {
            if start == Start::Block && state == EXPECT {
                return Ok(count);
            }
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
                    number_start = input.base + i as u64;
                    if let Some((short, len)) = short_number_at(buf, i) {
                        i += len;
                        if buf[i] == b',' {
                            // The common case: a number and its comma.
                            emit(out, short, sink)?;
                            count += 1;
                            state = EXPECT;
                            i += 1;
                        } else {
                            state = IN_NUMBER;
                            value = short;
                            digits = len;
                        }
                        continue;
                    }
                    state = IN_NUMBER;
                    value = 0;
                    digits = 0;
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
                        emit(out, value, sink)?;
                        count += 1;
                        state = EXPECT;
                    } else {
                        return Err(input.syntax_at(input.base + i as u64, section, "a number", b));
                    }
                }
                b']' => {
                    match state {
                        IN_NUMBER | AFTER => {
                            emit(out, value, sink)?;
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

/// Positions of the node fields in a record, when each used field occurs
/// exactly once, so whole records can be stored without a per-value match.
#[derive(Clone, Copy)]
struct NodeSlots {
    node_type: usize,
    name: usize,
    id: usize,
    self_size: usize,
    edge_count: usize,
    detachedness: Option<usize>,
}

impl NodeSlots {
    fn new(roles: &[NodeRole]) -> Option<NodeSlots> {
        let only = |role: NodeRole| -> Option<usize> {
            let mut at = roles.iter().enumerate().filter(|(_, r)| **r == role);
            let (first, _) = at.next()?;
            at.next().is_none().then_some(first)
        };
        let detachedness = match roles
            .iter()
            .filter(|r| **r == NodeRole::Detachedness)
            .count()
        {
            0 => None,
            1 => Some(only(NodeRole::Detachedness)?),
            _ => return None,
        };
        Some(NodeSlots {
            node_type: only(NodeRole::Type)?,
            name: only(NodeRole::Name)?,
            id: only(NodeRole::Id)?,
            self_size: only(NodeRole::SelfSize)?,
            edge_count: only(NodeRole::EdgeCount)?,
            detachedness,
        })
    }
}

/// Reads a number of at most 7 digits that starts at `buf[at]` with one
/// 8-byte load, when 8 bytes are available and the load also contains the
/// byte after the number. Returns the value and its digit count. Numbers in
/// snapshots are mostly that short, and this avoids a branch per digit.
#[inline(always)]
fn short_number_at(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let bytes: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
    // Each byte minus '0'. A byte below '0' borrows from the bytes after it,
    // but only bytes before the first non-digit are used.
    let x = u64::from_le_bytes(bytes).wrapping_sub(0x3030_3030_3030_3030);
    // A byte is a digit when it is below 10 after the subtraction: its high
    // nibble is 0, and adding 6 does not carry into the high nibble.
    let non_digit = (x | x.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0;
    let len = (non_digit.trailing_zeros() / 8) as usize;
    if len == 0 || len == 8 {
        return None;
    }
    // Move the digits to the top bytes, so the bytes below are leading
    // zeros, then combine pairs, quads and the two halves (the SWAR method
    // of parsing eight digits at once).
    let v = x << (8 * (8 - len));
    let v = (v.wrapping_mul(10 * 256 + 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100 * 65536 + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    let v = v.wrapping_mul(10000 * (1 << 32) + 1) >> 32;
    Some((v, len))
}

/// Node columns being filled; which value goes where comes from the layout.
struct NodeColumns {
    roles: Vec<NodeRole>,
    slots: Option<NodeSlots>,
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
            slots: NodeSlots::new(&layout.node_roles),
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

    /// Stores values in order, from a slice that may start and end inside a
    /// record. Whole records take a fast path. A record with a value out of
    /// range goes through [`push`] value by value, so its error is the same
    /// either way.
    ///
    /// [`push`]: NodeColumns::push
    fn push_all(&mut self, values: &[u64]) -> Result<()> {
        let width = self.roles.len();
        let Some(slots) = self.slots else {
            return values.iter().try_for_each(|&v| self.push(v));
        };
        // First finish a record that the previous slice began.
        let lead = ((width - self.field) % width).min(values.len());
        let (head, values) = values.split_at(lead);
        head.iter().try_for_each(|&v| self.push(v))?;
        let mut records = values.chunks_exact(width);
        for record in &mut records {
            let node_type = record[slots.node_type];
            let name = record[slots.name];
            let id = record[slots.id];
            let edge_sum = self.edge_sum + record[slots.edge_count];
            let in_range = node_type < self.type_count
                && name <= u64::from(u32::MAX)
                && id <= u64::from(u32::MAX)
                && record[slots.self_size] <= u64::from(u32::MAX)
                && edge_sum <= u64::from(u32::MAX);
            if !in_range {
                // Also counts a saturated self size, which is no error.
                for &v in record {
                    self.push(v)?;
                }
                continue;
            }
            self.edge_sum = edge_sum;
            self.max_name = self.max_name.max(name as u32);
            if self.keep {
                self.node_type.push(node_type as u8);
                self.name.push(name as u32);
                self.id.push(id as u32);
                self.self_size.push(record[slots.self_size] as u32);
                self.first_edge.push(edge_sum as u32);
                if let Some(at) = slots.detachedness {
                    self.detachedness
                        .push(u8::try_from(record[at]).unwrap_or(0));
                }
            }
            self.values += width as u64;
        }
        records.remainder().iter().try_for_each(|&v| self.push(v))
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

/// Positions of the edge fields in a record, when each occurs exactly once.
#[derive(Clone, Copy)]
struct EdgeSlots {
    edge_type: usize,
    name: usize,
    to: usize,
}

impl EdgeSlots {
    fn new(roles: &[EdgeRole]) -> Option<EdgeSlots> {
        let only = |role: EdgeRole| -> Option<usize> {
            let mut at = roles.iter().enumerate().filter(|(_, r)| **r == role);
            let (first, _) = at.next()?;
            at.next().is_none().then_some(first)
        };
        Some(EdgeSlots {
            edge_type: only(EdgeRole::Type)?,
            name: only(EdgeRole::NameOrIndex)?,
            to: only(EdgeRole::ToNode)?,
        })
    }
}

/// Edge columns being filled.
struct EdgeColumns {
    roles: Vec<EdgeRole>,
    slots: Option<EdgeSlots>,
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
            slots: EdgeSlots::new(&layout.edge_roles),
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

    /// Stores values in order, like [`NodeColumns::push_all`].
    fn push_all(&mut self, values: &[u64]) -> Result<()> {
        let width = self.roles.len();
        let Some(slots) = self.slots else {
            return values.iter().try_for_each(|&v| self.push(v));
        };
        // First finish a record that the previous slice began.
        let lead = ((width - self.field) % width).min(values.len());
        let (head, values) = values.split_at(lead);
        head.iter().try_for_each(|&v| self.push(v))?;
        let mut records = values.chunks_exact(width);
        for record in &mut records {
            let edge_type = record[slots.edge_type];
            let name = record[slots.name];
            let to = record[slots.to];
            // Exact for `to` below 2^32, see `magic`.
            let ordinal = ((u128::from(self.magic) * u128::from(to)) >> 64) as u64;
            let in_range = edge_type < self.type_count
                && name <= u64::from(u32::MAX)
                && to <= u64::from(u32::MAX)
                && ordinal * self.node_fields == to;
            if !in_range {
                for &v in record {
                    self.push(v)?;
                }
                continue;
            }
            let ordinal = ordinal as u32;
            self.max_to = self.max_to.max(ordinal);
            if self.keep {
                self.edge_type.push(edge_type as u8);
                self.to.push(ordinal);
            }
            if self.keep_names {
                self.name.push(name as u32);
            }
            self.values += width as u64;
        }
        records.remainder().iter().try_for_each(|&v| self.push(v))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `text` (the part after `[`) with reads of `chunk` bytes.
    fn scan(text: &str, chunk: usize) -> Result<Vec<u64>> {
        let mut input = Input::new(text.as_bytes(), None, chunk);
        let mut values = Vec::new();
        parse_numbers(&mut input, Section::Nodes, &mut |v| {
            values.extend_from_slice(v);
            Ok(())
        })?;
        Ok(values)
    }

    #[test]
    fn numbers_of_every_length_at_every_chunk_size() {
        let mut expected = vec![0u64, 7, 10, 100_000, 1_000_000, 9_999_999, 10_000_000];
        let mut n = 0u64;
        for digit in 1..=19u64 {
            n = n * 10 + digit % 10;
            expected.push(n);
        }
        expected.push(9_999_999_999_999_999_999);
        let mut text = String::new();
        for (k, v) in expected.iter().enumerate() {
            if k > 0 {
                text.push_str(if k % 5 == 0 { " ,\n" } else { "," });
            }
            text.push_str(&v.to_string());
        }
        text.push_str("]  ");
        for chunk in [1, 2, 3, 7, 8, 9, 16, 64, 4096] {
            assert_eq!(scan(&text, chunk).unwrap(), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn short_number_reads_digits_before_a_terminator() {
        for (text, want) in [
            ("1,345678", Some((1, 1))),
            ("1234567]", Some((1_234_567, 7))),
            ("0000012 ", Some((12, 7))),
            ("12345678", None),
            ("9\n,00000", Some((9, 1))),
            (",1234567", None),
            ("123", None),
        ] {
            assert_eq!(short_number_at(text.as_bytes(), 0), want, "{text:?}");
        }
    }

    #[test]
    fn scan_error_offsets_match_slow_path() {
        for chunk in [1, 5, 64] {
            match scan("12,345,6x7]", chunk) {
                Err(SnapshotError::Syntax { offset, .. }) => assert_eq!(offset, 8, "chunk {chunk}"),
                other => panic!("expected a syntax error, got {other:?}"),
            }
            match scan("12,345 6]", chunk) {
                Err(SnapshotError::Syntax { offset, .. }) => assert_eq!(offset, 7, "chunk {chunk}"),
                other => panic!("expected a syntax error, got {other:?}"),
            }
        }
    }
}
