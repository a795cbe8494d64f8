use super::*;

#[test]
fn every_numeric_metric_has_a_prometheus_name_in_base_units() {
    let named = |m: Metric| {
        let (n, scale) = family_of(m).unwrap();
        (format!("hxrun_{}{}", n.name, n.unit.map(|u| format!("_{}", u.as_str())).unwrap_or_default()), scale)
    };
    assert_eq!(named(Metric::Ttft), ("hxrun_ttft_seconds".to_string(), 1.0));
    assert_eq!(named(Metric::TokensPerS), ("hxrun_tokens_per_second".to_string(), 1.0));
    assert_eq!(named(Metric::OutputTokenThroughput).0, "hxrun_output_token_throughput_per_second");
    assert_eq!(named(Metric::GpuUtilMean), ("hxrun_gpu_util_mean_ratio".to_string(), 0.01));
    assert_eq!(named(Metric::GpuMemoryUsedMax).0, "hxrun_gpu_memory_used_max_bytes");
    assert_eq!(named(Metric::GpuTempMax).0, "hxrun_gpu_temp_max_celsius");
    assert_eq!(named(Metric::OutputTokens).0, "hxrun_output_tokens");
    assert_eq!(named(Metric::EvalCount).0, "hxrun_eval_tokens", "`_count` is a histogram's suffix");
    assert_eq!(cov_of(Metric::TokensPerS).name, "tokens_per_second_cov");
    assert!(family_of(Metric::DoneReason).is_none(), "text is not a series");
    // Names are Prometheus names: no dots, nothing but [a-z0-9_].
    for &m in crate::suite::metrics::LLM
        .iter()
        .chain(crate::suite::metrics::PER_REQUEST)
        .chain(crate::suite::metrics::AGGREGATES)
        .chain(crate::suite::metrics::GPU)
    {
        if let Some((n, _)) = family_of(m) {
            assert!(
                n.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                n.name
            );
        }
    }
}
