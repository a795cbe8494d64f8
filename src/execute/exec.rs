//! The `exec` step: run a program (no shell), record exit code and output.

use super::record::{ExecObservation, FailureKind, StepError};
use crate::spec::ExecStep;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

pub async fn run(step: &ExecStep, base_dir: &Path) -> Result<ExecObservation, StepError> {
    let shown = step.command.join(" ");
    let fail = |kind, message: String| StepError { kind, message, detail: format!("$ {shown}") };
    let (program, args) =
        step.command.split_first().ok_or_else(|| fail(FailureKind::Error, "empty command".to_string()))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(&step.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timed-out step drops the future; the child must not outlive it.
        .kill_on_drop(true);
    if let Some(cwd) = &step.cwd {
        cmd.current_dir(base_dir.join(cwd));
    }
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("command not found: \"{program}\" (is it installed and on PATH?)")
        } else {
            format!("could not start \"{program}\": {e}")
        };
        fail(FailureKind::Error, message)
    })?;
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| fail(FailureKind::Error, format!("waiting for \"{program}\" failed: {e}")))?;
    Ok(ExecObservation {
        command: step.command.clone(),
        exit_code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    })
}
