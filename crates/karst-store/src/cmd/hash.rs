//! Hash commands.

use crate::command::CommandSpec;

pub(crate) static COMMANDS: &[CommandSpec] = &[];
