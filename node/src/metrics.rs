//! Prometheus metrics: items by state, transcode seconds, bytes served, HTTP latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: String,
}

pub struct Metrics {
    registry: Registry,
    items: Family<StateLabel, Gauge>,
    pub transcode_seconds: Counter<f64, AtomicU64>,
    pub transcodes: Family<OutcomeLabel, Counter>,
    pub bytes_served: Counter,
    pub http_seconds: Family<HttpLabels, Histogram>,
    /// Who streams what now (media segments served, by user and item).
    pub streams: crate::live::Streams,
    /// CPU and bytes per second between two readings of the live view.
    pub rates: crate::live::Rates,
    active_streams: Gauge,
    resident_memory: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("manofwar");
        let items = Family::<StateLabel, Gauge>::default();
        registry.register("items", "Library items by state", items.clone());
        let transcode_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "transcode_seconds",
            "Wall-clock seconds spent transcoding",
            transcode_seconds.clone(),
        );
        let transcodes = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "transcodes",
            "Finished transcode attempts by outcome",
            transcodes.clone(),
        );
        let bytes_served = Counter::default();
        registry.register(
            "http_response_bytes",
            "Bytes of HTTP response bodies served",
            bytes_served.clone(),
        );
        let http_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.5, 12))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_seconds.clone(),
        );
        let active_streams = Gauge::default();
        registry.register(
            "active_streams",
            "Streams in progress (a media segment served in the last 30 s), by user and item",
            active_streams.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            resident_memory.clone(),
        );
        let cpu_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "process_cpu_seconds",
            "CPU time this process used (user and system)",
            cpu_seconds.clone(),
        );
        Self {
            registry,
            items,
            transcode_seconds,
            transcodes,
            bytes_served,
            http_seconds,
            streams: crate::live::Streams::default(),
            rates: crate::live::Rates::default(),
            active_streams,
            resident_memory,
            cpu_seconds,
        }
    }
}

impl Metrics {
    /// Prometheus text exposition, with item counts as of now.
    pub fn render(&self, counts: &HashMap<&'static str, i64>) -> String {
        for (state, n) in counts {
            self.items
                .get_or_create(&StateLabel {
                    state: (*state).to_owned(),
                })
                .set(*n);
        }
        let active = self.streams.active().len();
        self.active_streams
            .set(i64::try_from(active).unwrap_or(i64::MAX));
        if let Some(process) = crate::live::process() {
            self.resident_memory
                .set(i64::try_from(process.rss_bytes).unwrap_or(i64::MAX));
            // A counter: it moves by what was used since the last reading.
            let used = process.cpu_seconds - self.cpu_seconds.get();
            if used > 0.0 {
                self.cpu_seconds.inc_by(used);
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn transcode_finished(&self, outcome: &str, seconds: f64) {
        self.transcode_seconds.inc_by(seconds);
        self.transcodes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}
