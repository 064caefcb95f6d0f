//! Command families, one file each.

mod server;

use crate::command::CommandSpec;

/// Every command karst knows.
pub(crate) static TABLE: &[CommandSpec] = &[server::PING, server::ECHO];
