//! karst-store: not built yet.
