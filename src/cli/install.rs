//! What a packager or a user installing by hand needs: shell completions and man pages, both
//! generated from the command-line definition (so they never drift from it).

use super::{Cli, CompletionsArgs, ManArgs};
use crate::exit;
use clap::CommandFactory;

pub(super) fn completions(args: &CompletionsArgs) -> u8 {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "hxrun", &mut out);
    crate::report::console::say(String::from_utf8_lossy(&out).trim_end());
    exit::PASSED
}

/// The man page of `hxrun` to stdout, or with `--dir` one page per command (`hxrun.1`,
/// `hxrun-run.1`, ...) into that folder.
pub(super) fn man(args: &ManArgs) -> u8 {
    let cmd = Cli::command();
    let Some(dir) = &args.dir else {
        let mut out = Vec::new();
        if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
            eprintln!("error: cannot render the man page: {e}");
            return exit::INTERNAL;
        }
        crate::report::console::say(String::from_utf8_lossy(&out).trim_end());
        return exit::PASSED;
    };
    match std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)) {
        Ok(()) => {
            crate::report::console::say(&format!("wrote man pages to {}", dir.display()));
            exit::PASSED
        }
        Err(e) => {
            eprintln!("error: cannot write man pages to {}: {e}", dir.display());
            exit::INTERNAL
        }
    }
}
