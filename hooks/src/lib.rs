//! flyt hooks (in progress).
