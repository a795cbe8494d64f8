//! Stage 2, plan: loaded suites → concrete tests, with `for_each` expanded, names made
//! unique, filters applied and every setting resolved. Pure: no I/O.

mod checks;
pub(crate) mod deadline;
mod expand;
mod gate;
mod perf_checks;
mod shape_checks;
pub(crate) mod shard;
pub(crate) mod template;
mod when;

use crate::load::LoadedSuite;
use crate::load::de::{self, DeError};
use crate::load::error::{Diagnostic, SuiteErrors};
use crate::load::tree::{Node, Value};
use crate::perf::baseline::LevelFigures;
use crate::suite::metrics::Figure;
use crate::suite::spanned::{Pos, Spanned};
use crate::suite::{self, Comparison, Expect, Skip, Step, Target, TestSpec, Tolerance};
pub(crate) use gate::Gate;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Command-line choices that shape the plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanOptions {
    /// Keep tests whose name contains this text.
    pub(crate) filter: Option<String>,
    /// Keep tests carrying any of these tags (all tests when empty).
    pub(crate) tags: Vec<String>,
    /// Drop tests carrying any of these tags.
    pub(crate) exclude_tags: Vec<String>,
    /// `--timeout`: replaces the suites' default step timeout (a test's own still wins).
    pub(crate) timeout: Option<Duration>,
    /// `--target`: one replaces every suite's target url; several make a fleet.
    pub(crate) targets: Vec<String>,
    /// `--cacert`, `--cert`, `--key`, `--insecure`: override the suites' `target.tls`.
    pub(crate) tls: suite::Tls,
    /// `--gpu-source URL`: every target's GPUs are read from this metrics endpoint.
    pub(crate) gpu_source: Option<String>,
    /// `--report-dir`: where a perf test's `csv` (a relative path) goes.
    pub(crate) report_dir: std::path::PathBuf,
    /// `--perf-csv`: every perf test's rows go to this one file instead.
    pub(crate) perf_csv: Option<std::path::PathBuf>,
}

/// One suite, ready to execute.
#[derive(Debug, Clone)]
pub(crate) struct SuitePlan {
    /// `SUITE @ HOST` for one server of a fleet, else the suite's name.
    pub(crate) name: String,
    /// The fleet server this plan runs against (its name), when the suite has a fleet.
    pub(crate) host: Option<String>,
    pub(crate) file: String,
    pub(crate) description: Option<String>,
    pub(crate) target: Target,
    pub(crate) headers: BTreeMap<String, String>,
    /// Directory of the suite file (relative `cwd`s resolve against it).
    pub(crate) base_dir: PathBuf,
    pub(crate) secret_values: Vec<String>,
    pub(crate) tests: Vec<PlannedTest>,
    /// Tests before the command line's filters, and the tags they carry (to explain a run
    /// that selects nothing).
    pub(crate) expanded: usize,
    pub(crate) tags: std::collections::BTreeSet<String>,
    /// What loading and planning changed that a user may want to know (-v shows them).
    pub(crate) notes: Vec<String>,
}

impl SuitePlan {
    /// Every secret this suite knows: `secrets:` values, the API key, and the values of
    /// credential headers (the suite's defaults and each http request's own).
    pub(crate) fn secrets(&self) -> Vec<String> {
        use crate::suite::step::{credentials, url_password};
        let mut out = self.secret_values.clone();
        out.extend(credentials(&self.headers));
        out.extend(url_password(&self.target.url));
        out.extend(self.target.gpu_metrics.as_deref().map(url_password).unwrap_or_default());
        for t in &self.tests {
            let http = match &t.step {
                Step::Http(h) => Some(h),
                Step::Perf(p) => p.http.as_ref(),
                _ => None,
            };
            out.extend(http.map(|h| credentials(&h.headers)).unwrap_or_default());
            out.extend(http.and_then(|h| h.url.as_deref()).map(url_password).unwrap_or_default());
        }
        out
    }
}

/// One concrete test.
#[derive(Debug, Clone)]
pub(crate) struct PlannedTest {
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    /// What the test checks, for people (placeholders filled in).
    pub(crate) description: Option<String>,
    /// `Some(reason)` when the test is skipped.
    pub(crate) skip: Option<String>,
    pub(crate) step: Step,
    /// Boxed: an `Expect` is over 1 KB, mostly empty options, and a suite plans thousands.
    pub(crate) expect: Box<Expect>,
    /// The step's timeout and what set it.
    pub(crate) deadline: deadline::Deadline,
    pub(crate) retries: u32,
    pub(crate) retry_delay: Duration,
    /// file:line:col of the test in its suite.
    pub(crate) location: String,
    /// The `for_each` values of this expansion.
    pub(crate) params: Vec<(String, String)>,
    /// Perf figures that must hold.
    pub(crate) thresholds: BTreeMap<Figure, Spanned<Comparison>>,
    /// How far a soak's figures may drift from its first window to its last.
    pub(crate) drift: BTreeMap<Figure, Spanned<Comparison>>,
    /// Perf figures to compare with the baseline, and how much worse they may get.
    pub(crate) regression: BTreeMap<Figure, Spanned<Tolerance>>,
    /// This test's figures in the baseline run, when one was given and has the test.
    pub(crate) baseline: Option<BaselineFigures>,
    /// Where this test's per-request rows are appended (a perf test with `csv:`, or
    /// `--perf-csv`), resolved here so reporters only write.
    pub(crate) perf_csv: Option<std::path::PathBuf>,
    /// A perf test's samples file, relative to the report directory (`samples/….hxs`): the
    /// same name for the same suite and test on every machine, so shards' files meet in a merge.
    pub(crate) samples_file: Option<String>,
    /// The suite file it is written in: each typed expectation carries its line and column
    /// (`suite::spanned`), and a failure shows that line of this file.
    pub(crate) source: std::sync::Arc<crate::load::error::SourceFile>,
    /// Values this test takes from what came back, for later tests.
    pub(crate) capture: BTreeMap<crate::suite::spanned::Spanned<String>, crate::suite::capture::Capture>,
    /// The `{{captures.NAME}}` its step and expectations use (filled when it runs).
    pub(crate) captures_used: Vec<String>,
    /// The test as written (placeholders of `for_each` filled), kept when it uses captures:
    /// the executor fills them in and types it again.
    pub(crate) written: Option<Box<Node>>,
    /// The pass-rate gate this test is a case of (`pass_rate:`).
    pub(crate) gate: Option<Gate>,
}

impl PlannedTest {
    /// A place in this test's suite file, with its line.
    pub(crate) fn place(&self, at: crate::suite::spanned::Pos) -> crate::record::Place {
        let line = self.source.text.lines().nth(at.line.saturating_sub(1) as usize).unwrap_or_default();
        crate::record::Place {
            file: self.source.name.clone(),
            line: at.line,
            col: at.col,
            source: line.to_string(),
        }
    }
}

/// A test's figures in a stored run.
#[derive(Debug, Clone)]
pub(crate) struct BaselineFigures {
    pub(crate) source: String,
    pub(crate) levels: LevelFigures,
}

/// Plans one loaded suite. All problems of the suite are returned together.
pub(crate) fn plan_suite(suite: &LoadedSuite, opts: &PlanOptions) -> Result<SuitePlan, SuiteErrors> {
    let mut errors: Vec<DeError> = Vec::new();
    let mut tests: Vec<PlannedTest> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let loc = |node: &Node| format!("{}:{}:{}", suite.source.name, node.span.line, node.span.col);

    // Captures defined by the tests so far: a later test may use them.
    let mut captured: Vec<String> = Vec::new();
    for test in &suite.tests {
        if errors.len() >= MAX_ERRORS {
            errors.push(DeError {
                message: format!("stopped after {MAX_ERRORS} errors: fix these, then validate again"),
                span: Some(test.span),
            });
            break;
        }
        let used = template::captures_used(test);
        for (name, span) in &used {
            if !captured.contains(name) {
                let known = if captured.is_empty() {
                    "no earlier test has a `capture:`".to_string()
                } else {
                    format!("captured so far: {}", captured.join(", "))
                };
                errors.push(DeError {
                    message: format!(
                        "`{{{{captures.{name}}}}}`: no earlier test of this suite captures `{name}` ({known}); \
                         add `capture: {{ {name}: \"$.path\" }}` to the test that gets it"
                    ),
                    span: Some(*span),
                });
            }
        }
        if let Some(Value::Map(entries)) = test.get("capture").map(|n| &n.value) {
            captured.extend(entries.iter().map(|(k, _)| k.name.clone()));
        }
        if tests.len() > MAX_SUITE_TESTS {
            errors.push(DeError {
                message: format!(
                    "the suite expands to more than {MAX_SUITE_TESTS} tests: split it into several suites"
                ),
                span: Some(test.span),
            });
            break;
        }
        gate::check_written(test, &mut errors);
        let combos = match expand::expand(test, &suite.cases) {
            // A case file that could not be read: the load error says why.
            Ok(c) if c.is_empty() => continue,
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // A test expanded several times keeps its names apart by its parameters unless the
        // name itself uses a placeholder.
        // What every expansion of this written test shares: the captures it uses (a
        // `for_each` never fills `{{captures.*}}`).
        let written = Written { captures: used.into_iter().map(|(n, _)| n).collect() };
        let name_templated = test.get("name").and_then(Node::as_str).is_some_and(|n| {
            crate::suite::placeholder::scan(n)
                .iter()
                .any(|p| matches!(p, crate::suite::placeholder::Piece::Name { .. }))
        });
        let append_params = combos.len() > 1 && !name_templated;
        let case_axes = gate::case_axes(test);
        let mut reported: Vec<DeError> = Vec::new();
        let mut reported_as: Vec<DeError> = Vec::new();
        let mut kept = 0usize;
        for combo in combos {
            let bindings = &combo.bindings;
            let mut errs = Vec::new();
            let mut filled = template::fill(&without(test, "for_each"), bindings, &mut errs);
            if errs.is_empty() {
                match when::apply(&filled) {
                    Ok(Some(decided)) => filled = decided,
                    Ok(None) => continue,
                    Err(e) => errs.push(e),
                }
            }
            kept += 1;
            let planned = if errs.is_empty() {
                de::from_node::<TestSpec>(&filled)
                    .map_err(|e| vec![e])
                    .and_then(|spec| resolve(suite, &filled, spec, &combo, append_params, opts, &written))
            } else {
                Err(errs)
            };
            match planned {
                Ok(mut t) => {
                    if let Some(gate) = &mut t.gate {
                        (gate.name, gate.params) = gate::name(test, &combo, &case_axes, append_params);
                    }
                    if let Some(first) = seen.get(&t.name) {
                        errors.push(DeError {
                            message: format!(
                                "duplicate test name \"{}\" (first used at {first}): names must be unique \
                                 so reports can tell tests apart",
                                t.name
                            ),
                            span: filled.get("name").map(|n| n.span),
                        });
                        continue;
                    }
                    seen.insert(t.name.clone(), loc(test));
                    tests.push(t);
                }
                // The same mistake in every expansion is reported once, naming the first case
                // row it was made with.
                Err(errs) => {
                    for e in errs {
                        if !reported_as.contains(&e) {
                            reported_as.push(e.clone());
                            let mut said = e;
                            if !combo.rows.is_empty() {
                                said.message = format!(
                                    "{} (and any case like it): {}",
                                    combo.rows.join(", "),
                                    said.message
                                );
                            }
                            reported.push(said);
                        }
                    }
                }
            }
        }
        if kept == 0 {
            reported.push(DeError {
                message: "`when` is false for every expansion of this test: it would never run, and pass \
                          unseen — fix the condition or remove the test"
                    .to_string(),
                span: test.get("when").map(|n| n.span),
            });
        }
        errors.extend(reported);
    }
    if !errors.is_empty() || !suite.errors.is_empty() {
        let mut all: Vec<Diagnostic> = suite.errors.clone();
        all.extend(errors.into_iter().map(|e| Diagnostic::new(&suite.source, e.span, e.message)));
        all.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
        return Err(SuiteErrors(all));
    }
    if tests.is_empty() {
        let span = suite.tests_span;
        let message = "the suite has no tests: add at least one under `tests:` (a run of nothing would pass)";
        return Err(SuiteErrors(vec![Diagnostic::new(&suite.source, span, message)]));
    }
    let expanded = tests.len();
    let tags = tests.iter().flat_map(|t| t.tags.iter().cloned()).collect();
    let tests = tests.into_iter().filter(|t| selected(t, opts)).collect();
    let mut target = suite.doc.target.clone();
    let mut notes = suite.notes.clone();
    if let [url] = opts.targets.as_slice() {
        target.url = cli_url(suite, url, &mut notes)?;
    }
    finish_target(&mut target, suite, opts, &mut notes);
    Ok(SuitePlan {
        host: None,
        name: suite.doc.suite.clone(),
        file: suite.source.name.clone(),
        description: suite.doc.description.clone(),
        target,
        headers: suite.doc.defaults.headers.clone(),
        base_dir: suite.path.parent().map(PathBuf::from).unwrap_or_default(),
        secret_values: suite.secret_values.clone(),
        tests,
        expanded,
        tags,
        notes,
    })
}

/// A `--target` url, checked as the suite's own would be.
fn cli_url(suite: &LoadedSuite, url: &str, notes: &mut Vec<String>) -> Result<String, SuiteErrors> {
    let (url, note) = suite::check_url(url).map_err(|message| {
        SuiteErrors(vec![Diagnostic::new(&suite.source, None, format!("--target: {message}"))])
    })?;
    notes.extend(note.map(|n| format!("--target: {n}")));
    Ok(url)
}

/// TLS files made the suite's (relative to it) and replaced by the command line's; an OpenAI
/// base url's `/v1` dropped (hxrun's paths carry it).
fn finish_target(target: &mut Target, suite: &LoadedSuite, opts: &PlanOptions, notes: &mut Vec<String>) {
    target.tls = target.tls.resolved(suite.path.parent().unwrap_or(std::path::Path::new(".")));
    let cli = &opts.tls;
    target.tls.ca_cert = cli.ca_cert.clone().or(target.tls.ca_cert.take());
    target.tls.cert = cli.cert.clone().or(target.tls.cert.take());
    target.tls.key = cli.key.clone().or(target.tls.key.take());
    target.tls.insecure |= cli.insecure;
    if let Some(url) = &opts.gpu_source {
        target.gpu_metrics = Some(url.clone());
    }
    // The OpenAI SDKs' base url ends in /v1 (OPENAI_BASE_URL); hxrun's paths carry it.
    if target.api == suite::Api::Openai {
        let trimmed = target.url.trim_end_matches('/');
        if let Some(base) = trimmed.strip_suffix("/v1") {
            notes.push(format!(
                "target url {} ends in /v1: using {base} (hxrun adds /v1/... itself)",
                target.url
            ));
            target.url = base.to_string();
        }
    }
}

/// A suite planned once per server of its fleet (`targets:`, or several `--target`): each a
/// suite of its own, named `SUITE @ HOST`, so every report carries the server. Without a
/// fleet, the one plan.
pub(crate) fn plan_fleet(suite: &LoadedSuite, opts: &PlanOptions) -> Result<Vec<SuitePlan>, SuiteErrors> {
    let base = plan_suite(suite, opts)?;
    let fleet: Vec<suite::FleetTarget> = match opts.targets.len() {
        0 => suite.doc.targets.clone(),
        1 => Vec::new(),
        _ => opts.targets.iter().map(|u| suite::FleetTarget::Url(u.clone())).collect(),
    };
    if fleet.is_empty() {
        return Ok(vec![base]);
    }
    let mut plans: Vec<SuitePlan> = Vec::new();
    for t in &fleet {
        let (name, mut target) = t.resolve(&suite.doc.target);
        let mut notes = base.notes.clone();
        if !opts.targets.is_empty() {
            target.url = cli_url(suite, &target.url, &mut notes)?;
        }
        finish_target(&mut target, suite, opts, &mut notes);
        let host = name.unwrap_or_else(|| suite::host_of(&target.url));
        if plans.iter().any(|p| p.host.as_deref() == Some(host.as_str())) {
            let message = format!(
                "two targets are both called \"{host}\": give them names (`- {{ name: ..., url: ... }}`) so \
                 reports can tell them apart"
            );
            return Err(SuiteErrors(vec![Diagnostic::new(&suite.source, None, message)]));
        }
        let mut plan = base.clone();
        plan.secret_values.extend(target.api_key.clone().filter(|k| !k.is_empty()));
        plan.name = format!("{} @ {host}", base.name);
        plan.host = Some(host);
        plan.target = target;
        plan.notes = notes;
        plans.push(plan);
    }
    Ok(plans)
}

/// What the expansions of one written test share.
struct Written {
    captures: Vec<String>,
}

/// A perf test's bounds by figure, each where its figure is written (a name no figure has is
/// an error `checks` reported).
fn by_figure<V: Clone>(written: &BTreeMap<Spanned<String>, V>) -> BTreeMap<Figure, Spanned<V>> {
    written
        .iter()
        .filter_map(|(k, v)| Some((Figure::parse(k)?, Spanned { value: v.clone(), at: k.at })))
        .collect()
}

fn selected(t: &PlannedTest, opts: &PlanOptions) -> bool {
    let by_name = opts.filter.as_ref().is_none_or(|f| t.name.contains(f.as_str()));
    let by_tag = opts.tags.is_empty() || opts.tags.iter().any(|tag| t.tags.contains(tag));
    let excluded = opts.exclude_tags.iter().any(|tag| t.tags.contains(tag));
    by_name && by_tag && !excluded
}

fn without(node: &Node, key: &str) -> Node {
    match &node.value {
        Value::Map(entries) => {
            Node::new(Value::Map(entries.iter().filter(|(k, _)| k.name != key).cloned().collect()), node.span)
        }
        _ => node.clone(),
    }
}

/// Most tests one `for_each` may expand to, and one suite may hold after expansion: beyond
/// them a suite is a mistake (five lists of 100 values are 10 billion tests), refused with
/// its place before any memory goes to it.
pub(crate) const MAX_EXPANSION: usize = 10_000;
pub(crate) const MAX_SUITE_TESTS: usize = 100_000;
use crate::load::error::MAX_ERRORS;

/// `samples/<hash>.hxs`: FNV-1a of the suite's and the test's names (stable across
/// machines and versions; no text of the name, which may hold a filled-in secret).
fn samples_name(suite: &str, test: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in suite.bytes().chain([0]).chain(test.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("samples/{h:016x}.hxs")
}

fn resolve(
    suite: &LoadedSuite,
    node: &Node,
    spec: TestSpec,
    combo: &expand::Combo,
    append_params: bool,
    opts: &PlanOptions,
    written: &Written,
) -> Result<PlannedTest, Vec<DeError>> {
    let at = |key: &str| node.get(key).map_or(node.span, |n| n.span);
    let here = |key: &str| {
        let s = at(key);
        format!("{}:{}:{}", suite.source.name, s.line, s.col)
    };
    let mut errors = Vec::new();
    let mut steps = spec.steps();
    let step = match steps.len() {
        1 => steps.remove(0),
        0 => {
            errors.push(DeError {
                message: format!(
                    "test \"{}\" has no step: add exactly one of {}",
                    spec.name,
                    suite::step_kinds().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
                span: Some(node.span),
            });
            return Err(errors);
        }
        _ => {
            let kinds: Vec<String> = steps.iter().map(|s| format!("`{}`", s.kind())).collect();
            errors.push(DeError {
                message: format!(
                    "test \"{}\" has {} steps ({}): a test runs exactly one step; split it into several tests",
                    spec.name,
                    steps.len(),
                    kinds.join(" and ")
                ),
                span: Some(at(steps[1].kind())),
            });
            return Err(errors);
        }
    };
    checks::check_step(&step, suite.doc.target.api, node, &mut errors);
    let expect = Box::new(spec.expect.clone().unwrap_or_default());
    checks::check_expect(&expect, &step, suite.doc.target.api, node, &mut errors);
    perf_checks::check_perf(&spec, &step, suite.doc.target.api, node, &mut errors);
    checks::check_capture(&spec, &step, node, &mut errors);
    checks::check_durations(&spec, &step, node, &mut errors);
    gate::check(&spec, &step, node, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    // A case row is named by its `id` (or where it is written), not by all its fields.
    let params: Vec<(String, String)> = combo
        .bindings
        .iter()
        .map(|(k, v)| (k.clone(), combo.labels.get(k).cloned().unwrap_or_else(|| template::text_of(v))))
        .collect();
    let mut name = spec.name.clone();
    if append_params {
        let list: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        name = format!("{name} [{}]", list.join(", "));
    }
    let defaults = &suite.doc.defaults;
    // A test's own timeout wins; --timeout replaces the suite's default.
    let (limit, set_by) = if let Some(t) = spec.timeout {
        (t, deadline::SetBy::Test(here("timeout")))
    } else if let Some(t) = opts.timeout {
        (t, deadline::SetBy::Flag)
    } else if let Some(t) = defaults.timeout {
        (t, deadline::SetBy::SuiteDefault)
    } else {
        (suite::DEFAULT_TIMEOUT, deadline::SetBy::BuiltIn)
    };
    let perf_csv = match &step {
        Step::Perf(p) => {
            opts.perf_csv.clone().or_else(|| p.csv.as_ref().map(|rel| opts.report_dir.join(rel)))
        }
        _ => None,
    };
    let samples_file = matches!(step, Step::Perf(_)).then(|| samples_name(&suite.doc.suite, &name));
    Ok(PlannedTest {
        perf_csv,
        samples_file,
        tags: spec.tags.clone(),
        description: spec.description.clone(),
        skip: match spec.skip {
            Some(Skip::Yes(reason)) => Some(reason.unwrap_or_else(|| "skip: true".to_string())),
            _ => None,
        },
        step,
        expect,
        deadline: deadline::Deadline { limit, set_by },
        retries: spec.retries.or(defaults.retries).unwrap_or(0),
        retry_delay: spec.retry_delay.or(defaults.retry_delay).unwrap_or(Duration::from_secs(1)),
        location: format!("{}:{}:{}", suite.source.name, node.span.line, node.span.col),
        thresholds: by_figure(&spec.thresholds),
        drift: by_figure(&spec.drift),
        regression: match (&suite.baseline, spec.regression.is_empty()) {
            (Some(_), true) => crate::perf::baseline::default_tolerances()
                .into_iter()
                .map(|(f, t)| (f, Spanned::unplaced(t)))
                .collect(),
            _ => by_figure(&spec.regression),
        },
        baseline: suite.baseline.as_ref().and_then(|b| {
            b.lookup(&suite.doc.suite, &name)
                .map(|levels| BaselineFigures { source: b.source.clone(), levels: levels.clone() })
        }),
        name,
        params,
        source: std::sync::Arc::clone(&suite.source),
        capture: spec.capture.clone(),
        captures_used: written.captures.clone(),
        written: (!written.captures.is_empty()).then(|| Box::new(node.clone())),
        gate: spec.pass_rate.map(|required| {
            let at = at("pass_rate");
            Gate { name: String::new(), required, at: Pos { line: at.line, col: at.col }, params: Vec::new() }
        }),
    })
}
