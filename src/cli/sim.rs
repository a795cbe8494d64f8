//! `hxrun sim`: the simulator as a standalone server.

use super::SimArgs;
use crate::exit;
use crate::sim::{Faults, SimConfig, SimServer, default_models, models::model_named};

pub(super) fn serve(args: SimArgs) -> u8 {
    let config = SimConfig {
        models: if args.models.is_empty() {
            default_models()
        } else {
            args.models.iter().map(|m| model_named(m.trim())).collect()
        },
        tokens_per_s: args.tokens_per_s,
        ttft: args.ttft,
        load_time: args.load_time,
        api_key: args.api_key.clone(),
        prompt_tokens_per_s: (args.prompt_tokens_per_s > 0.0).then_some(args.prompt_tokens_per_s),
        jitter: args.jitter / 100.0,
        capacity: (args.capacity > 0).then_some(args.capacity),
        precise: args.precise,
        flavor: args.flavor,
        faults: Faults {
            stall: args.stall,
            truncate_after: args.truncate_after,
            garble_chunk: args.garble_chunk,
            eval_duration_scale: args.eval_duration_scale,
            wrong_model: args.wrong_model.clone(),
            echo_model: args.echo_model,
            no_stream_usage: args.no_stream_usage,
            vary_answers: args.vary_answers,
            gpu_fraction: args.gpu_fraction,
            slow_down_per_s: args.slow_down,
        },
        ..SimConfig::realistic()
    };
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let server = match SimServer::start(config, &args.host, args.port).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {}:{}: {e}", args.host, args.port);
                return exit::INTERNAL;
            }
        };
        // Printed only once the socket accepts connections, so scripts can wait for it.
        println!("hxrun sim listening on {}", server.url());
        tokio::select! {
            _ = server.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        exit::PASSED
    })
}
