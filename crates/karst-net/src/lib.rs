//! karst-net: not built yet.
