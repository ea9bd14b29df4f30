//! Flux semantics: kinds, references, readiness (pure, unit-tested).
