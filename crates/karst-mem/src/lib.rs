//! karst-mem: not built yet.
