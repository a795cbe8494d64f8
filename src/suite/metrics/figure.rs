//! A figure: a metric, with a statistic for a perf step's per-request metrics (`ttft.p95`);
//! the key of every figure map, threshold, drift bound and baseline change. Its dotted name
//! is made and read only here (`Figure::name`, `Figure::parse`, and `by_name` for maps in
//! report.json).

use super::{AGGREGATES, GPU, Metric, PER_REQUEST, Unit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A statistic of a per-request metric over a level's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Stat {
    Count,
    Mean,
    Min,
    Max,
    Stddev,
    Cov,
    P50,
    P90,
    P95,
    P99,
}

impl Stat {
    /// Every statistic, in the order reports list them.
    pub(crate) const ALL: [Stat; 10] = [
        Stat::Count,
        Stat::Mean,
        Stat::Min,
        Stat::Max,
        Stat::Stddev,
        Stat::Cov,
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::P99,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stat::Count => "count",
            Stat::Mean => "mean",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::Stddev => "stddev",
            Stat::Cov => "cov",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A figure of a perf level (or the GPU figures of an LLM step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Figure {
    pub(crate) metric: Metric,
    pub(crate) stat: Option<Stat>,
}

/// Figures by figure, iterated in name order.
pub(crate) type Figures = BTreeMap<Figure, f64>;

impl Figure {
    /// A whole-level figure (an aggregate or a GPU figure).
    pub(crate) const fn of(metric: Metric) -> Figure {
        Figure { metric, stat: None }
    }

    /// A statistic of a per-request metric.
    pub(crate) const fn stat(metric: Metric, stat: Stat) -> Figure {
        Figure { metric, stat: Some(stat) }
    }

    /// Every perf figure, in catalogue order.
    pub(crate) fn all() -> Vec<Figure> {
        let plain = AGGREGATES.iter().chain(GPU).map(|m| Figure::of(*m));
        let stats = PER_REQUEST.iter().flat_map(|m| Stat::ALL.into_iter().map(move |s| Figure::stat(*m, s)));
        plain.chain(stats).collect()
    }

    /// The perf figure of this name (`ttft.p95`, `request_throughput`, `gpu.util.max`), if
    /// there is one.
    pub(crate) fn parse(name: &str) -> Option<Figure> {
        if let Some(m) = Metric::parse(name) {
            return (AGGREGATES.contains(&m) || GPU.contains(&m)).then_some(Figure::of(m));
        }
        let (metric, stat) = name.rsplit_once('.')?;
        let metric = Metric::parse(metric).filter(|m| PER_REQUEST.contains(m))?;
        Some(Figure::stat(metric, Stat::parse(stat)?))
    }

    pub(crate) fn name(&self) -> String {
        match self.stat {
            Some(s) => format!("{}.{}", self.metric.name(), s.name()),
            None => self.metric.name().to_string(),
        }
    }

    /// The name's bytes, without making it.
    fn name_bytes(&self) -> impl Iterator<Item = u8> {
        let stat = self.stat.map(|s| s.name().bytes());
        let dot = self.stat.map(|_| b'.');
        self.metric.name().bytes().chain(dot).chain(stat.into_iter().flatten())
    }

    pub(crate) fn unit(&self) -> Unit {
        match self.stat {
            Some(Stat::Count) => Unit::Count,
            Some(Stat::Cov) => Unit::Percent,
            _ => self.metric.unit(),
        }
    }

    /// Whether a larger value is an improvement (spread never is).
    pub(crate) fn higher_is_better(&self) -> bool {
        !matches!(self.stat, Some(Stat::Stddev | Stat::Cov)) && self.metric.better() == super::Better::Higher
    }

    pub(crate) fn doc(&self) -> String {
        match self.stat {
            Some(s) => format!("{} of {}", s.name(), self.metric.doc()),
            None => self.metric.doc().to_string(),
        }
    }

    /// A value for people: `52.1ms`, `12.5%`, `1.2GiB`, `48.3`.
    pub(crate) fn format(&self, v: f64) -> String {
        format_in(self.unit(), v)
    }
}

fn format_in(unit: Unit, v: f64) -> String {
    use crate::suite::values::{format_seconds, trim_float};
    match unit {
        Unit::Seconds => format_seconds(v),
        Unit::Bytes => format!("{}GiB", trim_float(v / 1073741824.0)),
        Unit::Percent => format!("{}%", trim_float(v)),
        Unit::Watts => format!("{}W", trim_float(v)),
        Unit::Celsius => format!("{}°C", trim_float(v)),
        Unit::Count | Unit::PerSecond | Unit::Text => trim_float(v),
    }
}

impl Metric {
    /// A value of this metric for people, in its unit.
    pub(crate) fn format(self, v: f64) -> String {
        format_in(self.unit(), v)
    }
}

impl Ord for Figure {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name_bytes().cmp(other.name_bytes())
    }
}

impl PartialOrd for Figure {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.metric.name())?;
        match self.stat {
            Some(s) => write!(f, ".{}", s.name()),
            None => Ok(()),
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Figure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Figure::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown figure `{name}`")))
    }
}

/// A key written by its name in report.json.
pub(crate) trait Named: Sized + Ord {
    fn key(&self) -> String;
    fn from_key(name: &str) -> Option<Self>;
}

impl Named for Figure {
    fn key(&self) -> String {
        self.name()
    }
    fn from_key(name: &str) -> Option<Self> {
        Figure::parse(name)
    }
}

impl Named for Metric {
    fn key(&self) -> String {
        self.name().to_string()
    }
    fn from_key(name: &str) -> Option<Self> {
        Metric::parse(name)
    }
}

/// Serde for maps keyed by a metric or figure, by name (`#[serde(with = "by_name")]`): a
/// name this build does not know (a report from a later one) is left out when read.
pub(crate) mod by_name {
    use super::Named;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(crate) fn serialize<K: Named, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k.key(), v)))
    }

    pub(crate) fn deserialize<'de, K: Named, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        let raw = BTreeMap::<String, V>::deserialize(d)?;
        Ok(raw.into_iter().filter_map(|(k, v)| Some((K::from_key(&k)?, v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_know_their_unit_direction_and_format() {
        let p95 = Figure::parse("ttft.p95").unwrap();
        assert_eq!(p95, Figure::stat(Metric::Ttft, Stat::P95));
        assert_eq!(
            (p95.unit(), p95.higher_is_better(), p95.format(0.0521)),
            (Unit::Seconds, false, "52.1ms".to_string())
        );
        let cov = Figure::parse("tokens_per_s.cov").unwrap();
        assert_eq!(
            (cov.unit(), cov.higher_is_better(), cov.format(12.5)),
            (Unit::Percent, false, "12.5%".to_string())
        );
        assert!(Figure::parse("tokens_per_s.mean").unwrap().higher_is_better());
        assert_eq!(Figure::parse("model_vram").unwrap().format(2.0 * 1073741824.0), "2GiB");
        assert_eq!(Figure::parse("gpu.util.max"), Some(Figure::of(Metric::GpuUtilMax)));
        for bad in ["ttft.p96", "ttft", "request_throughput.p95", "chunks.mean", "gpu.util", ""] {
            assert!(Figure::parse(bad).is_none(), "{bad}");
        }
        let names: Vec<String> = Figure::all().iter().map(Figure::name).collect();
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "one definition per figure");
        for f in Figure::all() {
            assert_eq!(Figure::parse(&f.name()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
    }

    #[test]
    fn figure_maps_are_in_name_order_and_read_back_by_name() {
        let mut names: Vec<String> = Figure::all().iter().map(Figure::name).collect();
        names.sort();
        let map: Figures = Figure::all().into_iter().map(|f| (f, 1.0)).collect();
        let keys: Vec<String> = map.keys().map(Figure::name).collect();
        assert_eq!(keys, names, "Ord is the names' order");

        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            #[serde(with = "by_name")]
            figures: Figures,
        }
        let json = r#"{"figures":{"e2e.p95":0.5,"from_a_later_build":1.0,"request_throughput":3.0}}"#;
        let read: Holder = serde_json::from_str(json).unwrap();
        assert_eq!(read.figures.len(), 2, "an unknown name is left out");
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"{"figures":{"e2e.p95":0.5,"request_throughput":3.0}}"#
        );
    }
}
