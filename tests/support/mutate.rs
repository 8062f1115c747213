//! A seeded mutator and a time-bounded fuzz loop for the parsers' fuzz tests (no dependency).
//!
//! Shared by the tests of every crate (`#[path = ".../tests/support/mutate.rs"] mod mutate;`).
//! [`Mutator::mutate`] applies one to three random edits to a valid input: truncation, bit flips,
//! interesting bytes, spliced / deleted / duplicated chunks, and "length inflation": a 1-, 4- or
//! 8-byte little-endian field overwritten with a huge value (and, after the opcode bytes of
//! length-prefixed pickle items, with lengths just past the end). [`Mutator::mutate_text`] edits
//! tokens of a text format (numbers become `nan`, `inf`, `-1`, `1e309`, 10^20, ...).
//!
//! [`fuzz`] runs a target over mutated inputs until an iteration count or a time budget is
//! reached, catching panics: a panic saves the input under `target/tmp/fuzz-crashes/` and fails the
//! test. `GDISTILL_FUZZ_ITERS` and `GDISTILL_FUZZ_SECS` scale every target (`make fuzz` sets
//! them high); `GDISTILL_FUZZ_SEED` changes the seed; `GDISTILL_FUZZ_TRACE=DIR` writes each input
//! to `DIR/<target>-current.bin` before running it (to replay a hang or an abort).

#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// xorshift64* : small, fast, and the same sequence everywhere for a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values written over length fields: zero, just-too-big, sign-flipping and absurd sizes.
const HUGE_U32: [u32; 6] = [0, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 24, 0xdead_beef];
const HUGE_U64: [u64; 5] = [1 << 40, 1_000_000_000_000, u64::MAX, i64::MAX as u64, 1 << 63];
const BYTES: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, b'\n', b'.', b'('];
/// Pickle opcodes followed by a u32 length (`T`, `B`, `X`, `LONG4`) or u8 length (`U`, `C`, `\x8c`, `LONG1`).
const PICKLE_U32_LEN: [u8; 4] = [b'T', b'B', b'X', 0x8b];
const PICKLE_U8_LEN: [u8; 4] = [b'U', b'C', 0x8c, 0x8a];
/// Tokens that replace a token of a text format.
const TOKENS: [&str; 16] = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e309",
    "100000000000000000000",
    "1000000000000",
    "4294967296",
    "",
    "x",
    "\u{0}",
    "0x10",
    "1.5",
    "18446744073709551616",
];

/// Edits valid inputs into invalid (or differently valid) ones.
pub struct Mutator {
    pub rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator { rng: Rng::new(seed) }
    }

    /// One to three random edits of `input`; `others` are spliced from.
    pub fn mutate(&mut self, input: &[u8], others: &[&[u8]]) -> Vec<u8> {
        let mut out = input.to_vec();
        let edits = 1 + self.rng.below(3);
        for _ in 0..edits {
            self.edit(&mut out, others);
        }
        out
    }

    fn edit(&mut self, out: &mut Vec<u8>, others: &[&[u8]]) {
        let r = &mut self.rng;
        let len = out.len();
        match r.below(10) {
            0 => {
                let cut = r.below(len + 1);
                out.truncate(cut);
            }
            1 if len > 0 => {
                for _ in 0..1 + r.below(4) {
                    let i = r.below(len);
                    out[i] ^= 1 << r.below(8);
                }
            }
            2 if len > 0 => {
                let i = r.below(len);
                out[i] = *r.pick(&BYTES);
            }
            3 if len > 4 => {
                let i = r.below(len - 3);
                out[i..i + 4].copy_from_slice(&r.pick(&HUGE_U32).to_le_bytes());
            }
            4 if len > 8 => {
                let i = r.below(len - 7);
                out[i..i + 8].copy_from_slice(&r.pick(&HUGE_U64).to_le_bytes());
            }
            5 if len > 0 => {
                // delete a chunk
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(64));
                out.drain(i..i + n);
            }
            6 if len > 0 => {
                // duplicate a chunk in place
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(64));
                let chunk = out[i..i + n].to_vec();
                let at = r.below(len + 1);
                out.splice(at..at, chunk);
            }
            7 if !others.is_empty() => {
                // splice a chunk of another valid input over this one
                let other = *r.pick(others);
                if !other.is_empty() && len > 0 {
                    let i = r.below(other.len());
                    let n = 1 + r.below((other.len() - i).min(128));
                    let at = r.below(len);
                    let end = (at + n).min(len);
                    out.splice(at..end, other[i..i + n].iter().copied());
                }
            }
            8 => {
                // pickle-aware length inflation: after a length-prefixed opcode
                let positions: Vec<usize> = out
                    .iter()
                    .enumerate()
                    .filter(|(i, b)| {
                        (PICKLE_U32_LEN.contains(b) && i + 5 <= len) || (PICKLE_U8_LEN.contains(b) && i + 2 <= len)
                    })
                    .map(|(i, _)| i)
                    .collect();
                if positions.is_empty() {
                    return;
                }
                let i = *r.pick(&positions);
                if PICKLE_U32_LEN.contains(&out[i]) {
                    let remaining = (len - i - 5) as u32;
                    let value = if r.chance(0.5) {
                        remaining.saturating_add(1 + r.below(8) as u32)
                    } else {
                        *r.pick(&HUGE_U32)
                    };
                    out[i + 1..i + 5].copy_from_slice(&value.to_le_bytes());
                } else {
                    out[i + 1] = 0xff;
                }
            }
            _ if len > 0 => {
                // an interesting byte inserted
                let at = r.below(len + 1);
                out.insert(at, *r.pick(&BYTES));
            }
            _ => out.push(*r.pick(&BYTES)),
        }
    }

    /// Token-level edits of a text format (whitespace, commas, `=` and `:` separate tokens),
    /// plus occasional byte-level edits.
    pub fn mutate_text(&mut self, input: &str) -> Vec<u8> {
        let mut tokens: Vec<String> = Vec::new();
        let mut current = String::new();
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, ',' | '=' | ':' | '[' | ']') {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                tokens.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            tokens.push(current);
        }
        let edits = 1 + self.rng.below(3);
        for _ in 0..edits {
            let n = tokens.len();
            match self.rng.below(6) {
                0..=2 if n > 0 => {
                    let i = self.rng.below(n);
                    tokens[i] = self.rng.pick(&TOKENS).to_string();
                }
                3 if n > 0 => {
                    let i = self.rng.below(n);
                    tokens.remove(i);
                }
                4 if n > 0 => {
                    let i = self.rng.below(n);
                    let t = tokens[i].clone();
                    tokens.insert(self.rng.below(n + 1), t);
                }
                _ => {
                    let bytes = tokens.concat().into_bytes();
                    let mutated = self.mutate(&bytes, &[]);
                    return mutated;
                }
            }
        }
        tokens.concat().into_bytes()
    }
}

/// What a fuzz target did with one input.
#[derive(Clone, Copy, Debug, Default)]
pub struct FuzzStats {
    pub iterations: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub seconds: f64,
}

fn env_scale(key: &str) -> Option<f64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

/// Runs `target` over `iterations` mutated inputs or for `seconds`, whichever ends first (both
/// scaled by `GDISTILL_FUZZ_ITERS` / `GDISTILL_FUZZ_SECS` when set: those replace the defaults).
/// `make_input(mutator, k)` makes the k-th input; `target` returns `Ok(true)` for an accepted
/// input (the target itself checks it is valid), `Ok(false)` for a clean rejection, and
/// `Err(message)` for a wrong outcome. Panics and wrong outcomes save the input and fail.
pub fn fuzz(
    name: &str,
    iterations: usize,
    seconds: f64,
    seed: u64,
    mut make_input: impl FnMut(&mut Mutator, usize) -> Vec<u8>,
    mut target: impl FnMut(&[u8]) -> Result<bool, String>,
) -> FuzzStats {
    let iterations = env_scale("GDISTILL_FUZZ_ITERS").map_or(iterations, |v| v as usize);
    let seconds = env_scale("GDISTILL_FUZZ_SECS").unwrap_or(seconds);
    let seed = env_scale("GDISTILL_FUZZ_SEED").map_or(seed, |v| seed ^ (v as u64).wrapping_mul(0x1000_0000_01b3));
    let mut mutator = Mutator::new(seed);
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    let mut stats = FuzzStats::default();
    for k in 0..iterations {
        if k > 0 && start.elapsed() > budget {
            break;
        }
        let input = make_input(&mut mutator, k);
        if let Some(dir) = std::env::var_os("GDISTILL_FUZZ_TRACE") {
            // write each input before running it, so a hang or an abort can be replayed
            let _ = std::fs::write(PathBuf::from(dir).join(format!("{name}-current.bin")), &input);
            eprintln!("fuzz {name}: iteration {k}");
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let failure = match outcome {
            Ok(Ok(true)) => {
                stats.accepted += 1;
                None
            }
            Ok(Ok(false)) => {
                stats.rejected += 1;
                None
            }
            Ok(Err(message)) => Some(message),
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        stats.iterations += 1;
        if let Some(message) = failure {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
            let _ = std::fs::create_dir_all(&dir);
            let saved = dir.join(format!("{name}-seed{seed}-iter{k}.bin"));
            let _ = std::fs::write(&saved, &input);
            panic!("fuzz target {name}, iteration {k} (seed {seed}): {message}; input saved to {}", saved.display());
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {name}: {} inputs in {:.2} s ({} accepted, {} rejected cleanly)",
        stats.iterations, stats.seconds, stats.accepted, stats.rejected
    );
    stats
}
