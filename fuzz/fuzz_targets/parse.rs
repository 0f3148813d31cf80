//! Feeds arbitrary bytes to the heap snapshot parser and, when they parse,
//! through every analysis and a write/read round trip. Any panic is a bug:
//! the parser must turn every input into a snapshot or a structured error.

#![no_main]

use leakscope_heap::{
    diff, parse_bytes, retainer_path, retainer_paths_for_class, summarize, validate_reader,
    write_snapshot, ParseOptions, SummaryOptions,
};
use libfuzzer_sys::fuzz_target;

/// Hands out bytes a few at a time, so every token can be split by a read.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.step = self.step % 5 + 1;
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let checked = validate_reader(data);
    let parsed = parse_bytes(data, ParseOptions::full());
    // Split reads change nothing about the outcome.
    let trickled = leakscope_heap::parse_reader(
        Trickle {
            bytes: data,
            step: 1,
        },
        ParseOptions::full(),
        None,
    );
    assert_eq!(parsed.is_ok(), trickled.is_ok());
    if let (Err(a), Err(b)) = (&parsed, &trickled) {
        assert_eq!(a.to_string(), b.to_string());
    }
    let Ok(s) = parsed else {
        return;
    };
    // The validator and the parser agree on what is a complete snapshot.
    let header = checked.expect("validator accepts what the parser accepts");
    assert_eq!(header.node_count, s.node_count() as u64);
    let _ = summarize(&s, SummaryOptions::default()).expect("summary of a parsed snapshot");
    if s.node_count() > 0 {
        let last = s.node_count() as u32 - 1;
        let _ = retainer_path(&s, last).expect("edges kept");
        let class = s.class_name(last).into_owned();
        let _ = retainer_paths_for_class(&s, &class, 3).expect("edges kept");
    }
    let _ = diff(&s, &s);
    let mut out = Vec::new();
    write_snapshot(&s, &mut out).expect("write to memory");
    let again = parse_bytes(&out, ParseOptions::full()).expect("what we write reads back");
    assert_eq!(again.node_count(), s.node_count());
    assert_eq!(again.edge_count(), s.edge_count());
});
