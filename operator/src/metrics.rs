//! Prometheus metrics: reconciles, failures by reason and reconcile duration per controller,
//! and whether this replica leads.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    controller: &'static str,
    reason: &'static str,
}

/// The operator's metrics, registered once and shared by every controller.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciles: Family<ControllerLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    duration: Family<ControllerLabel, Histogram>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("manofwar_operator");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by reason",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took",
            duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease (or runs without election)",
            leader.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciles,
            failures,
            duration,
            leader,
        }
    }

    /// Count a reconcile of `controller`; the returned guard records its duration when dropped.
    pub fn reconcile(&self, controller: &'static str) -> ReconcileTimer {
        let label = ControllerLabel { controller };
        self.reconciles.get_or_create(&label).inc();
        ReconcileTimer {
            histogram: self.duration.get_or_create(&label).clone(),
            started: Instant::now(),
        }
    }

    /// Count a failed reconcile of `controller` by the error's metric label.
    pub fn failure(&self, controller: &'static str, reason: &'static str) {
        self.failures
            .get_or_create(&FailureLabels { controller, reason })
            .inc();
    }

    /// Record whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Observes a reconcile's duration when dropped.
pub struct ReconcileTimer {
    histogram: Histogram,
    started: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_failures_and_durations_are_exported() {
        let metrics = Metrics::new();
        drop(metrics.reconcile("medialibrary"));
        metrics.failure("medialibrary", "kube_api");
        metrics.set_leader(true);
        let text = metrics.render();
        assert!(
            text.contains("manofwar_operator_reconciles_total{controller=\"medialibrary\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "manofwar_operator_reconcile_failures_total{controller=\"medialibrary\",reason=\"kube_api\"} 1"
        ));
        assert!(text.contains(
            "manofwar_operator_reconcile_duration_seconds_count{controller=\"medialibrary\"} 1"
        ));
        assert!(text.contains("manofwar_operator_leader 1"));
        // The chart's Grafana dashboard asks only for series the operator has (`manofwar_operator_…`).
        let dashboard = include_str!("../../charts/manofwar/dashboards/manofwar.json");
        let mut asked = 0;
        for (i, _) in dashboard.match_indices("manofwar_operator_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                text.contains(&name),
                "the dashboard's {name} is not in /metrics"
            );
            asked += 1;
        }
        assert!(asked >= 3, "the dashboard shows the operator");
    }
}
