//! `cargo xtask fuzz`: the sdk's cargo-fuzz targets (`sdk/fuzz/`), each run for a while from
//! seeds generated for the run, with a summary per target and a failure that names the input.
//!
//! Owns: the check for nightly and cargo-fuzz (installing cargo-fuzz itself only in CI), the
//! runs, and the reading of libFuzzer's final statistics. The seeds are `fuzz/seeds.rs`'s.
//!
//! Never: commits or keeps anything outside the target directory (`<target>/fuzz/<name>/`:
//! seeds, corpus, artifacts, log), except the regression inputs a person copies into
//! `sdk/fuzz/regressions/<name>/`, which every run replays first.

mod seeds;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::cmd::{cargo, target_dir};

/// Every fuzz target, in the order they run.
pub const TARGETS: [&str; 5] = ["trust_bundle", "verify_chain", "tls_rustls", "tls_embedded", "mqtt_receive"];

/// How long each target runs when `--seconds` is not given.
pub const DEFAULT_SECONDS: u64 = 30;

/// The fuzz crate, relative to the workspace root.
const FUZZ_DIR: &str = "sdk/fuzz";

/// Longest a single input may run before libFuzzer calls it a hang.
const INPUT_TIMEOUT_SECS: u32 = 10;

/// What one target's run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Inputs executed (`stat::number_of_executed_units`).
    pub executions: u64,
    /// Executions per second (`stat::average_exec_per_sec`).
    pub per_second: u64,
    /// Inputs in the corpus afterwards.
    pub corpus: usize,
    /// Edges covered, from the last status line (`cov:`).
    pub coverage: Option<u64>,
}

/// `cargo xtask fuzz`: every target (or `only`) for `seconds` each.
pub fn cmd_fuzz(root: &Path, seconds: u64, only: Option<&str>) -> Result {
    let targets: Vec<&str> = match only {
        Some(name) if TARGETS.contains(&name) => vec![name],
        Some(name) => return Err(format!("no fuzz target {name}; there are {}", TARGETS.join(", "))),
        None => TARGETS.to_vec(),
    };
    let started = Instant::now();
    ensure_tools(root)?;
    let work = target_dir(root).join("fuzz");
    seeds::generate(root, &work, &targets)?;
    build(root)?;
    let mut results = Vec::new();
    for name in &targets {
        let stats = run(root, &work, name, seconds)?;
        results.push((*name, stats));
    }
    println!("\nfuzz: {} target(s), {seconds} s each, {:.0?} in all", results.len(), started.elapsed());
    for (name, s) in &results {
        let coverage = s.coverage.map_or_else(String::new, |c| format!(", coverage {c}"));
        println!(
            "  {name:<14} {:>10} executions ({}/s), corpus {}{coverage}, no crash",
            s.executions, s.per_second, s.corpus
        );
    }
    Ok(())
}

/// How long each target runs in CI's smoke step. Measured on 2 cores from a cold build: the
/// targets build in about 110 s, seeds and recordings take about 10 s, and installing
/// cargo-fuzz about 40 s, so five targets of 12 s keep the step near 3.5 minutes.
pub const SMOKE_SECONDS: u64 = 12;

/// CI's smoke step: every target for [`SMOKE_SECONDS`].
pub fn smoke(root: &Path) -> Result {
    cmd_fuzz(root, SMOKE_SECONDS, None)
}

/// `cargo +nightly ...` in the workspace root. Through rustup's `cargo` on the `PATH`, not
/// `$CARGO` (that is the stable toolchain's own binary, which knows no `+nightly`), and without
/// the toolchain variables the stable cargo running xtask set.
fn nightly(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.arg("+nightly").args(args).current_dir(root);
    for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC", "CARGO", "RUSTC_WRAPPER"] {
        command.env_remove(var);
    }
    command
}

/// Whether `command` runs and succeeds, its output discarded.
fn succeeds(mut command: Command) -> bool {
    command.output().is_ok_and(|o| o.status.success())
}

/// Checks for a nightly toolchain and cargo-fuzz; in CI (`CI=true`) installs what is missing,
/// elsewhere says what to run.
fn ensure_tools(root: &Path) -> Result {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let has_nightly = || succeeds(nightly(root, &["--version"]));
    let has_fuzz = || succeeds(nightly(root, &["fuzz", "--version"]));
    let mut missing = Vec::new();
    if !has_nightly() {
        missing.push(("a nightly toolchain", "rustup toolchain install nightly --profile minimal"));
    }
    if !has_fuzz() {
        missing.push(("cargo-fuzz", "cargo install cargo-fuzz --locked"));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let commands: Vec<&str> = missing.iter().map(|(_, command)| *command).collect();
    if !in_ci {
        let what: Vec<&str> = missing.iter().map(|(what, _)| *what).collect();
        return Err(format!("cargo xtask fuzz needs {}; run: {}", what.join(" and "), commands.join(" && ")));
    }
    for command in commands {
        println!("CI: {command}");
        let words: Vec<&str> = command.split(' ').collect();
        let (program, args) = words.split_first().ok_or("empty install command")?;
        // cargo-fuzz is installed with the stable cargo; its binary serves every toolchain.
        let program = if *program == "cargo" { cargo() } else { program.into() };
        let status = Command::new(&program)
            .args(args)
            .current_dir(root)
            .status()
            .map_err(|e| format!("cannot run {command}: {e}"))?;
        if !status.success() {
            return Err(format!("`{command}` failed ({status})"));
        }
    }
    if has_nightly() && has_fuzz() { Ok(()) } else { Err("nightly or cargo-fuzz still missing".into()) }
}

/// Builds every target once (sanitizer and coverage flags, release).
fn build(root: &Path) -> Result {
    let started = Instant::now();
    println!("$ cargo +nightly fuzz build --fuzz-dir {FUZZ_DIR}");
    let status = nightly(root, &["fuzz", "build", "--fuzz-dir", FUZZ_DIR])
        .status()
        .map_err(|e| format!("cannot run cargo +nightly fuzz: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo +nightly fuzz build` failed ({status})"));
    }
    println!("fuzz targets built in {:.0?}", started.elapsed());
    Ok(())
}

/// Runs one target for `seconds` over its seeds, corpus and regression inputs.
fn run(root: &Path, work: &Path, name: &str, seconds: u64) -> Result<Stats> {
    let dir = work.join(name);
    let (corpus, seeds, artifacts) = (dir.join("corpus"), dir.join("seeds"), dir.join("artifacts"));
    for d in [&corpus, &artifacts] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let regressions = root.join(FUZZ_DIR).join("regressions").join(name);
    let (time, prefix, timeout) = (
        format!("-max_total_time={seconds}"),
        format!("-artifact_prefix={}/", artifacts.display()),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
    );
    let mut args: Vec<String> = ["fuzz", "run", "--fuzz-dir", FUZZ_DIR, name].map(String::from).into();
    args.extend([&corpus, &seeds].map(|p| p.display().to_string()));
    if regressions.is_dir() {
        args.push(regressions.display().to_string());
    }
    args.extend(["--".into(), time, prefix, timeout, "-print_final_stats=1".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!("\n==> fuzz {name} for {seconds} s");
    let log_path = dir.join("run.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let status = nightly(root, &args)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("cannot run cargo +nightly fuzz run: {e}"))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        let input = crash_input(&text).map_or_else(
            || "no input was written".to_string(),
            |path| format!("the input is kept at {path}; replay: cargo +nightly fuzz run --fuzz-dir {FUZZ_DIR} {name} {path}"),
        );
        return Err(format!(
            "fuzz target {name} failed ({status}): {input}\nfull log {}; its end:\n{}",
            log_path.display(),
            tail.join("\n")
        ));
    }
    let mut stats = parse_stats(&text);
    stats.corpus = std::fs::read_dir(&corpus).map_or(0, |d| d.count());
    println!(
        "{name}: {} executions ({}/s), corpus {}, log {}",
        stats.executions,
        stats.per_second,
        stats.corpus,
        log_path.display()
    );
    Ok(stats)
}

/// Reads libFuzzer's `-print_final_stats=1` lines and the last status line's coverage.
pub fn parse_stats(log: &str) -> Stats {
    let stat = |key: &str| {
        log.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim_start_matches(':').trim().parse().ok())
            .unwrap_or(0)
    };
    let coverage = log.lines().rev().find_map(|line| {
        let after = line.split_once(" cov: ")?.1;
        after.split_whitespace().next()?.parse().ok()
    });
    Stats {
        executions: stat("stat::number_of_executed_units"),
        per_second: stat("stat::average_exec_per_sec"),
        corpus: 0,
        coverage,
    }
}

/// The input libFuzzer kept for a crash, leak, timeout or out-of-memory (`Test unit written to`).
pub fn crash_input(log: &str) -> Option<&str> {
    log.lines().find_map(|line| line.split_once("Test unit written to ")).map(|(_, path)| path.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "#4096\tpulse  cov: 812 ft: 1933 corp: 101/9034b lim: 43 exec/s: 2048 rss: 55Mb\n\
        #8000\tDONE   cov: 830 ft: 2001 corp: 110/10Kb lim: 63 exec/s: 1600 rss: 57Mb\n\
        Done 8000 runs in 5 second(s)\n\
        stat::number_of_executed_units: 8000\n\
        stat::average_exec_per_sec:     1600\n\
        stat::new_units_added:          9\n";

    #[test]
    fn final_stats_and_coverage_are_read() {
        let stats = parse_stats(LOG);
        assert_eq!(stats, Stats { executions: 8000, per_second: 1600, corpus: 0, coverage: Some(830) });
        assert_eq!(parse_stats(""), Stats::default());
    }

    #[test]
    fn the_crashing_input_is_found() {
        let log = "==1== ERROR: libFuzzer: deadly signal\nartifact_prefix='/t/a/'; Test unit written to /t/a/crash-12ab\nBase64: AA==\n";
        assert_eq!(crash_input(log), Some("/t/a/crash-12ab"));
        assert_eq!(crash_input(LOG), None);
    }
}
