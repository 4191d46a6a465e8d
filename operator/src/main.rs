//! `manofwar-operator`: parse the arguments, start logging, run the operator.

use clap::Parser as _;
use manofwar_operator::{args::Args, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(&args.log_filter, args.log_format);
    match manofwar_operator::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = manofwar_operator::describe(&error),
                "manofwar-operator stopped"
            );
            ExitCode::FAILURE
        }
    }
}
