//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Each server has its own registry (no global recorder), so several servers can run in one process,
//! as the tests do. The names:
//! - `quartier_http_requests_total{route, method, status}`;
//! - `quartier_http_request_duration_seconds{route, method}` (histogram);
//! - `quartier_push_mutations_total{outcome}`: pushed mutations `applied`, `rejected` or `duplicate`;
//! - `quartier_pull_changes_total`: changes served by pulls;
//! - `quartier_joins_total{outcome}`: `/v1/join` calls `joined` or `refused`.
//!
//! To add a metric: a field here, registered in [`Metrics::new`], and a method that updates it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of the text format `prometheus-client` writes (OpenMetrics, read by Prometheus).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    mutations: Family<OutcomeLabels, Counter>,
    pulled: Counter,
    joins: Family<OutcomeLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "quartier_http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "quartier_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and method",
            latency.clone(),
        );
        let mutations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "quartier_push_mutations",
            "Pushed mutations, by outcome: applied, rejected by the rules, or a duplicate answered again",
            mutations.clone(),
        );
        let pulled = Counter::default();
        registry.register("quartier_pull_changes", "Changes served by pulls", pulled.clone());
        let joins = Family::<OutcomeLabels, Counter>::default();
        registry.register("quartier_joins", "Invitations redeemed, by outcome", joins.clone());
        Metrics { registry, requests, latency, mutations, pulled, joins }
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.latency
            .get_or_create(&RouteLabels { route: route.clone(), method: method.clone() })
            .observe(seconds);
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    }

    pub fn count_push(&self, applied: u64, rejected: u64, duplicates: u64) {
        for (outcome, count) in [("applied", applied), ("rejected", rejected), ("duplicate", duplicates)] {
            self.mutations.get_or_create(&OutcomeLabels { outcome }).inc_by(count);
        }
    }

    pub fn count_pulled(&self, changes: usize) {
        self.pulled.inc_by(u64::try_from(changes).unwrap_or(u64::MAX));
    }

    pub fn count_join(&self, joined: bool) {
        let outcome = if joined { "joined" } else { "refused" };
        self.joins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The metrics in the text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text() {
        let metrics = Metrics::new();
        metrics.observe_request("/v1/push", "POST", 200, 0.004);
        metrics.count_push(2, 1, 0);
        metrics.count_pulled(5);
        let text = metrics.encode();
        assert!(
            text.contains(r#"quartier_http_requests_total{route="/v1/push",method="POST",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"quartier_push_mutations_total{outcome="applied"} 2"#), "{text}");
        assert!(text.contains("quartier_pull_changes_total 5"), "{text}");
        assert!(text.contains("quartier_http_request_duration_seconds_bucket"), "{text}");
    }
}
