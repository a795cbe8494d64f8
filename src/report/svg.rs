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

/// A chart being drawn: the frame, its title, a legend in rows of its own under the title,
/// the axes, and a key of marks below when their labels would not fit over the plot.
struct Canvas {
    title: String,
    svg: String,
    height: f64,
    /// Where the plot starts: below the title and the legend's rows.
    top: f64,
}

/// Width of a character of the 11px labels, for fitting text.
const CHAR_W: f64 = 6.2;

impl Canvas {
    fn new(title: &str, height: f64) -> Canvas {
        Canvas { title: title.to_string(), svg: String::new(), height, top: TOP }
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

    fn polyline(&mut self, points: &[(f64, f64)], stroke: &str) {
        let pts: String = points.iter().map(|(x, y)| format!("{x:.1},{y:.1} ")).collect();
        let _ = write!(
            self.svg,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="2"/>"#,
            pts.trim_end()
        );
    }

    /// The series' names in rows under the title (never over it, never past the right edge);
    /// the plot starts below them and the chart grows by as much. Drawn before the plot.
    fn legend(&mut self, names: &[&str]) {
        if names.len() < 2 {
            return;
        }
        let (mut x, mut y) = (LEFT, TOP + 4.0);
        for (i, name) in names.iter().enumerate() {
            let name = shorten(name, 60);
            let width = 24.0 + CHAR_W * name.chars().count() as f64;
            if x > LEFT && x + width > W - RIGHT {
                (x, y) = (LEFT, y + 15.0);
            }
            let colour = PALETTE[i % PALETTE.len()];
            let _ = write!(
                self.svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
                y - 9.0
            );
            self.text(x + 14.0, y, "start", "#222", &name);
            x += width;
        }
        self.top = y + 8.0;
        self.height += self.top - TOP;
    }

    /// Labels of vertical marks (a threshold, the knee, where each test began): over the plot in
    /// up to four rows where they fit without touching; otherwise each mark is numbered at its
    /// top and the numbers are explained in a key under the chart.
    fn marks(&mut self, marks: &[(f64, String)], bottom: f64) {
        let rows = 4;
        let mut ends = vec![f64::NEG_INFINITY; rows];
        let mut placed = Vec::with_capacity(marks.len());
        for (px, label) in marks {
            let width = CHAR_W * label.chars().count() as f64 + 6.0;
            let (from, to) = if *px > W - RIGHT - width { (px - width, *px) } else { (*px, px + width) };
            match (0..rows).find(|&r| ends[r] + 4.0 < from && from >= LEFT) {
                Some(r) => {
                    ends[r] = to;
                    placed.push(r);
                }
                None => break,
            }
        }
        for (px, _) in marks {
            self.line((*px, self.top + 8.0), (*px, bottom), ALERT, true);
        }
        if placed.len() == marks.len() {
            for ((px, label), r) in marks.iter().zip(placed) {
                let y = self.top + 20.0 + r as f64 * 12.0;
                let width = CHAR_W * label.chars().count() as f64 + 6.0;
                if *px > W - RIGHT - width {
                    self.text(px - 3.0, y, "end", ALERT, label);
                } else {
                    self.text(px + 3.0, y, "start", ALERT, label);
                }
            }
            return;
        }
        // Numbered: two rows of numbers, so neighbours stay readable; the key below wraps.
        for (i, (px, _)) in marks.iter().enumerate() {
            self.text(*px, self.top + 6.0 + (i % 2) as f64 * 11.0, "middle", ALERT, &(i + 1).to_string());
        }
        let (mut x, mut y) = (LEFT, bottom + 50.0);
        for (i, (_, label)) in marks.iter().enumerate() {
            let entry = format!("{} {}", i + 1, shorten(label, 40));
            let width = CHAR_W * entry.chars().count() as f64 + 14.0;
            if x > LEFT && x + width > W - RIGHT {
                (x, y) = (LEFT, y + 14.0);
            }
            self.text(x, y, "start", "#444", &entry);
            x += width;
        }
        self.height = self.height.max(y + 10.0);
    }

    fn finish(self) -> String {
        let (height, t) = (self.height, esc(&self.title));
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><rect x="0" y="0" width="{W}" height="{height}" fill="#ffffff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#222">{t}</text>{}</svg>"##,
            self.svg
        )
    }
}

/// A round value a little above `hi`, for the top of a value axis: the highest point sits
/// under the top grid line, not on the chart's edge.
fn headroom(lo: f64, hi: f64) -> f64 {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return hi;
    }
    let t = ticks(lo, hi * 1.1, 5);
    let step = match t.as_slice() {
        [a, b, ..] => b - a,
        _ => (hi - lo) * 0.25,
    };
    ((hi * 1.02) / step).ceil() * step
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
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    c.legend(&names);
    let data = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (dlo, dhi) = data.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !dlo.is_finite() {
        return empty(c, "no samples");
    }
    // A mark far from the values (a 5 s limit on 50 ms answers) would squeeze them against an
    // edge: it is drawn as off the scale instead, with its value.
    let reach = (dhi - dlo).max(dhi.abs() * 0.5).max(1e-9);
    let (near, far): (Vec<_>, Vec<_>) =
        marks.iter().partition(|(_, v)| *v >= dlo - reach && *v <= dhi + reach);
    let (lo, hi) = near.iter().fold((dlo, dhi), |(a, b), (_, v)| (a.min(*v), b.max(*v)));
    let bottom = c.height - BOTTOM;
    let x = Scale::new(lo.min(0.0).max(lo - (hi - lo) * 0.05), hi + (hi - lo) * 0.03, LEFT, W - RIGHT);
    let y = Scale::new(0.0, 1.0, bottom, c.top + 8.0);
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
    let on: Vec<(f64, String)> = near.iter().map(|(label, v)| (x.at(*v), label.clone())).collect();
    c.marks(&on, bottom);
    // A cumulative curve leaves its lower right and upper left empty: the labels go there.
    for (i, (label, v)) in far.iter().enumerate() {
        if *v > dhi {
            let y = bottom - 8.0 - i as f64 * 12.0;
            c.text(W - RIGHT - 2.0, y, "end", ALERT, &format!("{label} → off the scale, at {}", fmt(*v)));
        } else {
            let y = c.top + 20.0 + i as f64 * 12.0;
            c.text(LEFT + 4.0, y, "start", ALERT, &format!("← {label}: off the scale, at {}", fmt(*v)));
        }
    }
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
    // Room on every side: no point on the frame's edge.
    let pad = ((x1 - x0) * 0.03).max(1e-3);
    let x = Scale::new(x0 - pad, x1 + pad, LEFT, W - RIGHT);
    let y = Scale::new(y0.min(0.0), headroom(y0.min(0.0), y1), bottom, TOP + 8.0);
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
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    c.legend(&names);
    let pts = || series.iter().flat_map(|(_, p)| p.iter().copied());
    if pts().next().is_none() {
        return empty(c, "no data");
    }
    let bottom = c.height - BOTTOM;
    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((x1 - x0) * 0.02).max(1e-9);
    let x = Scale::new(x0 - pad, x1 + pad, LEFT, W - RIGHT);
    let y = Scale::new(y0.min(0.0), headroom(y0.min(0.0), y1), bottom, c.top + 8.0);
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
    let on: Vec<(f64, String)> = marks.iter().map(|(mx, label)| (x.at(*mx), label.clone())).collect();
    c.marks(&on, bottom);
    c.finish()
}

/// One probe of a capacity search as the path chart draws it.
pub(crate) struct ProbePoint {
    pub(crate) value: f64,
    /// Attainment and its interval, percent.
    pub(crate) attainment: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) met: bool,
}

/// A capacity search's path: each probe at its rate (or concurrency) with its attainment's
/// interval, numbered in the order run, met as a dot and missed as a cross (the shape tells
/// them apart without the colour), the target as a dashed line and the capacity marked.
pub(crate) fn search_path(
    title: &str,
    probes: &[ProbePoint],
    (fx, x_label): (Fmt, &str),
    target: f64,
    capacity: Option<(f64, String)>,
) -> String {
    let mut c = Canvas::new(title, H);
    c.legend(&["met the target (●)", "missed it (✕)"]);
    if probes.is_empty() {
        return empty(c, "no probe ran");
    }
    let bottom = c.height - BOTTOM;
    let (x0, x1) =
        probes.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.value), b.max(p.value)));
    let pad = ((x1 - x0) * 0.04).max(1e-3);
    let x = Scale::new(x0 - pad, x1 + pad, LEFT, W - RIGHT);
    let y = Scale::new(0.0, 100.0, bottom, c.top + 8.0);
    c.axes(x, y, fx, &|v| format!("{}%", crate::suite::values::trim_float(v)), x_label, bottom);
    let ty = y.at(target);
    c.line((LEFT, ty), (W - RIGHT, ty), ALERT, true);
    c.text(
        W - RIGHT - 4.0,
        ty - 4.0,
        "end",
        ALERT,
        &format!("target {}%", crate::suite::values::trim_float(target)),
    );
    for (i, p) in probes.iter().enumerate() {
        let (px, py) = (x.at(p.value), y.at(p.attainment));
        let colour = if p.met { PALETTE[0] } else { PALETTE[1] };
        c.line((px, y.at(p.low)), (px, y.at(p.high)), colour, false);
        if p.met {
            let _ = write!(c.svg, r#"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="{colour}"/>"#);
        } else {
            c.line((px - 4.0, py - 4.0), (px + 4.0, py + 4.0), colour, false);
            c.line((px - 4.0, py + 4.0), (px + 4.0, py - 4.0), colour, false);
        }
        c.text(px + 6.0, py - 6.0, "start", "#444", &(i + 1).to_string());
    }
    if let Some((at, label)) = capacity {
        c.marks(&[(x.at(at), label)], bottom);
    }
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

    /// The y of every `<text>` whose content is `label`.
    fn text_y(svg: &str, label: &str) -> Vec<f64> {
        svg.split("<text ")
            .filter(|t| t.contains(&format!(">{label}</text>")))
            .map(|t| t.split("y=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn a_threshold_far_from_the_values_is_marked_off_the_scale() {
        let svg = cdf("ttft", &[("a".into(), vec![0.050, 0.052, 0.054])], &secs, &[("p95 < 5s".into(), 5.0)]);
        assert!(svg.contains("p95 &lt; 5s → off the scale, at 5s"), "{svg}");
        assert!(!svg.contains("stroke-dasharray"), "no line drawn at 5 s: {svg}");
        // The axis spans the values, not the threshold.
        assert!(!svg.contains(">1s</text>") && svg.contains(">50ms</text>"), "{svg}");
        let near =
            cdf("ttft", &[("a".into(), vec![0.050, 0.052, 0.054])], &secs, &[("p95 < 60ms".into(), 0.06)]);
        assert!(near.contains("stroke-dasharray") && near.contains(">p95 &lt; 60ms</text>"), "{near}");
    }

    #[test]
    fn legends_sit_under_the_title_and_crowded_marks_get_a_key() {
        let series: Vec<(String, Vec<(f64, f64)>)> = (0..2)
            .map(|g| (format!("GPU {g} NVIDIA GeForce RTX 5060 Ti"), vec![(0.0, 1.0), (30.0, 2.0)]))
            .collect();
        let marks: Vec<(f64, String)> =
            (0..11).map(|i| (f64::from(i), format!("baseline model-{i}"))).collect();
        let svg = lines("GPU utilization", &series, (&secs, &secs), "s", &marks);
        let legend = text_y(&svg, "GPU 1 NVIDIA GeForce RTX 5060 Ti");
        assert_eq!(legend.len(), 1, "the whole name is shown: {svg}");
        assert!(legend[0] > 18.0 + 10.0, "below the title's line: {legend:?}");
        // Eleven marks a second apart cannot carry their names: numbered, with a key below.
        assert_eq!(text_y(&svg, "11").len(), 1, "{svg}");
        let key = text_y(&svg, "11 baseline model-10");
        assert!(key.len() == 1 && key[0] > H - BOTTOM, "the key is under the plot: {key:?}");
        let height: f64 = svg.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(height > key[0], "the chart grew to hold it: {height}");
        // Two marks far apart keep their names over the plot.
        let two = lines("x", &series, (&secs, &secs), "s", &[(1.0, "a".into()), (25.0, "knee".into())]);
        assert!(!text_y(&two, "knee").is_empty() && text_y(&two, "2 knee").is_empty(), "{two}");
    }

    #[test]
    fn the_highest_point_sits_under_a_round_top() {
        assert!((headroom(0.0, 0.245) - 0.3).abs() < 1e-12);
        assert!((headroom(0.0, 97.0) - 100.0).abs() < 1e-9);
        assert!(headroom(0.0, 100.0) > 100.0);
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
