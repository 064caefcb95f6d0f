//! Cross-crate benchmarks and the comparison scripts against redis-server live in this package.
