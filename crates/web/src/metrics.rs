//! Prometheus metrics.

use actix_web::http::Method;
use cohai_domain::LeadSource;
use cohai_domain::ports::PoolStats;
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
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    pool_checkouts: IntCounter,
    pool_wait: Counter,
    pool_timeouts: IntCounter,
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
    /// Registers every metric; `version` and `commit` go into `cohai_build_info`.
    pub fn new(version: &str, commit: &str) -> Result<Self, prometheus::Error> {
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
        let pool_connections =
            IntGauge::new("cohai_db_pool_connections", "Open database connections")?;
        let pool_idle = IntGauge::new(
            "cohai_db_pool_idle_connections",
            "Idle database connections",
        )?;
        let pool_max = IntGauge::new(
            "cohai_db_pool_max_connections",
            "Configured maximum of database connections",
        )?;
        let pool_checkouts = IntCounter::new(
            "cohai_db_pool_checkouts_total",
            "Database connections checked out",
        )?;
        let pool_wait = Counter::new(
            "cohai_db_pool_wait_seconds_total",
            "Time spent waiting for a database connection",
        )?;
        let pool_timeouts = IntCounter::new(
            "cohai_db_pool_timeouts_total",
            "Requests that gave up waiting for a database connection",
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
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(pool_checkouts.clone()),
            Box::new(pool_wait.clone()),
            Box::new(pool_timeouts.clone()),
            Box::new(build_info),
        ] {
            registry.register(collector)?;
        }
        Ok(Self {
            pool_checkouts,
            pool_wait,
            pool_timeouts,
            registry,
            requests,
            latency,
            leads_created,
            pool_connections,
            pool_idle,
            pool_max,
        })
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

    /// The text exposition, with the pool gauges read now.
    pub fn render(&self, pool: PoolStats) -> String {
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max_size));
        // The pool keeps running totals; counters only move forward, by the difference.
        self.pool_checkouts
            .inc_by(pool.checkouts.saturating_sub(self.pool_checkouts.get()));
        self.pool_timeouts
            .inc_by(pool.timeouts.saturating_sub(self.pool_timeouts.get()));
        let wait = pool.wait_micros as f64 / 1e6;
        if wait > self.pool_wait.get() {
            self.pool_wait.inc_by(wait - self.pool_wait.get());
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::error!("cannot encode metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
