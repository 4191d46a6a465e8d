//! Structured logs: one tracing subscriber, text or JSON lines on stderr.

use crate::args::LogFormat;
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. A filter that does not parse falls back to `info` (with a
/// warning once the subscriber is up), so a typo in RUST_LOG never stops the operator.
pub fn init(filter: &str, format: LogFormat) {
    let parsed = EnvFilter::try_new(filter);
    let env_filter = parsed
        .as_ref()
        .map(|_| EnvFilter::new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    if let Err(error) = parsed {
        tracing::warn!(%error, filter, "invalid log filter; using info");
    }
}
