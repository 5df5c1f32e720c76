//! How the generator scales with the number of SLOs: synthetic specs with 10, 100, 1,000 and 5,000 SLOs
//! over as many metrics, timed in memory (lower + emit) and end to end (read the files, lower, emit,
//! write). After the criterion groups it prints the time per SLO of every stage at every size, which is
//! where a super-linear stage shows, and the peak memory of the release `slogen generate` on the 1,000 and
//! 5,000 SLO specs.
//!
//! A size whose single run of lower + emit takes longer than the budget (`SLOGEN_BENCH_BUDGET_SECS`,
//! default 20) is left out of the criterion groups, and so are the sizes above it; the stage table and the
//! memory runs are bounded the same way (memory: 15 × the budget, extrapolated from the smaller sizes), and
//! every skip is printed with the time that caused it. `SLOGEN_BENCH_SLOS=10,100,200` replaces the sizes.
//!
//! Run: `cargo bench --bench generate`, then `python3 scripts/bench-summary.py --filter generate`.

#[path = "support/machine.rs"]
mod machine;
use machine::machine;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use slogen::model::{Model, SourceFile};
use slogen::{diagnostics, emit, load, model, write};

/// The spec sizes, in SLOs (and metrics), unless `SLOGEN_BENCH_SLOS` lists others.
const SIZES: [usize; 4] = [10, 100, 1_000, 5_000];

/// The sizes whose `slogen generate` peak memory is measured (those of them that are benchmarked).
const MEMORY_SIZES: [usize; 2] = [1_000, 5_000];

/// How much longer than the budget a memory run may take: it runs once, not once per sample.
const MEMORY_BUDGET_FACTOR: f64 = 15.0;

/// Dashboard rows the metrics are spread over; fixed, so the row count does not grow with the spec.
const ROWS: usize = 8;

/// One threshold alert per this many SLOs; even, so every alerted metric is a counter.
const SLOS_PER_ALERT: usize = 10;
const _: () = assert!(SLOS_PER_ALERT.is_multiple_of(2));

/// The tiers file every synthetic spec directory shares.
const TIERS: &str = r#"version = 1

[tiers.standard]
objective = 99.9
description = "User-facing features."

[tiers.best_effort]
objective = 99.0
description = "Background work."
page = false
"#;

/// A valid spec directory with `slos` SLOs over as many metrics, in one service.
///
/// Even metrics are counters `mNNNNN_requests{method,route,status}` with a ratio SLO (5xx over all);
/// odd metrics are histograms `mNNNNN_duration_seconds{method,route}` with a latency SLO at 0.5 s.
/// Objectives and tiers vary, and every tenth counter has a threshold alert on its error rate. Everything
/// is in one service on purpose: lookups that scan the service's metrics per SLO show up as growth.
fn spec_files(slos: usize) -> Vec<SourceFile> {
    let mut text = String::from(
        r#"version = 1

[service]
name = "bench"
tier = "standard"
team = "platform"
description = "Synthetic service for the generator benchmarks."
runbook_base_url = "https://runbooks.example.com/bench"
selector = { job = "bench" }

[labels.method]
help = "HTTP request method."
values = ["GET", "POST", "PUT", "DELETE"]

[labels.route]
help = "Route template."
max_values = 100

[labels.status]
help = "Status class of the response."
values = ["2xx", "4xx", "5xx"]
"#,
    );
    for i in 0..slos {
        let row = i % ROWS;
        if i % 2 == 0 {
            let _ = write!(
                text,
                r#"
[metrics.m{i:05}_requests]
type = "counter"
help = "Requests to feature {i}."
labels = ["method", "route", "status"]
row = "Row {row}"
group_by = ["status"]
"#
            );
        } else {
            let _ = write!(
                text,
                r#"
[metrics.m{i:05}_duration]
type = "histogram"
help = "Latency of feature {i}."
unit = "seconds"
labels = ["method", "route"]
buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
row = "Row {row}"
group_by = ["method"]
"#
            );
        }
    }
    for i in 0..slos {
        let _ = write!(text, "\n[slos.slo_{i:05}]\n");
        match i % 3 {
            0 => {}
            1 => text.push_str("objective = 99.5\n"),
            _ => text.push_str("tier = \"best_effort\"\nwindow = \"28d\"\n"),
        }
        if i % 2 == 0 {
            let _ = write!(
                text,
                r#"description = "Feature {i} requests succeed."
[slos.slo_{i:05}.ratio]
errors = {{ metric = "m{i:05}_requests", match = {{ status = ["5xx"] }} }}
total = {{ metric = "m{i:05}_requests" }}
"#
            );
        } else {
            let _ = write!(
                text,
                r#"description = "Feature {i} requests are fast."
[slos.slo_{i:05}.latency]
metric = "m{i:05}_duration"
threshold = 0.5
match = {{ method = ["GET", "POST"] }}
"#
            );
        }
    }
    for i in (0..slos).step_by(SLOS_PER_ALERT) {
        let _ = write!(
            text,
            r#"
[alerts.M{i:05}ErrorsHigh]
expr = 'sum(rate(m{i:05}_requests_total{{job="bench", status="5xx"}}[5m])) > 1'
for = "5m"
severity = "ticket"
summary = "Feature {i} fails often."
description = "{{{{ $value }}}} requests per second to feature {i} fail."
"#
        );
    }
    vec![
        SourceFile {
            path: "slos/bench.toml".into(),
            text,
        },
        SourceFile {
            path: "slos/tiers.toml".into(),
            text: TIERS.into(),
        },
    ]
}

fn lower(files: &[SourceFile]) -> Model {
    model::lower(files).unwrap_or_else(|problems| {
        panic!(
            "the synthetic spec is invalid:\n{}",
            diagnostics::render(files, &problems)
        )
    })
}

/// Writes the spec files into `dir`, as `slogen generate --slos dir` reads them.
fn write_specs(dir: &Path, files: &[SourceFile]) {
    for file in files {
        let name = Path::new(&file.path).file_name().expect("a file name");
        std::fs::write(dir.join(name), &file.text).expect("spec written");
    }
}

fn in_memory(c: &mut Criterion, sizes: &[usize]) {
    let mut group = c.benchmark_group("generate_lower_emit");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for &slos in sizes {
        let files = spec_files(slos);
        group.throughput(Throughput::Elements(slos as u64));
        group.bench_function(BenchmarkId::new("slogen", slos), |b| {
            b.iter(|| emit::emit_all(&lower(black_box(&files))).expect("emits"))
        });
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion, sizes: &[usize]) {
    let mut group = c.benchmark_group("generate_end_to_end");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for &slos in sizes {
        let root = tempfile::tempdir().expect("temp dir");
        let spec_dir = root.path().join("slos");
        std::fs::create_dir(&spec_dir).expect("spec dir");
        write_specs(&spec_dir, &spec_files(slos));
        group.throughput(Throughput::Elements(slos as u64));
        group.bench_function(BenchmarkId::new("slogen", slos), |b| {
            // A fresh output directory each time, so every file is really written.
            b.iter_batched(
                || tempfile::tempdir_in(root.path()).expect("out dir"),
                |out| {
                    let files = load::spec_dir(&spec_dir).expect("specs read");
                    let outputs = emit::emit_all(&lower(&files)).expect("emits");
                    write::write(out.path(), &spec_dir, &outputs).expect("written");
                    out
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// The fastest of up to three runs of `f`, the least disturbed by other work on the machine; a run longer
/// than a third of `budget` is not repeated.
fn fastest<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        black_box(f());
        best = best.min(start.elapsed());
        if best > budget / 3 {
            break;
        }
    }
    best
}

/// One stage of the pipeline, timed on its own.
type Stage = (&'static str, fn(&[SourceFile], &Model) -> usize);

const STAGES: [Stage; 7] = [
    ("lower (parse + validate)", |files, _| {
        lower(files).services.len()
    }),
    ("emit rust", |_, model| {
        emit::rust::emit(&model.services[0]).expect("emits").len()
    }),
    ("emit prometheus", |_, model| {
        emit::prometheus::emit(&model.services[0])
            .expect("emits")
            .len()
    }),
    ("emit rule tests", |_, model| {
        emit::rule_tests::emit(&model.services[0])
            .expect("emits")
            .len()
    }),
    ("emit grafana", |_, model| {
        emit::grafana::emit(&model.services[0])
            .expect("emits")
            .len()
    }),
    ("emit docs (service)", |_, model| {
        emit::docs::service(model, &model.services[0])
            .expect("emits")
            .len()
    }),
    ("emit docs (index)", |_, model| {
        emit::docs::index(model).expect("emits").len()
    }),
];

/// Time per SLO of each stage at each size; a stage whose column grows with the size is super-linear.
/// Once a stage's run exceeds the budget, its larger sizes are skipped.
fn stages(sizes: &[usize], budget: Duration) {
    let inputs: Vec<(usize, Vec<SourceFile>, Model)> = sizes
        .iter()
        .map(|&slos| {
            let files = spec_files(slos);
            let model = lower(&files);
            (slos, files, model)
        })
        .collect();
    println!(
        "\nper-SLO time of each stage (fastest of up to 3 runs; xN = per-SLO time / per-SLO time at {} SLOs)",
        sizes[0]
    );
    print!("{:<26}", "stage");
    for slos in sizes {
        print!(" {:>18}", format!("{slos} SLOs"));
    }
    println!();
    for (name, stage) in STAGES {
        print!("{name:<26}");
        let mut first = None;
        let mut over: Option<Duration> = None;
        for (slos, files, model) in &inputs {
            if let Some(took) = over {
                print!(" {:>18}", format!("skipped ({:.0} s)", took.as_secs_f64()));
                continue;
            }
            let run = fastest(budget, || stage(files, model));
            let per_slo = run.as_secs_f64() * 1e6 / *slos as f64;
            let base = *first.get_or_insert(per_slo);
            print!(
                " {:>18}",
                format!("{} x{:.1}", micros(per_slo), per_slo / base)
            );
            if run > budget {
                over = Some(run);
            }
        }
        println!();
    }
}

fn micros(us: f64) -> String {
    if us >= 1e4 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

/// Times one lower + emit_all per size, smallest first, and returns the sizes within `budget`; the first
/// size over it and every larger one are left out. Also returns each measured time, for the memory runs.
fn probe(sizes: &[usize], budget: Duration) -> (Vec<usize>, Vec<(usize, Duration)>) {
    let mut within = Vec::new();
    let mut times = Vec::new();
    for &slos in sizes {
        let files = spec_files(slos);
        let start = Instant::now();
        black_box(emit::emit_all(&lower(&files)).expect("emits"));
        let took = start.elapsed();
        times.push((slos, took));
        println!(
            "one lower + emit_all at {slos} SLOs: {} per SLO ({:.3} s)",
            micros(took.as_secs_f64() * 1e6 / slos as f64),
            took.as_secs_f64()
        );
        if took > budget {
            println!(
                "one lower + emit_all at {slos} SLOs took {:.1} s, over the {} s budget: \
                 the criterion groups stop at {}",
                took.as_secs_f64(),
                budget.as_secs(),
                within
                    .last()
                    .map_or("no size".into(), |n: &usize| format!("{n} SLOs")),
            );
            break;
        }
        within.push(slos);
    }
    (within, times)
}

/// The time of one run at `slos`, measured or extrapolated from the two largest measured sizes with their
/// own growth exponent (at least linear).
fn predicted(times: &[(usize, Duration)], slos: usize) -> Option<Duration> {
    if let Some((_, took)) = times.iter().find(|(n, _)| *n == slos) {
        return Some(*took);
    }
    let [.., (n0, t0), (n1, t1)] = times else {
        return None;
    };
    let exponent =
        ((t1.as_secs_f64() / t0.as_secs_f64()).ln() / (*n1 as f64 / *n0 as f64).ln()).max(1.0);
    Some(t1.mul_f64((slos as f64 / *n1 as f64).powf(exponent)))
}

/// Peak resident memory of the release `slogen generate` on the larger specs, read from `/usr/bin/time -v`.
fn peak_memory(times: &[(usize, Duration)], budget: Duration) {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        println!("\npeak memory: /usr/bin/time is not installed (apt-get install time); skipped");
        return;
    }
    println!(
        "\npeak memory of `slogen generate` ({})",
        env!("CARGO_BIN_EXE_slogen")
    );
    for slos in MEMORY_SIZES {
        match predicted(times, slos) {
            Some(took) if took <= budget => {}
            took => {
                println!(
                    "{slos:>6} SLOs: skipped, one run would take about {} (budget {} s)",
                    took.map_or("?".into(), |t| format!("{:.0} s", t.as_secs_f64())),
                    budget.as_secs()
                );
                continue;
            }
        }
        let root = tempfile::tempdir().expect("temp dir");
        let spec_dir = root.path().join("slos");
        std::fs::create_dir(&spec_dir).expect("spec dir");
        write_specs(&spec_dir, &spec_files(slos));
        let spec_bytes: u64 = std::fs::read_dir(&spec_dir)
            .expect("spec dir")
            .map(|entry| entry.expect("entry").metadata().expect("metadata").len())
            .sum();
        let output = Command::new(time)
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_slogen"))
            .arg("generate")
            .arg("--slos")
            .arg(&spec_dir)
            .arg("--out")
            .arg(root.path().join("generated"))
            .output()
            .expect("runs /usr/bin/time");
        let report = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "slogen generate failed:\n{report}");
        let field = |name: &str| {
            report
                .lines()
                .find_map(|line| line.trim().strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .unwrap_or_else(|| "?".into())
        };
        let out_bytes = dir_size(&root.path().join("generated"));
        println!(
            "{slos:>6} SLOs: max RSS {} KiB, wall {}, specs {} KiB, outputs {} KiB",
            field("Maximum resident set size (kbytes):"),
            field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
            spec_bytes / 1024,
            out_bytes / 1024,
        );
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|entry| {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dir_size(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// A positive number from the environment, or `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn main() {
    println!("machine: {}", machine());
    let budget = Duration::from_secs_f64(env_or("SLOGEN_BENCH_BUDGET_SECS", 20.0));
    let sizes: Vec<usize> = std::env::var("SLOGEN_BENCH_SLOS").map_or(SIZES.to_vec(), |list| {
        list.split(',')
            .map(|n| n.trim().parse().expect("SLOGEN_BENCH_SLOS lists numbers"))
            .collect()
    });
    let (within, times) = probe(&sizes, budget);
    let mut c = Criterion::default().configure_from_args();
    in_memory(&mut c, &within);
    end_to_end(&mut c, &within);
    c.final_summary();
    stages(&sizes, budget);
    peak_memory(&times, budget.mul_f64(MEMORY_BUDGET_FACTOR));
}
