//! Running other programs: the cargo that runs xtask, and any command in the workspace root.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::Result;

/// The cargo that runs xtask (`$CARGO`), else the one on the `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs a command in the workspace root with inherited stdio.
pub fn run(root: &Path, program: impl AsRef<OsStr>, args: &[&str]) -> Result<ExitStatus> {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))
}

/// The cargo target directory: `CARGO_TARGET_DIR`, else `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
