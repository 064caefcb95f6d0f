//! The typed embedded API's zero-copy read.

use bytes::Bytes;
use karst_store::Store;

#[test]
fn get_with_reads_every_kind_of_value_in_place() {
    let store = Store::new();
    store.set("small", "hello").unwrap();
    store.set("number", "12345").unwrap();
    let large = Bytes::from(vec![b'x'; 100_000]);
    store.set("large", large.clone()).unwrap();

    assert_eq!(store.get_with("small", <[u8]>::to_vec).unwrap(), Some(b"hello".to_vec()));
    // Integers are stored as i64 and rendered for the reader.
    assert_eq!(store.get_with("number", <[u8]>::to_vec).unwrap(), Some(b"12345".to_vec()));
    // A large value is the stored buffer itself.
    assert_eq!(store.get_with("large", |v| v.as_ptr()).unwrap(), Some(large.as_ptr()));
    assert_eq!(store.get_with("missing", |v| v.len()).unwrap(), None);
    // Reads agree with the copying GET.
    for key in ["small", "number", "large"] {
        let copied = store.get(key).unwrap().unwrap();
        assert_eq!(store.get_with(key, |v| v == &copied[..]).unwrap(), Some(true));
    }
}
