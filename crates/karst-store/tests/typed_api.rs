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

#[test]
fn select_gives_typed_calls_and_execute_another_database() {
    let store = Store::builder().databases(4).build();
    let db2 = store.select(2).unwrap();
    assert_eq!((store.db(), db2.db()), (0, 2));
    assert!(matches!(store.select(4), Err(karst_store::Error::DbIndexOutOfRange)));

    store.set("k", "zero").unwrap();
    db2.set("k", "two").unwrap();
    db2.mset(&[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(db2.incr("a").unwrap(), 2);
    assert!(db2.expire_ms("b", 60_000).unwrap());
    assert!(db2.ttl_ms("b").unwrap() > 0);
    assert!(db2.persist("b"));

    assert_eq!(store.get("k").unwrap(), Some(Bytes::from("zero")));
    assert_eq!(db2.get("k").unwrap(), Some(Bytes::from("two")));
    assert_eq!(
        db2.mget(&["a", "b", "k"]),
        vec![Some("2".into()), Some("2".into()), Some("two".into())]
    );
    assert!(!store.exists("a") && db2.exists("a"));
    assert_eq!((store.dbsize(0), store.dbsize(2)), (1, 3));
    // execute starts in the handle's database.
    assert_eq!(db2.execute(["DBSIZE"]), karst_store::Frame::Integer(3));
    assert_eq!(store.execute(["DBSIZE"]), karst_store::Frame::Integer(1));
    assert_eq!(db2.del(&["a", "b", "k", "missing"]), 3);
    assert_eq!(store.get("k").unwrap(), Some(Bytes::from("zero")));
}
