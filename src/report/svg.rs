//! Static SVG charts for the HTML report: bars, distributions (CDF), scatter over time, and
//! lines with a marked point. Styled with SVG presentation attributes only (`fill`, `stroke`,
//! `font-size`) — no `style` attribute, no CSS, no script — so a chart draws the same under
//! the strict Content-Security-Policy Jenkins serves artifacts with as in a browser opened on
//! the file. Text is escaped; numbers are formatted by the caller's unit formatter.

use std::fmt::Write;

const W: f64 = 620.0;
const H: f64 = 260.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 42.0;

/// Series colours, chosen to stay apart for people with the common colour-vision deficiencies
/// (Okabe–Ito).
pub(crate) const PALETTE: [&str; 7] =
    ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"];
/// Threshold lines and failed bars.
const ALERT: &str = "#C62828";

/// How a value is shown on an axis or a label.
pub(crate) type Fmt<'a> = &'a dyn Fn(f64) -> String;

/// Text escaped for SVG/HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// About `n` round tick values covering [lo, hi].
pub(crate) fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    (0..=n * 2 + 2).map(|i| start + i as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect()
}

/// A linear scale from a data range to pixels.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, from: f64, to: f64) -> Scale {
        let (lo, hi) =
            if hi > lo { (lo, hi) } else { (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0)) };
        Scale { lo, hi, from, to }
    }

    fn at(&self, v: f64) -> f64 {
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }
}

/// A chart being drawn: the frame, its title and its axes.
struct Canvas {
    svg: String,
}

impl Canvas {
    fn new(title: &str, height: f64) -> Canvas {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><rect x="0" y="0" width="{W}" height="{height}" fill="#ffffff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#222">{t}</text>"##,
            t = esc(title)
        );
        Canvas { svg }
    }

    fn text(&mut self, x: f64, y: f64, anchor: &str, fill: &str, s: &str) {
        let _ = write!(
            self.svg,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{fill}">{}</text>"##,
            esc(s)
        );
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, dash: bool) {
        let dash = if dash { r#" stroke-dasharray="5,4""# } else { "" };
        let _ = write!(
            self.svg,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="1.5"{dash}/>"#
        );
    }

    /// Grid lines and labels for the y axis; the x axis labels likewise.
    fn axes(&mut self, x: Scale, y: Scale, fx: Fmt, fy: Fmt, x_label: &str, bottom: f64) {
        for v in ticks(y.lo, y.hi, 4) {
            let py = y.at(v);
            let _ = write!(
                self.svg,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/>"##,
                W - RIGHT
            );
            self.text(LEFT - 6.0, py + 4.0, "end", "#444", &fy(v));
        }
        for v in ticks(x.lo, x.hi, 6) {
            let px = x.at(v);
            self.text(px, bottom + 15.0, "middle", "#444", &fx(v));
        }
        let _ = write!(
            self.svg,
            r##"<line x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#888"/>"##,
            W - RIGHT
        );
        self.text((LEFT + W - RIGHT) / 2.0, bottom + 32.0, "middle", "#444", x_label);
    }

    /// A marked line's label, to the line's right, or to its left near the right edge.
    fn mark_label(&mut self, px: f64, y: f64, label: &str) {
        if px > W - RIGHT - 150.0 {
            self.text(px - 3.0, y, "end", ALERT, label);
        } else {
            self.text(px + 3.0, y, "start", ALERT, label);
        }
    }

    fn polyline(&mut self, points: &[(f64, f64)], stroke: &str) {
        let pts: String = points.iter().map(|(x, y)| format!("{x:.1},{y:.1} ")).collect();
        let _ = write!(
            self.svg,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="2"/>"#,
            pts.trim_end()
        );
    }

    fn legend(&mut self, names: &[&str]) {
        if names.len() < 2 {
            return;
        }
        let mut x = LEFT + 230.0;
        for (i, name) in names.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let _ = write!(self.svg, r#"<rect x="{x:.1}" y="9" width="10" height="10" fill="{colour}"/>"#);
            self.text(x + 14.0, 18.0, "start", "#222", name);
            x += 24.0 + 6.5 * name.chars().count().min(28) as f64;
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// One horizontal bar per item (a figure per model); `limit` draws a threshold line, and bars
/// on its wrong side are drawn in the alert colour (`higher_is_better` says which side).
pub(crate) fn bars(title: &str, items: &[(String, f64)], fmt: Fmt, limit: Option<(f64, bool)>) -> String {
    let row = 24.0;
    let height = TOP + 10.0 + row * items.len() as f64 + BOTTOM;
    let left = 170.0;
    let mut c = Canvas::new(title, height);
    let max = items.iter().map(|(_, v)| *v).chain(limit.map(|l| l.0)).fold(0.0, f64::max);
    let x = Scale::new(0.0, if max > 0.0 { max * 1.08 } else { 1.0 }, left, W - RIGHT - 60.0);
    for (i, (label, v)) in items.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * row;
        let bad = limit.is_some_and(|(l, higher)| if higher { *v < l } else { *v > l });
        let fill = if bad { ALERT } else { PALETTE[0] };
        let _ = write!(
            c.svg,
            r#"<rect x="{left}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}: {}</title></rect>"#,
            (x.at(*v) - left).max(1.0),
            row - 6.0,
            esc(label),
            esc(&fmt(*v))
        );
        c.text(left - 6.0, y + row / 2.0 + 1.0, "end", "#222", &shorten(label, 26));
        c.text(x.at(*v) + 4.0, y + row / 2.0 + 1.0, "start", "#222", &fmt(*v));
    }
    let bottom = TOP + 10.0 + row * items.len() as f64;
    if let Some((l, _)) = limit {
        let px = x.at(l);
        c.line((px, TOP + 4.0), (px, bottom), ALERT, true);
        c.text(px, bottom + 14.0, "middle", ALERT, &format!("threshold {}", fmt(l)));
    }
    c.finish()
}

/// Distributions as cumulative curves (what share of requests took at most x), one per
/// series; `marks` draw vertical lines (thresholds, percentiles).
pub(crate) fn cdf(title: &str, series: &[(String, Vec<f64>)], fmt: Fmt, marks: &[(String, f64)]) -> String {
    let mut c = Canvas::new(title, H);
    let all = series.iter().flat_map(|(_, v)| v.iter().copied()).chain(marks.iter().map(|m| m.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return empty(c, "no samples");
    }
    let bottom = H - BOTTOM;
    let x = Scale::new(lo.min(0.0).max(lo - (hi - lo) * 0.05), hi + (hi - lo) * 0.03, LEFT, W - RIGHT);
    let y = Scale::new(0.0, 1.0, bottom, TOP + 8.0);
    c.axes(
        x,
        y,
        fmt,
        &|v| format!("{:.0}%", v * 100.0),
        "value (up: the share of values at or below it)",
        bottom,
    );
    for (i, (_, values)) in series.iter().enumerate() {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut pts = vec![(x.at(v.first().copied().unwrap_or(lo)), y.at(0.0))];
        for (k, value) in v.iter().enumerate() {
            pts.push((x.at(*value), y.at(k as f64 / n)));
            pts.push((x.at(*value), y.at((k + 1) as f64 / n)));
        }
        c.polyline(&pts, PALETTE[i % PALETTE.len()]);
    }
    for (i, (label, v)) in marks.iter().enumerate() {
        let px = x.at(*v);
        c.line((px, TOP + 8.0), (px, bottom), ALERT, true);
        c.mark_label(px, TOP + 20.0 + (i % 4) as f64 * 12.0, label);
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    c.legend(&names);
    c.finish()
}

/// Points over time (seconds since the start): a soak's drift shows as a slope.
pub(crate) fn scatter(title: &str, points: &[(f64, f64)], fmt: Fmt, marks: &[(String, f64)]) -> String {
    let mut c = Canvas::new(title, H);
    if points.is_empty() {
        return empty(c, "no samples");
    }
    let bottom = H - BOTTOM;
    let (x0, x1) =
        points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ys = points.iter().map(|p| p.1).chain(marks.iter().map(|m| m.1));
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let x = Scale::new(x0, x1.max(x0 + 1e-3), LEFT, W - RIGHT);
    let y = Scale::new(y0.min(0.0), y1 * 1.08, bottom, TOP + 8.0);
    c.axes(
        x,
        y,
        &|s| format!("{}s", crate::suite::values::trim_float(s)),
        fmt,
        "seconds since the first request",
        bottom,
    );
    for (px, py) in points {
        let _ = write!(
            c.svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{}" fill-opacity="0.6"/>"#,
            x.at(*px),
            y.at(*py),
            PALETTE[0]
        );
    }
    for (label, v) in marks {
        let py = y.at(*v);
        c.line((LEFT, py), (W - RIGHT, py), ALERT, true);
        c.text(W - RIGHT - 4.0, py - 4.0, "end", ALERT, label);
    }
    c.finish()
}

/// Lines through (x, y) points, one per series, with marked x values (the knee; where each
/// test began on a GPU timeline).
pub(crate) fn lines(
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    (fx, fy): (Fmt, Fmt),
    x_label: &str,
    marks: &[(f64, String)],
) -> String {
    let mut c = Canvas::new(title, H);
    let pts = || series.iter().flat_map(|(_, p)| p.iter().copied());
    if pts().next().is_none() {
        return empty(c, "no data");
    }
    let bottom = H - BOTTOM;
    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let x = Scale::new(x0, x1, LEFT, W - RIGHT);
    let y = Scale::new(y0.min(0.0), y1 * 1.08, bottom, TOP + 8.0);
    c.axes(x, y, fx, fy, x_label, bottom);
    for (i, (_, p)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let scaled: Vec<(f64, f64)> = p.iter().map(|(a, b)| (x.at(*a), y.at(*b))).collect();
        c.polyline(&scaled, colour);
        if scaled.len() <= 40 {
            for (px, py) in &scaled {
                let _ = write!(c.svg, r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="{colour}"/>"#);
            }
        }
    }
    for (i, (mx, label)) in marks.iter().enumerate() {
        let px = x.at(*mx);
        c.line((px, TOP + 8.0), (px, bottom), ALERT, true);
        // Labels step down so neighbours do not print over each other.
        c.mark_label(px, TOP + 20.0 + (i % 4) as f64 * 12.0, &shorten(label, 30));
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    c.legend(&names);
    c.finish()
}

fn empty(mut c: Canvas, why: &str) -> String {
    c.text(W / 2.0, H / 2.0, "middle", "#666", why);
    c.finish()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: f64) -> String {
        crate::suite::values::format_seconds(v)
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(ticks(3.0, 97.0, 4), vec![25.0, 50.0, 75.0]);
        assert_eq!(ticks(5.0, 5.0, 4), vec![5.0], "a flat range still has one tick");
    }

    #[test]
    fn charts_escape_text_and_use_no_css() {
        let items = vec![("<script>alert(1)</script>".to_string(), 2.0), ("b".to_string(), 1.0)];
        let svg = bars("t & <u>", &items, &secs, Some((1.5, true)));
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"), "{svg}");
        assert!(svg.contains("t &amp; &lt;u&gt;"));
        for chart in [
            svg,
            cdf("d", &[("a".into(), vec![0.1, 0.2, 0.3])], &secs, &[("p95 limit".into(), 0.25)]),
            scatter("s", &[(0.0, 0.1), (1.0, 0.2)], &secs, &[]),
            lines(
                "l",
                &[("a".into(), vec![(1.0, 2.0), (2.0, 3.0)])],
                (&secs, &secs),
                "x",
                &[(2.0, "knee".into())],
            ),
        ] {
            assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"));
            assert!(!chart.contains("style="), "presentation attributes only: {chart}");
        }
    }

    #[test]
    fn a_bar_on_the_wrong_side_of_its_threshold_is_marked() {
        let items = vec![("fast".to_string(), 120.0), ("slow".to_string(), 40.0)];
        let svg = bars("tokens/s", &items, &|v| format!("{v}"), Some((50.0, true)));
        assert_eq!(svg.matches(&format!(r#"fill="{ALERT}"><title>"#)).count(), 1, "only the slow bar: {svg}");
        assert!(svg.contains(&format!(r#"fill="{ALERT}"><title>slow: 40</title>"#)));
        assert!(svg.contains("threshold 50"));
    }

    #[test]
    fn a_cdf_rises_from_zero_to_every_request() {
        let svg = cdf("d", &[("a".into(), vec![1.0, 2.0, 3.0, 4.0])], &secs, &[]);
        let pts = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let ys: Vec<f64> = pts.split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
        assert!(ys.windows(2).all(|w| w[1] <= w[0]), "y only rises (pixel y falls): {ys:?}");
        assert_eq!(ys.len(), 9, "a start point and two per sample");
    }
}
