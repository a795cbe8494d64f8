//! Verdicts on embed steps: status, then the vectors' count, sizes, norms and similarities.

use super::{compare, fail, pass};
use crate::record::{AssertionResult, EmbedObservation, Source};
use crate::suite::Expect;

pub(crate) fn check_embed(expect: &Expect, o: &EmbedObservation, out: &mut Vec<AssertionResult>) {
    if !super::api_status(expect, &o.url, o.status, o.error.as_deref(), out) {
        return;
    }
    if let Some(e) = &o.error {
        out.push(fail("embeddings", format!("embeddings: {e}")));
        return;
    }
    if o.count == 0 {
        out.push(fail("embeddings", "embeddings: the server answered with no vector".into()));
        return;
    }
    out.push(pass("embeddings"));
    let Some(e) = &expect.embeddings else { return };
    if let Some(c) = &e.count {
        super::under(out, Some((Source::expect("embeddings.count"), c.at)), |out| {
            out.push(compare("count", c, o.count as f64))
        });
    }
    // Every vector must hold: the failure names the first that does not.
    let each = |what: &str,
                key: &str,
                c: &crate::suite::spanned::Spanned<crate::suite::Comparison>,
                values: &[f64],
                out: &mut Vec<AssertionResult>| {
        super::under(out, Some((Source::expect(key), c.at)), |out| {
            let bad = values.iter().enumerate().find(|(_, v)| !compare(what, c, **v).passed);
            out.push(match bad {
                None => pass(what),
                Some((i, v)) => {
                    let mut r = compare(what, c, *v);
                    r.message = r.message.map(|m| format!("{m} (vector {i} of {})", values.len()));
                    r
                }
            });
        });
    };
    if let Some(c) = &e.dimensions {
        let dims: Vec<f64> = o.dimensions.iter().map(|d| *d as f64).collect();
        each("dimensions", "embeddings.dimensions", c, &dims, out);
    }
    if let Some(c) = &e.norm {
        each("norm", "embeddings.norm", c, &o.norms, out);
    }
    // A similarity is placed at its block (`embeddings:`): one key may hold a list of them.
    for s in &e.similarity {
        let what = format!("similarity {} {}", s.a, s.b);
        super::under(out, Some((Source::expect("embeddings.similarity"), e.at)), |out| {
            out.push(match o.similarity(s.a, s.b) {
                Some(v) => compare(&what, &s.value, v),
                None => fail(
                    &what,
                    format!(
                        "{what}: no similarity between vectors {} and {}: {} vectors came back{}",
                        s.a,
                        s.b,
                        o.count,
                        if o.dimensions.windows(2).any(|w| w[0] != w[1]) {
                            ", of different sizes"
                        } else {
                            ""
                        }
                    ),
                ),
            })
        });
    }
}
