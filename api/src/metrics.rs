//! HTTP request counters for `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests by status class, and their total latency.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    by_class: [AtomicU64; 6],
    micros: AtomicU64,
}

impl HttpMetrics {
    pub fn record(&self, status: u16, elapsed: std::time::Duration) {
        let class = usize::from(status / 100).min(5);
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP flyt_http_requests_total HTTP requests by status class.\n# TYPE flyt_http_requests_total counter"
        );
        for (class, count) in self.by_class.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                "flyt_http_requests_total{{status=\"{class}xx\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP flyt_http_request_seconds_total Time spent serving requests.\n# TYPE flyt_http_request_seconds_total counter\nflyt_http_request_seconds_total {:.6}",
            self.micros.load(Ordering::Relaxed) as f64 / 1e6
        );
    }
}
