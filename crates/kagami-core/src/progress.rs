//! How long-running stages report progress. The scanner calls these; the
//! terminal front end draws bars, tests and quiet runs pass [`NoProgress`].

/// A sink for progress of the phases of a scan. Implementations must be cheap:
/// `advance` is called once per DNS name during brute force.
pub trait Progress: Send + Sync {
    /// A phase starts; `total` is the amount of work when known.
    fn start(&self, phase: &str, total: Option<u64>);
    fn advance(&self, amount: u64);
    /// The current phase is done.
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _phase: &str, _total: Option<u64>) {}
    fn advance(&self, _amount: u64) {}
    fn finish(&self) {}
}
