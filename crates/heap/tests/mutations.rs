//! A bounded random-mutation run over the fixtures inside `cargo test`: the
//! cargo-fuzz target in `fuzz/` explores far more, but needs nightly, so this
//! keeps the no-panic promise checked on every test run.

mod common;

use common::*;
use leakscope_heap::{
    parse_bytes, retainer_path, summarize, validate_reader, ParseOptions, SummaryOptions,
};

/// xorshift64*: a fixed seed gives the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the grammar, so mutations reach past the first byte.
const INTERESTING: &[u8] = b"0123456789,[]{}\":\\u -";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if at < out.len() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                out.remove(at);
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn check(bytes: &[u8]) {
    let checked = validate_reader(bytes);
    let Ok(s) = parse_bytes(bytes, ParseOptions::full()) else {
        return;
    };
    assert!(
        checked.is_ok(),
        "the validator rejects what the parser accepts"
    );
    summarize(&s, SummaryOptions::default()).expect("summary of a parsed snapshot");
    if s.node_count() > 0 {
        retainer_path(&s, s.node_count() as u32 - 1).expect("edges kept");
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let seeds = [
        fixture_bytes("v1-current.heapsnapshot"),
        fixture_bytes("v2-trace-node-id.heapsnapshot"),
        fixture_bytes("v3-legacy.heapsnapshot"),
        fixture_bytes("v4-key-order.heapsnapshot"),
        fixture_bytes("v5-new-type.heapsnapshot"),
    ];
    for round in 0..3000 {
        let seed = &seeds[round % seeds.len()];
        check(&mutate(&mut rng, seed));
    }
}
