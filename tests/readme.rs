//! The README is a test: every YAML block in README.md and docs/*.md runs against the built-in
//! simulator and passes. A block's info string says otherwise where a block cannot run there:
//! ```` ```yaml validate ```` (loaded and planned only: an 8-hour soak, a real server's headers)
//! or ```` ```yaml partial ```` (a fragment shown for its keys, a fleet of real hosts). A block that is a
//! list of tests (`- name: ...`) runs as the tests of a suite whose `models` variable lists two
//! of the simulator's models (and `model` one), as the README's suite does.

mod common;
use common::{Workspace, repo};
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// The fenced blocks of a Markdown text: (info string, body, line).
fn yaml_blocks(md: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (event, range) in Parser::new(md).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let line = md[..range.start].lines().count() + 1;
                current = Some((info.to_string(), String::new(), line));
            }
            Event::Text(t) => {
                if let Some((_, body, _)) = &mut current {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out.retain(|(info, _, _)| matches!(info.split_whitespace().next(), Some("yaml" | "yml")));
    out
}

/// The documents whose examples are tested.
fn documents() -> Vec<std::path::PathBuf> {
    let mut docs = vec![repo().join("README.md")];
    let mut more: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

#[test]
fn every_yaml_block_of_the_readme_and_docs_runs_against_the_simulator() {
    let ws = Workspace::new();
    let mut ran = 0;
    let mut failures = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.file_name().unwrap().to_string_lossy().to_string();
        for (info, body, line) in yaml_blocks(&text) {
            let words: Vec<&str> = info.split_whitespace().collect();
            if words.contains(&"partial") {
                continue;
            }
            let suite = if body.trim_start().starts_with("- ") {
                let tests: String = body.lines().map(|l| format!("  {l}\n")).collect();
                format!(
                    "suite: readme\nvars: {{ models: [phi3:latest, gemma2:2b], model: phi3:latest }}\ntests:\n{tests}"
                )
            } else {
                body.clone()
            };
            let file = format!("{}-{line}.yaml", name.trim_end_matches(".md"));
            ws.write(&file, &suite);
            let run = if words.contains(&"validate") {
                ws.hxrun(&["validate", &file])
            } else {
                ws.hxrun(&[&file, "--sim", "--no-progress", "--report-dir", &format!("r-{line}")])
            };
            ran += 1;
            if run.code != 0 {
                failures.push(format!(
                    "{name}:{line} ({info}): exit {}\n{}\n{}",
                    run.code, run.stdout, run.stderr
                ));
            }
        }
    }
    assert!(ran >= 5, "the README's examples were found: {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
