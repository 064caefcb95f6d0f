//! The list type (stub: replaced by the real encodings).

/// A list value.
#[derive(Clone, Debug, Default)]
pub(crate) struct List {}

impl List {
    /// The name OBJECT ENCODING replies with.
    pub(crate) fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Bytes of memory held, O(1).
    pub(crate) fn cost(&self) -> usize {
        0
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        0
    }
}
