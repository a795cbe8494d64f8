//! The `exec` step: run a program (no shell), record exit code and output.
//!
//! The program runs in a process group of its own, and when the step ends — the program
//! exited, timed out, or the run was stopped — everything left in that group is killed: a step
//! owns what it started (`sh -c "sleep 300 &"` leaves no orphan to hold ports, GPUs or the CI
//! job open). A process meant to outlive the step is started by a service manager (`systemctl
//! start`) or in a session of its own (`setsid`). Output is kept up to
//! `--max-body` per stream and read on past that (a child blocked on a full pipe would hang);
//! reading stops when the program has exited and its output closed, or a short grace after
//! the exit when a background child still holds the pipe.

use super::Limits;
use crate::record::{ExecObservation, FailureKind, StepError};
use crate::suite::ExecStep;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How long output is still read after the program exited (a background child may hold it).
const GRACE: Duration = Duration::from_millis(200);

pub(crate) async fn run(
    step: &ExecStep,
    base_dir: &Path,
    limits: Limits,
) -> Result<ExecObservation, StepError> {
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
        .process_group(0)
        // A timed-out step drops the future; the child must not outlive it.
        .kill_on_drop(true);
    if let Some(cwd) = &step.cwd {
        cmd.current_dir(base_dir.join(cwd));
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("command not found: \"{program}\" (is it installed and on PATH?)")
        } else {
            format!("could not start \"{program}\": {e}")
        };
        fail(FailureKind::Error, message)
    })?;
    let group = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
    let (mut out, mut err) = (Capture::new(limits.max_body), Capture::new(limits.max_body));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let status = {
        let reading = async {
            tokio::join!(out.drain(stdout), err.drain(stderr));
        };
        tokio::pin!(reading);
        let mut read_all = false;
        let status = tokio::select! {
            status = child.wait() => status,
            () = &mut reading => {
                read_all = true;
                child.wait().await
            }
        };
        if !read_all {
            let _ = tokio::time::timeout(GRACE, &mut reading).await;
        }
        status
    };
    let status =
        status.map_err(|e| fail(FailureKind::Error, format!("waiting for \"{program}\" failed: {e}")))?;
    // What it left running in its group ends with the step (the guard kills the group).
    drop(group);
    Ok(ExecObservation {
        command: step.command.clone(),
        exit_code: status.code(),
        output_truncated: out.cut || err.cut,
        stdout: String::from_utf8_lossy(&out.bytes).into_owned(),
        stderr: String::from_utf8_lossy(&err.bytes).into_owned(),
        elapsed: started.elapsed(),
    })
}

/// Kills the program's whole process group when the step ends, however it ends.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: killpg only sends a signal; the group is the one the child leads.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// One output stream, kept up to a cap.
struct Capture {
    bytes: Vec<u8>,
    cap: usize,
    cut: bool,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Capture { bytes: Vec::new(), cap, cut: false }
    }

    /// Reads to the end, keeping the first `cap` bytes.
    async fn drain(&mut self, pipe: Option<impl AsyncRead + Unpin>) {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = vec![0u8; 16 * 1024];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                return;
            }
            let room = self.cap.saturating_sub(self.bytes.len());
            self.bytes.extend_from_slice(&chunk[..n.min(room)]);
            self.cut |= n > room;
        }
    }
}
