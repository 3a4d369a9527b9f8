//! Prometheus metrics.

use actix_web::http::Method;
use cohai_domain::LeadSource;
use cohai_domain::ports::PoolStats;
use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The process's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    leads_created: IntCounterVec,
    deliveries: IntCounterVec,
    outbox_pending: IntGauge,
    outbox_oldest_seconds: prometheus::Gauge,
}

/// Reads the connection pool's state when `/metrics` is scraped.
pub type PoolStatsSource = Arc<dyn Fn() -> PoolStats + Send + Sync>;

/// The pool's gauges and counters, read from the pool at each scrape: the pool keeps the
/// running totals, so nothing is copied into (and no scrape races on) counters of our own.
struct PoolCollector {
    stats: PoolStatsSource,
    descs: Vec<Desc>,
}

/// Name and help of each pool metric, in the order [`PoolCollector::collect`] emits them.
const POOL_METRICS: [(&str, &str); 6] = [
    ("cohai_db_pool_connections", "Open database connections"),
    (
        "cohai_db_pool_idle_connections",
        "Idle database connections",
    ),
    (
        "cohai_db_pool_max_connections",
        "Configured maximum of database connections",
    ),
    (
        "cohai_db_pool_checkouts_total",
        "Database connections checked out",
    ),
    (
        "cohai_db_pool_wait_seconds_total",
        "Time spent waiting for a database connection",
    ),
    (
        "cohai_db_pool_timeouts_total",
        "Requests that gave up waiting for a database connection",
    ),
];

impl PoolCollector {
    fn new(stats: PoolStatsSource) -> Result<Self, prometheus::Error> {
        let descs = POOL_METRICS
            .iter()
            .map(|(name, help)| {
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    vec![],
                    HashMap::new(),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { stats, descs })
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let pool = (self.stats)();
        let [connections, idle, max, checkouts, wait, timeouts] = POOL_METRICS;
        let gauge = |(name, help): (&str, &str), value: u32| {
            IntGauge::new(name, help).map(|g| {
                g.set(i64::from(value));
                g.collect()
            })
        };
        let counter = |(name, help): (&str, &str), value: u64| {
            IntCounter::new(name, help).map(|c| {
                c.inc_by(value);
                c.collect()
            })
        };
        let wait = Counter::new(wait.0, wait.1).map(|c| {
            c.inc_by(pool.wait_micros as f64 / 1e6);
            c.collect()
        });
        [
            gauge(connections, pool.connections),
            gauge(idle, pool.idle),
            gauge(max, pool.max_size),
            counter(checkouts, pool.checkouts),
            wait,
            counter(timeouts, pool.timeouts),
        ]
        .into_iter()
        .flat_map(|families| match families {
            Ok(families) => families,
            // The names and helps above are valid; a failure here is a bug to see in logs.
            Err(e) => {
                log::error!("cannot collect a pool metric: {e}");
                Vec::new()
            }
        })
        .collect()
    }
}

/// The metrics (and log) label for `method`: its name if it is a standard one (RFC 9110, and
/// PATCH), else `other` — a client may send any token, thousands of characters long.
pub fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// Latency buckets in seconds: sub-millisecond to a few seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    /// Registers every metric; `version` and `commit` go into `cohai_build_info`; `pool` is
    /// read at each scrape.
    pub fn new(
        version: &str,
        commit: &str,
        pool: PoolStatsSource,
    ) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method, route pattern and status",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )?;
        let leads_created = IntCounterVec::new(
            Opts::new("cohai_leads_created_total", "Leads created, by source"),
            &["source"],
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                "cohai_deliveries_total",
                "Notification delivery attempts by this instance, by channel and result",
            ),
            &["channel", "result"],
        )?;
        for channel in ["telegram", "webhook"] {
            for result in ["success", "failure"] {
                deliveries.with_label_values(&[channel, result]);
            }
        }
        let outbox_pending = IntGauge::new(
            "cohai_outbox_pending",
            "Outbox events not yet routed plus deliveries not yet made (the whole database)",
        )?;
        let outbox_oldest_seconds = prometheus::Gauge::new(
            "cohai_outbox_oldest_pending_seconds",
            "Age of the oldest event with a delivery still to make, seconds (0 when none)",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("cohai_build_info", "Build of the running server"),
            &["version", "commit"],
        )?;
        build_info.with_label_values(&[version, commit]).set(1);
        // Every known label value from the start, so `rate()` sees a series at 0 before the
        // first event.
        for source in LeadSource::ALL {
            leads_created.with_label_values(&[source.as_str()]);
        }
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(leads_created.clone()),
            Box::new(deliveries.clone()),
            Box::new(outbox_pending.clone()),
            Box::new(outbox_oldest_seconds.clone()),
            Box::new(PoolCollector::new(pool)?),
            Box::new(build_info),
        ] {
            registry.register(collector)?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            leads_created,
            deliveries,
            outbox_pending,
            outbox_oldest_seconds,
        })
    }

    /// Counts one notification delivery attempt.
    pub fn delivery_attempted(&self, channel: cohai_domain::outbox::Channel, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.deliveries
            .with_label_values(&[channel.as_str(), result])
            .inc();
    }

    /// Sets the outbox gauges from `stats`, read at `now` (the dispatcher does, every five seconds).
    pub fn outbox(
        &self,
        stats: cohai_domain::outbox::OutboxStats,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        self.outbox_pending.set(stats.pending);
        let age = stats.oldest_pending.map_or(0.0, |at| {
            (now - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.outbox_oldest_seconds.set(age);
    }

    /// Records one finished request. The method label is bounded ([`method_label`]); the
    /// route is a pattern (or `unmatched`), so ids and made-up paths never become labels.
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Counts a created lead (`source` is a [`LeadSource`] wire name).
    pub fn lead_created(&self, source: &str) {
        self.leads_created.with_label_values(&[source]).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        // The text encoder writes UTF-8 only (names are ASCII, label values are &str).
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn value(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn pool_metrics_are_the_pools_totals_however_many_scrape_at_once() {
        let checkouts = Arc::new(AtomicU64::new(5));
        let source: PoolStatsSource = {
            let checkouts = Arc::clone(&checkouts);
            Arc::new(move || PoolStats {
                connections: 3,
                idle: 1,
                max_size: 8,
                checkouts: checkouts.load(Ordering::SeqCst),
                wait_micros: 1_500_000,
                timeouts: 2,
            })
        };
        let metrics = Metrics::new("1", "abc", source).expect("metrics");
        let scrapes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| metrics.render().expect("render")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for text in &scrapes {
            assert_eq!(
                value(text, "cohai_db_pool_checkouts_total"),
                Some(5.0),
                "{text}"
            );
            assert_eq!(value(text, "cohai_db_pool_wait_seconds_total"), Some(1.5));
            assert_eq!(value(text, "cohai_db_pool_timeouts_total"), Some(2.0));
            assert_eq!(value(text, "cohai_db_pool_connections"), Some(3.0));
            assert_eq!(value(text, "cohai_db_pool_max_connections"), Some(8.0));
        }
        checkouts.store(9, Ordering::SeqCst);
        let text = metrics.render().expect("render");
        assert_eq!(value(&text, "cohai_db_pool_checkouts_total"), Some(9.0));
    }

    #[test]
    fn unknown_methods_share_the_other_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").expect("token");
        assert_eq!(method_label(&odd), "other");
    }
}
