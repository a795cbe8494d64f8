use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = hxrun::cli::Cli::parse();
    ExitCode::from(hxrun::cli::main(cli))
}
