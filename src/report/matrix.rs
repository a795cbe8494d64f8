//! A fleet's results as a table: each check down, each server across (console, summary.md,
//! report.html), so one host that fails stands out from the others at a glance.

/// One suite run against several servers.
#[derive(Debug, PartialEq)]
pub(crate) struct Matrix {
    pub(crate) suite: String,
    pub(crate) hosts: Vec<String>,
    /// Each test by name, and its status per host ("passed", "failed", "skipped"; None where
    /// that host did not run it, e.g. another shard's).
    pub(crate) rows: Vec<(String, Vec<Option<String>>)>,
}

/// One suite of a run: its name, its fleet host, and each test's (name, status).
pub(crate) type SuiteRow<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);

/// The fleets of a run (suites that ran against more than one host), in order.
pub(crate) fn fleets<'a>(suites: impl IntoIterator<Item = SuiteRow<'a>>) -> Vec<Matrix> {
    let mut out: Vec<Matrix> = Vec::new();
    for (name, host, tests) in suites {
        let Some(host) = host else { continue };
        let base = name.strip_suffix(&format!(" @ {host}")).unwrap_or(name).to_string();
        let at = match out.iter().position(|m| m.suite == base) {
            Some(at) => at,
            None => {
                out.push(Matrix { suite: base, hosts: Vec::new(), rows: Vec::new() });
                out.len() - 1
            }
        };
        let m = &mut out[at];
        let column = match m.hosts.iter().position(|h| h == host) {
            Some(c) => c,
            None => {
                m.hosts.push(host.to_string());
                m.rows.iter_mut().for_each(|(_, cells)| cells.push(None));
                m.hosts.len() - 1
            }
        };
        for (test, status) in tests {
            let row = match m.rows.iter().position(|(t, _)| t == test) {
                Some(r) => r,
                None => {
                    m.rows.push((test.to_string(), vec![None; m.hosts.len()]));
                    m.rows.len() - 1
                }
            };
            m.rows[row].1[column] = Some(status.to_string());
        }
    }
    out.retain(|m| m.hosts.len() > 1);
    out
}

pub(crate) fn mark(status: Option<&str>) -> &'static str {
    match status {
        Some("passed") => "✓",
        Some("failed") => "✗",
        Some("skipped") => "–",
        _ => "·",
    }
}

impl Matrix {
    /// A plain-text table (monospace), with a title line.
    pub(crate) fn text(&self) -> String {
        let width = self.rows.iter().map(|(t, _)| t.chars().count()).max().unwrap_or(0).max(5);
        let cols: Vec<usize> = self.hosts.iter().map(|h| h.chars().count().max(1)).collect();
        let mut s = format!("{} — checks × hosts:\n  {:width$}", self.suite, "");
        for (h, w) in self.hosts.iter().zip(&cols) {
            s.push_str(&format!("  {h:w$}"));
        }
        for (test, cells) in &self.rows {
            s.push_str(&format!("\n  {test:width$}"));
            for (c, w) in cells.iter().zip(&cols) {
                s.push_str(&format!("  {:w$}", mark(c.as_deref())));
            }
        }
        s
    }

    /// A Markdown table.
    pub(crate) fn markdown(&self, cell: impl Fn(&str) -> String) -> String {
        let mut s = format!(
            "| {} | {} |\n|---|",
            cell(&self.suite),
            self.hosts.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
        );
        s.push_str(&"---|".repeat(self.hosts.len()));
        for (test, cells) in &self.rows {
            let marks: Vec<&str> = cells.iter().map(|c| mark(c.as_deref())).collect();
            s.push_str(&format!("\n| {} | {} |", cell(test), marks.join(" | ")));
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_of_a_fleet_become_one_table_and_single_hosts_none() {
        let m = fleets([
            ("smoke @ llm-01", Some("llm-01"), vec![("version", "passed"), ("answer", "passed")]),
            ("other", None, vec![("x", "passed")]),
            (
                "smoke @ llm-02",
                Some("llm-02"),
                vec![("version", "passed"), ("answer", "failed"), ("extra", "skipped")],
            ),
            ("solo @ a", Some("a"), vec![("x", "passed")]),
        ]);
        assert_eq!(m.len(), 1, "one host is no fleet: {m:?}");
        let m = &m[0];
        assert_eq!(m.suite, "smoke");
        assert_eq!(m.hosts, ["llm-01", "llm-02"]);
        assert_eq!(m.rows[1], ("answer".to_string(), vec![Some("passed".into()), Some("failed".into())]));
        assert_eq!(m.rows[2].1, vec![None, Some("skipped".to_string())]);
        let text = m.text();
        assert!(text.contains("  answer   ✓       ✗"), "{text}");
        let md = m.markdown(str::to_string);
        assert!(md.starts_with("| smoke | llm-01 | llm-02 |\n|---|---|---|\n"), "{md}");
        assert!(md.contains("| extra | · | – |"), "{md}");
    }
}
