//! Start and end events (none events only, for now).

/// A plain start event: where a new instance's token starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartEvent {}

/// A plain end event: a token that arrives is consumed; when none is left the process ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndEvent {}
