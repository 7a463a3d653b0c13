//! The sans-IO client session (see issue: core session).
