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
fn blocks(md: &str) -> Vec<(String, String, usize)> {
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
    out
}

fn yaml_blocks(md: &str) -> Vec<(String, String, usize)> {
    let mut out = blocks(md);
    out.retain(|(info, _, _)| matches!(info.split_whitespace().next(), Some("yaml" | "yml")));
    out
}

/// The hxrun command lines of a document's shell blocks: (line, command without its comment),
/// `cargo run --release --` and `./target/release/hxrun` read as `hxrun`.
fn hxrun_commands(md: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (info, body, line) in blocks(md) {
        let words: Vec<&str> = info.split_whitespace().collect();
        if !matches!(words.first(), Some(&("sh" | "bash" | "shell"))) {
            continue;
        }
        for (i, text) in body.lines().enumerate() {
            let command = text.split(" # ").next().unwrap_or("").trim();
            let command =
                command.replace("cargo run --release --", "hxrun").replace("./target/release/hxrun", "hxrun");
            // A command of the line (`mkdir -p D && hxrun ...`), past its variables, is hxrun.
            let runs_hxrun = command
                .split(['&', ';', '|'])
                .any(|part| part.split_whitespace().find(|w| !w.contains('=')) == Some("hxrun"));
            if runs_hxrun {
                out.push((line + 1 + i, command, info.clone()));
            }
        }
    }
    out
}

/// A line that names a server outside this machine (`http://llm-02:11434`) needs that server.
fn names_a_remote_server(command: &str) -> bool {
    command.split(|c: char| c.is_whitespace() || c == '=').any(|w| {
        (w.starts_with("http://") || w.starts_with("https://"))
            && !(w.contains("://127.0.0.1") || w.contains("://localhost") || w.contains("://[::1]"))
    })
}

/// Every hxrun command the README and docs show runs, and exits 0: in a scratch folder that
/// sees the repository's suites, examples, schemas and fixtures, with HOME there and the built
/// hxrun first on the PATH. Not run: a line that names a real server (`llm-02`), and a block
/// marked ```` ```sh manual ```` (a benchmark of minutes, a million fuzz cases). In the README,
/// no block uses `hxrun` before the Install section has put it on the PATH.
#[test]
fn every_hxrun_command_of_the_readme_and_docs_runs() {
    let ws = Workspace::new();
    for linked in ["suites", "examples", "schemas", "tests"] {
        std::os::unix::fs::symlink(repo().join(linked), ws.path().join(linked)).unwrap();
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hxrun"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let (mut ran, mut failures) = (0, Vec::new());
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.file_name().unwrap().to_string_lossy().to_string();
        if name == "README.md" {
            let install =
                text.lines().position(|l| l == "## Install").expect("the README has an Install section");
            for (line, command, _) in hxrun_commands(&text) {
                assert!(line > install, "README.md:{line} uses hxrun before the Install section: {command}");
            }
        }
        for (line, command, info) in hxrun_commands(&text) {
            if info.split_whitespace().any(|w| w == "manual") || names_a_remote_server(&command) {
                continue;
            }
            let out = std::process::Command::new("bash")
                .args(["-c", &format!("{command} </dev/null")])
                .current_dir(ws.path())
                .env("PATH", &path)
                .env("HOME", ws.path())
                .env_remove("OLLAMA_HOST")
                .output()
                .unwrap();
            ran += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{name}:{line}: `{command}` exited {:?}\n{}\n{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(ran >= 4, "the documents' commands were found: {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_remote_server_is_told_from_a_loopback_one() {
    assert!(names_a_remote_server("OLLAMA_HOST=http://llm-02:11434 hxrun suites/phase6.yaml"));
    assert!(names_a_remote_server("hxrun probe https://gpu.example --write x.yaml"));
    assert!(!names_a_remote_server("hxrun probe http://127.0.0.1:11434"));
    assert!(!names_a_remote_server("hxrun suites/phase6.yaml --sim"));
    let md = "```sh\ncargo run --release -- suites/phase6.yaml --sim   # build\nls\n```\n";
    assert_eq!(hxrun_commands(md), [(2, "hxrun suites/phase6.yaml --sim".to_string(), "sh".to_string())]);
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
    // Each block is a suite file of its own with its own report folder and simulator.
    let mut blocks = Vec::new();
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
            let stem = format!("{}-{line}", name.trim_end_matches(".md"));
            ws.write(&format!("{stem}.yaml"), &suite);
            blocks.push((name.clone(), line, info.clone(), stem, words.contains(&"validate")));
        }
    }
    assert!(blocks.len() >= 5, "the README's examples were found: {}", blocks.len());
    // Four at a time: most of a block's time is the simulator pacing its tokens.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut failed = Vec::new();
                    while let Some((name, line, info, stem, validate)) =
                        blocks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let file = format!("{stem}.yaml");
                        let run = if *validate {
                            ws.hxrun(&["validate", &file])
                        } else {
                            ws.hxrun(&[&file, "--sim", "--no-progress", "--report-dir", &format!("r-{stem}")])
                        };
                        if run.code != 0 {
                            failed.push(format!(
                                "{name}:{line} ({info}): exit {}\n{}\n{}",
                                run.code, run.stdout, run.stderr
                            ));
                        }
                    }
                    failed
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    failures.sort();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
