//! `benches/pool.rs` with mimalloc as the global allocator (what karst-server may link).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

include!("pool.rs");
