//! Spec mutants for the property test: deleted, duplicated, swapped and truncated lines, values of the wrong
//! type, huge and extreme values, deep nesting, random and non-UTF-8 bytes, lines moved between files; and
//! the checks a run's result must pass.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::promtool;

/// A spec folder's `*.toml` files, as bytes.
pub struct SpecDir {
    /// (file name, contents), sorted by name.
    pub files: Vec<(String, Vec<u8>)>,
}

impl SpecDir {
    /// Reads every `*.toml` file of `dir`.
    pub fn read(dir: &Path) -> SpecDir {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read(&p).expect("read spec"))
            })
            .collect();
        files.sort();
        SpecDir { files }
    }
}

/// One mutated spec folder and how it was made.
pub struct Mutant {
    /// (file name, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// The mutations applied, for failure messages.
    pub story: String,
}

/// Values of every TOML type, to put where another type belongs.
const TYPED: [&str; 18] = [
    "\"text\"",
    "\"\"",
    "0",
    "-1",
    "42",
    "3.5",
    "-0.0",
    "true",
    "false",
    "[]",
    "[1, 2]",
    "[\"a\", \"b\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "nan",
    "inf",
    "-inf",
];

/// Values at the edges of what numbers and objectives can hold.
const EXTREME: [&str; 16] = [
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "1.7976931348623157e308",
    "5e-324",
    "99.99999999999999999",
    "99.999999999999999999999999",
    "99.9999999999999",
    "99.99999999999",
    "100",
    "0.000000000000000001",
    "1e-15",
    "4294967296",
    "99.95",
    "0.5",
];

/// The mutant for `seed`: one base spec folder with one to four mutations.
pub fn mutant(bases: &[SpecDir], seed: u64) -> Mutant {
    let mut rng = fastrand::Rng::with_seed(seed);
    let base = &bases[rng.usize(..bases.len())];
    let mut files = base.files.clone();
    let mut story = Vec::new();
    // Mostly one mutation, so that a fair share of mutants stay valid and reach every emitter.
    let count = [1, 1, 1, 1, 1, 2, 2, 3, 4][rng.usize(..9)];
    for _ in 0..count {
        let f = rng.usize(..files.len());
        let donor = files[rng.usize(..files.len())].1.clone();
        let (name, bytes) = &mut files[f];
        let what = mutate(&mut rng, bytes, &donor);
        story.push(format!("{name}: {what}"));
    }
    Mutant {
        files,
        story: story.join("; "),
    }
}

/// Applies one random mutation to `bytes`; `donor` is another (or the same) file to take lines from.
fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>, donor: &[u8]) -> String {
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let n = lines.len();
    let line = rng.usize(..n);
    let what = match rng.u8(..18) {
        16 | 17 => {
            // Another line's value: the right type often, the right meaning rarely.
            let values: Vec<Vec<u8>> = lines
                .iter()
                .filter_map(|l| {
                    let at = l.windows(3).position(|w| w == b" = ")?;
                    Some(l[at + 3..].to_vec())
                })
                .collect();
            if values.is_empty() {
                return "no value to copy".into();
            }
            let value = String::from_utf8_lossy(&values[rng.usize(..values.len())]).into_owned();
            replace_value(&mut lines, rng, &value)
        }
        14 | 15 => {
            lines[line].insert(0, b'#');
            format!("commented out line {}", line + 1)
        }
        0 => {
            lines.remove(line);
            format!("deleted line {}", line + 1)
        }
        1 => {
            lines.insert(line, lines[line].clone());
            format!("duplicated line {}", line + 1)
        }
        2 => {
            let other = rng.usize(..n);
            lines.swap(line, other);
            format!("swapped lines {} and {}", line + 1, other + 1)
        }
        3 | 4 => {
            let value = TYPED[rng.usize(..TYPED.len())];
            replace_value(&mut lines, rng, value)
        }
        5 | 6 => {
            let value = EXTREME[rng.usize(..EXTREME.len())];
            replace_value(&mut lines, rng, value)
        }
        7 => {
            let depth = [8, 64, 200, 5_000][rng.usize(..4)];
            let nested = if rng.bool() {
                format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                format!("{}1{}", "{ a = ".repeat(depth), " }".repeat(depth))
            };
            replace_value(&mut lines, rng, &nested)
        }
        8 => {
            let huge = if rng.bool() {
                format!("\"{}\"", "x".repeat(rng.usize(1_000..200_000)))
            } else {
                format!("[{}1]", "1, ".repeat(rng.usize(100..20_000)))
            };
            replace_value(&mut lines, rng, &huge)
        }
        9 => {
            let count = rng.usize(1..=8);
            let at = rng.usize(..=lines[line].len());
            let random: Vec<u8> = (0..count).map(|_| rng.u8(..)).collect();
            lines[line].splice(at..at, random.iter().copied());
            format!("inserted bytes {random:02x?} in line {}", line + 1)
        }
        10 => {
            let bad: &[u8] = [
                &[0xff][..],
                &[0xc3],
                &[0xc0, 0xaf],
                &[0xed, 0xa0, 0x80],
                &[0xe2, 0x82],
            ][rng.usize(..5)];
            let at = rng.usize(..=lines[line].len());
            lines[line].splice(at..at, bad.iter().copied());
            format!("inserted non-UTF-8 {bad:02x?} in line {}", line + 1)
        }
        11 => {
            let donor_lines: Vec<&[u8]> = donor.split(|b| *b == b'\n').collect();
            let taken = donor_lines[rng.usize(..donor_lines.len())].to_vec();
            lines.insert(line, taken);
            format!("inserted another file's line at {}", line + 1)
        }
        12 => {
            let cut = rng.usize(..=bytes.len());
            bytes.truncate(cut);
            return format!("truncated at byte {cut}");
        }
        _ => {
            let table = [
                "[service]",
                "[tiers.extra]",
                "[labels.extra]",
                "[metrics.extra]",
                "[slos.extra]",
                "[alerts.Extra]",
                "[dashboard]",
                "[[metrics.extra]]",
                "[slos.extra.ratio]",
                "[a.b.c.d.e.f.g.h]",
            ][rng.usize(..10)];
            lines.insert(line, table.as_bytes().to_vec());
            format!("inserted `{table}` at line {}", line + 1)
        }
    };
    *bytes = lines.join(&b'\n');
    what
}

/// Replaces the value of a random `key = value` line with `value`; inserts `key = value` when none is found.
fn replace_value(lines: &mut [Vec<u8>], rng: &mut fastrand::Rng, value: &str) -> String {
    let assignments: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let l = &lines[i];
            !l.starts_with(b"#") && l.windows(3).any(|w| w == b" = ")
        })
        .collect();
    if assignments.is_empty() {
        return "no value to replace".into();
    }
    let i = assignments[rng.usize(..assignments.len())];
    let at = lines[i]
        .windows(3)
        .position(|w| w == b" = ")
        .expect("an assignment");
    lines[i].truncate(at + 3);
    lines[i].extend_from_slice(value.as_bytes());
    let shown: String = value.chars().take(40).collect();
    format!("set line {} to `{shown}`", i + 1)
}

/// Why a failed run's diagnostics fall short, if they do: each diagnostic must name `file:line:col`.
pub fn unpositioned(stderr: &str) -> Option<String> {
    let blocks: Vec<&str> = stderr
        .split("\nerror")
        .flat_map(|b| b.split("\nwarning"))
        .collect();
    let problems: Vec<&str> = blocks
        .iter()
        .copied()
        .filter(|b| {
            !b.contains("problem found; nothing was written")
                && !b.contains("problems found; nothing was written")
        })
        .filter(|b| !b.trim().is_empty())
        .collect();
    if problems.is_empty() {
        return Some("exit 1 without a diagnostic".into());
    }
    problems.iter().find(|b| !has_position(b)).map(|b| {
        let first: String = b
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(300)
            .collect();
        format!("a diagnostic without a file:line:col: `{first}`")
    })
}

/// True when the text holds `slos/<name>.toml:<line>:<col>`.
fn has_position(text: &str) -> bool {
    text.match_indices("slos/").any(|(at, _)| {
        let rest = &text[at + 5..];
        let Some(end) = rest.find(".toml:") else {
            return false;
        };
        let name = &rest[..end];
        let mut parts = rest[end + 6..].splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        !name.is_empty()
            && !name.contains(char::is_whitespace)
            && !line.is_empty()
            && line.chars().all(|c| c.is_ascii_digit())
            && !col.is_empty()
    })
}

/// What is wrong with a successful run's outputs, if anything: rules and rule tests must parse as YAML,
/// dashboards and the schema as JSON; while `promtool_budget` lasts, the rules must pass `promtool check
/// rules` (true when they were checked).
pub fn invalid_outputs(out: &Path, promtool_budget: &AtomicUsize) -> Result<bool, String> {
    let mut rules = Vec::new();
    let files = snapshot(out);
    if files.is_empty() {
        return Err("exit 0 without outputs".into());
    }
    for (path, bytes) in &files {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(format!("{path} is not UTF-8"));
        };
        if path.ends_with(".yml") {
            if let Err(e) = serde_norway::from_str::<serde_norway::Value>(text) {
                return Err(format!("{path} is not YAML: {e}"));
            }
            if path.ends_with("/rules.yml") {
                rules.push(out.join(path));
            }
        } else if path.ends_with(".json") {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
                return Err(format!("{path} is not JSON: {e}"));
            }
        }
    }
    let checked = !rules.is_empty()
        && promtool_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
    if checked {
        let o = promtool::run(&["check", "rules"], &rules);
        if !o.status.success() {
            return Err(format!(
                "promtool check rules failed:\n{}",
                promtool::text(&o)
            ));
        }
    }
    Ok(checked)
}

/// Every file under `dir` with its bytes, sorted (an absent folder is empty).
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).expect("read output")));
            }
        }
    }
    out.sort();
    out
}

/// Saves a mutant that broke something under the target's temp folder, to inspect and keep as a regression.
pub fn save(case: u64, mutant: &Mutant) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("spec-mutants")
        .join(format!("case-{case}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("save folder");
    for (name, bytes) in &mutant.files {
        std::fs::write(dir.join(name), bytes).expect("save mutant");
    }
    std::fs::write(dir.join("STORY"), &mutant.story).expect("save story");
    dir
}
