use clap::Parser;

fn main() -> std::process::ExitCode {
    manofwar_node::cli::run(manofwar_node::cli::Args::parse())
}
