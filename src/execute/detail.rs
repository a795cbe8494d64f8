//! The human-readable account of what a step did: request line and response excerpt, or
//! command and output. It goes to JUnit `system-out` and to the console with --verbose.

use super::record::Observation;

/// How much of a body or output stream a report shows (Jenkins shows ~1000 characters of
/// system-out unless told to keep more).
pub const EXCERPT: usize = 600;

pub fn describe(obs: &Observation) -> String {
    match obs {
        Observation::Http(h) => {
            let mut s = format!("{} {}\n<- {} ({} ms)\n", h.method, h.url, h.status, h.elapsed.as_millis());
            for (k, v) in &h.headers {
                s.push_str(&format!("{k}: {v}\n"));
            }
            s.push('\n');
            s.push_str(&excerpt(&h.body, EXCERPT));
            if h.body_truncated {
                s.push_str("\n[body truncated by hxrun]");
            }
            s
        }
        Observation::Tcp(t) => format!("connect {}: ok ({} ms)", t.address, t.elapsed.as_millis()),
        Observation::Exec(e) => {
            let code = e.exit_code.map_or("killed by a signal".to_string(), |c| format!("exit code {c}"));
            format!(
                "$ {}\n{} ({} ms)\n--- stdout\n{}\n--- stderr\n{}",
                e.command.join(" "),
                code,
                e.elapsed.as_millis(),
                excerpt(&e.stdout, EXCERPT),
                excerpt(&e.stderr, EXCERPT)
            )
        }
    }
}

/// At most `max` characters of `s`, with a note when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}… [{} more characters]", s.chars().count() - max)
    }
}
