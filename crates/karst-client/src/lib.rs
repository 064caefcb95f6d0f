//! karst-client: not built yet.
