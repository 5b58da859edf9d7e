//! Soak run (not a test): many consecutive `check` runs, in this process through
//! `upgrade_preflight::commands::run`, against the loopback fake API server with random faults.
//! Prints figures; asserts nothing.
//!
//! Run: `cargo bench --bench soak` (`SOAK_RUNS=200` for a shorter run, `SOAK_SEED=N` to
//! replay a run; the seed is printed). Each run's one-line verdict goes to stdout and its
//! errors to stderr, as the CLI prints them; the progress and the summary go to stderr with
//! a `soak:` prefix, so `cargo bench --bench soak 2>&1 >/dev/null | grep '^soak'` shows only
//! the figures.
//!
//! Figures: runs, panics (counted by a panic hook, so a panic in any thread counts, even
//! one the code under test catches), hangs (a run that did not end within `--timeout` plus
//! 5 s), the exit-code histogram, and resident memory after run 100 and after the last
//! run (flat memory means no leak across runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "../tests/support/fake_api.rs"]
mod fake_api;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use fake_api::{ALWAYS, FakeApi, Fault, Target};
use serde_json::Value;
use upgrade_preflight::commands;
use upgrade_preflight::commands::cli::Cli;

static PANICS: AtomicU64 = AtomicU64::new(0);

/// `--timeout` of every run, and how long past it a run counts as hung.
const TIMEOUT_S: u64 = 3;
const HANG_SLACK: Duration = Duration::from_secs(5);

/// SplitMix64: small, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

/// What a fault is aimed at: resources the demo cluster's checks list, and discovery paths.
fn target(rng: &mut Rng) -> (String, Target) {
    let plurals = ["nodes", "pods", "deployments", "daemonsets", "secrets", "ingresses", "settings", "jobs"];
    let prefixes = ["/version", "/api/v1", "/apis", "/apis/apps/v1"];
    if rng.below(4) == 0 {
        let p = rng.pick(&prefixes);
        ((*p).to_string(), Target::path_prefix(*p))
    } else {
        let p = rng.pick(&plurals);
        ((*p).to_string(), Target::resource(*p))
    }
}

/// One random fault: its description and how to inject it.
fn fault(rng: &mut Rng) -> (String, Fault, u32) {
    let times = *rng.pick(&[1, 2, 5, ALWAYS]);
    let f = match rng.below(12) {
        0 => Fault::Forbidden,
        1 => Fault::NotFound,
        2 => Fault::Status { code: 500, reason: "InternalError".into(), message: "soak".into() },
        3 => Fault::Status { code: 503, reason: "ServiceUnavailable".into(), message: "soak".into() },
        4 => Fault::TooManyRequests { retry_after_secs: rng.below(2) },
        5 => Fault::Delay(Duration::from_millis(rng.below(400))),
        // Beyond --request-timeout (1 s), sometimes beyond --timeout.
        6 => Fault::Delay(Duration::from_millis(1_000 + rng.below(4_000))),
        7 => Fault::DropConnection,
        8 => Fault::ExpireContinue,
        9 => Fault::TruncatedJson,
        10 => Fault::WrongContentType,
        // Rarely: a body over the 256 MiB limit.
        _ if rng.below(10) == 0 => Fault::HugeBody { bytes: 300 << 20 },
        _ => Fault::Delay(Duration::from_millis(50)),
    };
    (format!("{f:?}"), f, times)
}

/// Resident set size now (Linux `VmRSS`), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn demo_objects() -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/demo-cluster.yaml")).unwrap();
    let mut objs = Vec::new();
    for (_, d) in upgrade_preflight::inventory::snapshot::parse_documents(&text, "demo").unwrap() {
        match d.get("items").and_then(Value::as_array) {
            Some(items) => objs.extend(items.iter().cloned()),
            None if d["kind"] != "SnapshotInfo" && !d.is_null() => objs.push(d),
            None => {}
        }
    }
    objs
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let runs: u64 = std::env::var("SOAK_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed: u64 = std::env::var("SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("soak: {runs} runs, seed {seed} (replay with SOAK_SEED={seed})");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let fake = FakeApi::builder().objects(demo_objects()).strip_item_type_meta().git_version("v1.25.9+rke2r1").start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    let report = dir.path().join("report.json").to_str().unwrap().to_string();

    let mut rng = Rng(seed);
    let mut codes: BTreeMap<u8, u64> = BTreeMap::new();
    let mut hangs = 0u64;
    let mut slowest = Duration::ZERO;
    let mut rss_100 = None;
    let mut faults_injected = 0u64;
    let started = Instant::now();
    for i in 1..=runs {
        fake.clear_faults();
        fake.clear_requests();
        let n_faults = rng.below(4);
        for _ in 0..n_faults {
            let (_, t) = target(&mut rng);
            let (_, f, times) = fault(&mut rng);
            fake.inject(t, f, times);
            faults_injected += 1;
        }
        let page_size = rng.pick(&["1", "3", "500"]).to_string();
        let args = [
            "upgrade-preflight",
            "check",
            "--kubeconfig",
            &kubeconfig,
            "-o",
            "json",
            "--output-file",
            &report,
            "--timeout",
            &TIMEOUT_S.to_string(),
            "--request-timeout",
            "1",
            "--page-size",
            &page_size,
        ];
        let cli = Cli::try_parse_from(args).unwrap();
        let (tx, rx) = mpsc::channel();
        let run_started = Instant::now();
        std::thread::spawn(move || {
            let status = std::panic::catch_unwind(|| commands::run(cli));
            let _ = tx.send(status.map(|s| s.code()).unwrap_or(101));
        });
        match rx.recv_timeout(Duration::from_secs(TIMEOUT_S) + HANG_SLACK) {
            Ok(code) => *codes.entry(code).or_default() += 1,
            Err(_) => {
                hangs += 1;
                eprintln!("soak: run {i} did not end within {TIMEOUT_S}s + {HANG_SLACK:?}");
                // Wait for it a while longer, so runs do not overlap.
                if let Ok(code) = rx.recv_timeout(Duration::from_secs(300)) {
                    *codes.entry(code).or_default() += 1;
                }
            }
        }
        slowest = slowest.max(run_started.elapsed());
        if i == 100 {
            rss_100 = rss_mib();
        }
        if i % 100 == 0 {
            eprintln!(
                "soak: {i}/{runs} runs, {:.0}s, rss {:.1} MiB, panics {}",
                started.elapsed().as_secs_f64(),
                rss_mib().unwrap_or(f64::NAN),
                PANICS.load(Ordering::SeqCst)
            );
        }
    }
    let rss_end = rss_mib();
    let histogram: Vec<String> = codes.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    eprintln!("soak: ---- summary (seed {seed}) ----");
    eprintln!("soak: runs                 {runs}");
    eprintln!("soak: faults injected      {faults_injected}");
    eprintln!("soak: panics               {}", PANICS.load(Ordering::SeqCst));
    eprintln!("soak: hangs (> {TIMEOUT_S}s + {}s) {hangs}", HANG_SLACK.as_secs());
    eprintln!("soak: slowest run          {:.2}s", slowest.as_secs_f64());
    eprintln!("soak: exit codes           {}", histogram.join(", "));
    eprintln!(
        "soak: RSS after run 100    {}",
        rss_100.map_or_else(|| "unknown".to_string(), |m| format!("{m:.1} MiB"))
    );
    eprintln!(
        "soak: RSS after run {runs:<6} {}",
        rss_end.map_or_else(|| "unknown".to_string(), |m| format!("{m:.1} MiB"))
    );
    eprintln!("soak: wall time            {:.0}s", started.elapsed().as_secs_f64());
}
