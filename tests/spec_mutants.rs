//! Property test: mutated specs never make slogen panic. Every mutant of `slos/` and the valid fixtures either
//! fails with exit 1 and a `file:line:col` on every diagnostic, leaving the output folder untouched, or
//! succeeds with outputs their consumers accept (rules and rule tests parse as YAML, dashboards and the
//! schema as JSON, and a sample passes `promtool check rules`).
//!
//! Deterministic: case `i` uses the seed `SLOGEN_MUTANTS_SEED + i`, so a failure reproduces with
//! `SLOGEN_MUTANTS_CASE=i`. `SLOGEN_MUTANTS_CASES=N` sets the count (the default is CI's short run; before a
//! release run 100,000 in release mode, see the README). A failing mutant is saved under
//! `target/tmp/spec-mutants/` to be kept as a regression in `tests/fixtures/mutants/`.

#[path = "common/mutate.rs"]
mod mutate;
#[path = "common/promtool.rs"]
mod promtool;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use mutate::{Mutant, SpecDir};
use slogen::cli::{Cli, Command, Paths};

/// Cases of the short run in the normal test suite.
const SHORT_RUN: u64 = 6_000;
/// Seed of case 0 unless `SLOGEN_MUTANTS_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5109_e4d0_2026_0008;
/// Every this many cases goes through the binary instead of in-process.
const BINARY_EVERY: u64 = 40;
/// How many successful mutants per run `promtool check rules` checks.
const PROMTOOL_SAMPLE: usize = 3;

/// Diagnostics known to lack a position, with what is missing (none today). A finding
/// that holds one of these is counted and listed in the summary instead of failing the run. Delete an entry
/// once its fix lands: a recurrence then fails the test.
const KNOWN_GAPS: [(&str, &str); 0] = [];

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `slos/` and every valid fixture: the specs mutants start from.
fn bases() -> Vec<SpecDir> {
    let mut dirs = vec![root().join("slos")];
    let fixtures = root().join("tests/fixtures/valid");
    let mut valid: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures/valid")
        .map(|e| e.expect("entry").path())
        .collect();
    valid.sort();
    dirs.extend(valid);
    dirs.iter().map(|d| SpecDir::read(d)).collect()
}

#[test]
fn mutated_specs_never_panic_and_fail_with_positions() {
    let seed = env_u64("SLOGEN_MUTANTS_SEED").unwrap_or(DEFAULT_SEED);
    let cases: Vec<u64> = match env_u64("SLOGEN_MUTANTS_CASE") {
        Some(case) => vec![case],
        None => (0..env_u64("SLOGEN_MUTANTS_CASES").unwrap_or(SHORT_RUN)).collect(),
    };
    let bases = bases();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let promtool_budget = AtomicUsize::new(PROMTOOL_SAMPLE);
    let results: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (bases, cases, budget) = (&bases, &cases, &promtool_budget);
                scope.spawn(move || {
                    let mut worker = Worker::new();
                    for &case in cases.iter().skip(t).step_by(threads) {
                        let mutant = mutate::mutant(bases, seed.wrapping_add(case));
                        worker.run(
                            case,
                            &mutant,
                            case % BINARY_EVERY == BINARY_EVERY - 1,
                            budget,
                        );
                    }
                    worker.tally
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let mut total = Tally::default();
    for t in results {
        total.merge(t);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "spec mutants: {} cases in {:.1} s (seed {seed:#x}): {} valid, {} rejected with positions, {} through the binary, {} promtool-checked, {} findings",
        cases.len(),
        elapsed.as_secs_f64(),
        total.valid,
        total.rejected,
        total.binary,
        total.promtool,
        total.findings.len()
    );
    for ((needle, why), (count, first)) in KNOWN_GAPS.iter().zip(&total.known) {
        if let Some(first) = first {
            eprintln!("known gap, {count} case(s) (first: case {first}): {why} (`{needle}`)");
        }
    }
    assert!(
        total.findings.is_empty(),
        "{} finding(s); reproduce one with SLOGEN_MUTANTS_SEED={seed} SLOGEN_MUTANTS_CASE=<case>:\n\n{}",
        total.findings.len(),
        total.findings.join("\n\n")
    );
    if cases.len() >= 200 {
        assert!(
            total.valid > 0 && total.rejected > 0,
            "mutants exercise both outcomes"
        );
    }
}

/// Mutants kept because they once broke slogen: each must still fail cleanly or pass cleanly.
#[test]
fn saved_mutants_stay_fixed() {
    let dir = root().join("tests/fixtures/mutants");
    let mut saved: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/mutants")
        .map(|e| e.expect("entry").path())
        .collect();
    saved.sort();
    assert!(!saved.is_empty());
    let mut worker = Worker::new();
    let budget = AtomicUsize::new(0);
    for (i, path) in saved.iter().enumerate() {
        let mutant = Mutant {
            files: SpecDir::read(path).files,
            story: format!("saved mutant {}", path.display()),
        };
        worker.run(i as u64, &mutant, i % 2 == 1, &budget);
    }
    assert!(
        worker.tally.findings.is_empty(),
        "{}",
        worker.tally.findings.join("\n\n")
    );
}

/// What a run found.
#[derive(Default)]
struct Tally {
    valid: usize,
    rejected: usize,
    binary: usize,
    promtool: usize,
    findings: Vec<String>,
    /// Findings per entry of [`KNOWN_GAPS`], with the first case that hit it.
    known: [(usize, Option<u64>); KNOWN_GAPS.len()],
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.valid += other.valid;
        self.rejected += other.rejected;
        self.binary += other.binary;
        self.promtool += other.promtool;
        self.findings.extend(other.findings);
        for (mine, theirs) in self.known.iter_mut().zip(other.known) {
            mine.0 += theirs.0;
            mine.1 = match (mine.1, theirs.1) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
}

/// One thread's scratch folders: the spec folder a mutant is written to, and an output folder that always
/// holds the last successful output, so a failed run can be checked to have left it alone.
struct Worker {
    tmp: tempfile::TempDir,
    tally: Tally,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            tmp: tempfile::tempdir().expect("temp dir"),
            tally: Tally::default(),
        }
    }

    fn run(&mut self, case: u64, mutant: &Mutant, binary: bool, promtool_budget: &AtomicUsize) {
        let slos = self.tmp.path().join("slos");
        let out = self.tmp.path().join("out");
        if slos.exists() {
            std::fs::remove_dir_all(&slos).expect("clear spec folder");
        }
        std::fs::create_dir(&slos).expect("spec folder");
        for (name, bytes) in &mutant.files {
            std::fs::write(slos.join(name), bytes).expect("write mutant");
        }
        let before = mutate::snapshot(&out);
        let outcome = if binary {
            self.tally.binary += 1;
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_slogen"))
                .args(["generate", "--slos", "slos", "--out", "out"])
                .current_dir(self.tmp.path())
                .output()
                .expect("run slogen");
            match o.status.code() {
                Some(code) => Ok((code, String::from_utf8_lossy(&o.stderr).into_owned())),
                None => Err(format!("killed by a signal: {:?}", o.status)),
            }
        } else {
            let cli = Cli {
                command: Command::Generate(Paths {
                    slos: slos.clone(),
                    out: out.clone(),
                }),
            };
            std::panic::catch_unwind(AssertUnwindSafe(|| slogen::cli::run(&cli)))
                .map(|o| (i32::from(o.code), o.stderr))
                .map_err(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("panicked: {msg}")
                })
        };
        // The whole message, which known gaps are matched against (findings show it cut short).
        let mut said = String::new();
        let problem = match outcome {
            Err(e) => Some(e),
            Ok((1, stderr)) => {
                self.tally.rejected += 1;
                said.clone_from(&stderr);
                let untouched = mutate::snapshot(&out) == before;
                match mutate::unpositioned(&stderr) {
                    Some(why) => Some(format!("{why}:\n{}", cut(&stderr))),
                    None if !untouched => Some("the output folder changed on error".into()),
                    None => None,
                }
            }
            Ok((0, _)) => {
                self.tally.valid += 1;
                match mutate::invalid_outputs(&out, promtool_budget) {
                    Ok(checked) => {
                        self.tally.promtool += usize::from(checked);
                        None
                    }
                    Err(why) => Some(why),
                }
            }
            Ok((code, stderr)) => Some(format!("exit {code}:\n{}", cut(&stderr))),
        };
        if let Some(gap) = problem.as_ref().and_then(|p| {
            KNOWN_GAPS
                .iter()
                .position(|(needle, _)| p.contains(needle) || said.contains(needle))
        }) {
            let known = &mut self.tally.known[gap];
            known.0 += 1;
            known.1 = Some(known.1.map_or(case, |c| c.min(case)));
        } else if let Some(problem) = problem {
            let saved = mutate::save(case, mutant);
            self.tally.findings.push(format!(
                "case {case} ({}), saved in {}: {problem}",
                mutant.story,
                saved.display()
            ));
            // Start the next case from a clean output folder.
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}

/// At most the first 600 characters of a message.
fn cut(text: &str) -> String {
    let mut cut: String = text.chars().take(600).collect();
    if cut.len() < text.len() {
        cut.push_str(" […]");
    }
    cut
}
