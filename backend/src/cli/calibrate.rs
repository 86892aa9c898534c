//! `latchkey calibrate --target-ms N`: times the real hashing code (`domain::hash_password`) on
//! this machine and prints the PBKDF2 iteration count that takes about N milliseconds, for
//! `LATCHKEY_PBKDF2_ITERATIONS`. The number alone goes to stdout (scripts read it); the
//! explanation goes to stderr.

use std::time::{Duration, Instant};

use crate::config::{MIN_ITERATIONS, RECOMMENDED_MIN_ITERATIONS};
use crate::domain::hash_password;

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// How long one hash should take, in milliseconds (1–60000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=60_000), required_unless_present = "ceiling_secs")]
    pub target_ms: Option<u32>,

    /// Instead, measure the hashing ceiling for about SECS seconds: hashes per second with every
    /// CPU busy at LATCHKEY_PBKDF2_ITERATIONS (the reference of `scripts/bench`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..=600), conflicts_with = "target_ms")]
    pub ceiling_secs: Option<u32>,
}

/// A sample shorter than this is mostly timer and scheduling noise.
const MIN_SAMPLE: Duration = Duration::from_millis(50);
/// Each sample size is timed this often; the fastest run is the one least disturbed.
const RUNS: usize = 3;

pub fn run(args: &CalibrateArgs, iterations: u32) -> anyhow::Result<()> {
    if let Some(secs) = args.ceiling_secs {
        let (threads, hashes, elapsed) = ceiling(iterations, Duration::from_secs(secs.into()));
        let rate = hashes as f64 / elapsed.as_secs_f64();
        println!(
            "threads={threads} iterations={iterations} hashes={hashes} hashes_per_sec={rate:.2} \
             ms_per_hash={:.1}",
            1000.0 * threads as f64 / rate
        );
        return Ok(());
    }
    let target_ms = args.target_ms.unwrap_or(250);
    let target = Duration::from_millis(u64::from(target_ms));
    let iterations = calibrate(target);
    let check = time_once(iterations);
    eprintln!(
        "PBKDF2-HMAC-SHA256 with {iterations} iterations takes {:.0} ms on this machine (target \
         {} ms): set LATCHKEY_PBKDF2_ITERATIONS={iterations}",
        check.as_secs_f64() * 1000.0,
        target_ms
    );
    if iterations == MIN_ITERATIONS {
        eprintln!("(the smallest accepted count; even it takes longer than the target)");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build, whose hashing is several times slower than a \
             release build's: calibrate with the release binary"
        );
    }
    if iterations < RECOMMENDED_MIN_ITERATIONS {
        eprintln!(
            "warning: below OWASP's floor of {RECOMMENDED_MIN_ITERATIONS} iterations: for tests \
             only"
        );
    }
    println!("{iterations}");
    Ok(())
}

/// The iteration count for `target`: grows a sample until it is long enough to time, then
/// scales linearly (PBKDF2's cost is linear in the count), rounded to a thousand.
pub fn calibrate(target: Duration) -> u32 {
    let mut sample: u32 = 10_000;
    let mut took = fastest(sample);
    while took < MIN_SAMPLE.min(target) && sample < u32::MAX / 4 {
        sample *= 2;
        took = fastest(sample);
    }
    let per_iteration = took.as_secs_f64() / f64::from(sample);
    let estimate = target.as_secs_f64() / per_iteration.max(f64::MIN_POSITIVE);
    let rounded = (estimate / 1000.0).round() * 1000.0;
    // The float-to-int cast saturates; the clamp keeps it in the accepted range.
    (rounded as u32).max(MIN_ITERATIONS)
}

/// Hashes on every CPU at once until `duration` has passed; returns (threads, hashes, elapsed).
fn ceiling(iterations: u32, duration: Duration) -> (usize, u64, Duration) {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let hashes: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while started.elapsed() < duration {
                        std::hint::black_box(hash_password("ceiling password", iterations));
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    (threads, hashes, started.elapsed())
}

fn fastest(iterations: u32) -> Duration {
    (0..RUNS)
        .map(|_| time_once(iterations))
        .min()
        .unwrap_or_default()
}

fn time_once(iterations: u32) -> Duration {
    let started = Instant::now();
    let hash = hash_password("calibration password", iterations);
    std::hint::black_box(hash);
    started.elapsed()
}
