//! flyt api (in progress).
