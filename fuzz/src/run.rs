//! The fuzzing loop of one target: seeds first, then mutants until the execution budget or
//! the time budget is spent. Panics are caught, counted and saved.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::mutate::mutate;
use crate::targets::Target;

/// The largest accepted mutant kept for further mutation.
const POOL_INPUT_MAX: usize = 8 * 1024;

/// What one run of a target did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target.
    pub target: Target,
    /// Seeds in the corpus.
    pub seeds: usize,
    /// Inputs executed (seeds and mutants).
    pub executions: u64,
    /// Inputs the decoder accepted (parsed without error).
    pub accepted: u64,
    /// Inputs that panicked.
    pub crashes: u64,
    /// Where the first crashing inputs were saved.
    pub saved: Vec<PathBuf>,
    /// Wall-clock time spent.
    pub elapsed: Duration,
}

/// Runs `target` over `seeds` and their mutants until `max_executions` or `max_time`.
/// Crashing inputs go to `crash_dir` (the first 20).
pub fn run(
    target: Target,
    seeds: &[Vec<u8>],
    max_executions: u64,
    max_time: Duration,
    rng_seed: u64,
    crash_dir: &Path,
) -> Report {
    let budget = Budget {
        max_executions,
        max_time,
        rng_seed,
    };
    run_with(target, |data| target.run(data), seeds, &budget, crash_dir)
}

/// How long a run may go on, and its random seed.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop after this many executions.
    pub max_executions: u64,
    /// Stop after this much time.
    pub max_time: Duration,
    /// The seed of the mutations' random numbers (a run is reproducible).
    pub rng_seed: u64,
}

/// [`run`] with `execute_one` standing for the target's decoder (mutations and crash files
/// still follow `target`).
pub fn run_with(
    target: Target,
    execute_one: impl Fn(&[u8]) -> bool,
    seeds: &[Vec<u8>],
    budget: &Budget,
    crash_dir: &Path,
) -> Report {
    let Budget {
        max_executions,
        max_time,
        rng_seed,
    } = *budget;
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(rng_seed);
    let mut report = Report {
        target,
        seeds: seeds.len(),
        executions: 0,
        accepted: 0,
        crashes: 0,
        saved: Vec::new(),
        elapsed: Duration::ZERO,
    };
    // Accepted mutants feed later mutations too, a small rolling pool.
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    let pool_cap = seeds.len() + 256;
    let execute = |input: &[u8], report: &mut Report| {
        report.executions += 1;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| execute_one(input)));
        if matches!(outcome, Ok(true)) {
            report.accepted += 1;
        }
        let crashed = outcome.is_err();
        if crashed {
            report.crashes += 1;
            if report.saved.len() < 20 {
                let _ = std::fs::create_dir_all(crash_dir);
                let path = crash_dir.join(format!("{}-{:016x}.bin", target.name(), fnv1a(input)));
                if std::fs::write(&path, input).is_ok() {
                    report.saved.push(path);
                }
            }
        }
        matches!(outcome, Ok(true))
    };
    for seed in seeds {
        execute(seed, &mut report);
    }
    while report.executions < max_executions {
        if report.executions.is_multiple_of(1024) && started.elapsed() >= max_time {
            break;
        }
        let base = &pool[rng.random_range(0..pool.len())];
        let other = &pool[rng.random_range(0..pool.len())];
        let mutant = mutate(&mut rng, target, base, other);
        let accepted = execute(&mutant, &mut report);
        // Large inputs stay out of the pool: every later mutant of one would be slow.
        if accepted && mutant.len() <= POOL_INPUT_MAX && rng.random_ratio(1, 16) {
            if pool.len() < pool_cap {
                pool.push(mutant);
            } else {
                let slot = seeds.len() + rng.random_range(0..pool_cap - seeds.len());
                pool[slot] = mutant;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// FNV-1a, to name saved inputs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_decoder_is_caught_counted_and_its_input_saved() {
        let dir = std::env::temp_dir().join(format!("fuzz-run-test-{}", std::process::id()));
        let seeds = vec![b"mongodb://host/".to_vec()];
        let budget = Budget {
            max_executions: 20_000,
            max_time: Duration::from_secs(60),
            rng_seed: 7,
        };
        // A "decoder" that panics on any input holding the byte 0x00.
        let report = run_with(
            Target::Uri,
            |data| {
                assert!(!data.contains(&0), "found it");
                true
            },
            &seeds,
            &budget,
            &dir,
        );
        assert_eq!(report.executions, 20_000);
        assert!(report.crashes > 0, "{report:?}");
        assert!(!report.saved.is_empty());
        let saved = std::fs::read(&report.saved[0]).unwrap();
        assert!(saved.contains(&0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
