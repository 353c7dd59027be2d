//! Limits that keep hostile or broken input cheap to refuse.

/// Bounds applied while reading a BPMN file. Every limit has a safe default; a file that
/// exceeds one is refused with a `limit-exceeded` diagnostic naming the limit and where it was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted file, in bytes. Default 5 MiB.
    pub max_bytes: usize,
    /// Deepest element nesting. Default 64 (real BPMN files nest about 10 deep).
    pub max_depth: usize,
    /// Most elements in one file, counting diagram elements. Default 250,000.
    pub max_elements: usize,
    /// Most attributes on one element. Default 256.
    pub max_attributes: usize,
    /// Longest attribute value, in bytes. Default 64 KiB.
    pub max_attribute_len: usize,
    /// Longest text content of one element, in bytes. Default 1 MiB.
    pub max_text_len: usize,
    /// Most diagnostics reported for one file (errors first); the rest are counted, not listed.
    /// Default 200.
    pub max_diagnostics: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 5 * 1024 * 1024,
            max_depth: 64,
            max_elements: 250_000,
            max_attributes: 256,
            max_attribute_len: 64 * 1024,
            max_text_len: 1024 * 1024,
            max_diagnostics: 200,
        }
    }
}

impl Limits {
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    pub fn with_max_diagnostics(mut self, max_diagnostics: usize) -> Self {
        self.max_diagnostics = max_diagnostics.max(1);
        self
    }

    pub fn with_max_elements(mut self, max_elements: usize) -> Self {
        self.max_elements = max_elements;
        self
    }
}
