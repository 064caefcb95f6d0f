//! A sequence of string and key operations on the store matches a `HashMap` model, reply by reply.
#![no_main]

use std::collections::HashMap;

use karst_resp::Frame;
use karst_store::Store;
use libfuzzer_sys::fuzz_target;

fn int(v: &[u8]) -> Option<i64> {
    karst_resp::num::parse_i64(v)
}

fuzz_target!(|data: &[u8]| {
    let store = Store::builder().shards(2).build();
    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for op in data.chunks(3) {
        let [code, k, v] = match op {
            [a, b, c] => [*a, *b, *c],
            _ => return,
        };
        let key = vec![b'k', k % 8];
        let value = match v % 4 {
            0 => v.to_string().into_bytes(),
            1 => vec![b'x'; usize::from(v) * 3],
            2 => format!("-{v}").into_bytes(),
            _ => vec![v],
        };
        let (args, want): (Vec<Vec<u8>>, Frame) = match code % 8 {
            0 => {
                model.insert(key.clone(), value.clone());
                (vec![b"SET".to_vec(), key, value], Frame::simple("OK"))
            }
            1 => {
                let want = model.get(&key).map_or(Frame::Null, Frame::bulk);
                (vec![b"GET".to_vec(), key], want)
            }
            2 => {
                let n = i64::from(model.remove(&key).is_some());
                (vec![b"DEL".to_vec(), key], Frame::Integer(n))
            }
            3 => {
                let entry = model.entry(key.clone()).or_default();
                entry.extend_from_slice(&value);
                let n = entry.len() as i64;
                (vec![b"APPEND".to_vec(), key, value], Frame::Integer(n))
            }
            4 => {
                let current = model.get(&key).map_or(Some(0), |v| int(v));
                let want = match current.and_then(|n| n.checked_add(1)) {
                    Some(n) => {
                        model.insert(key.clone(), n.to_string().into_bytes());
                        Frame::Integer(n)
                    }
                    None if current.is_none() => {
                        Frame::Error("ERR value is not an integer or out of range".into())
                    }
                    None => Frame::Error("ERR increment or decrement would overflow".into()),
                };
                (vec![b"INCR".to_vec(), key], want)
            }
            5 => {
                let n = model.get(&key).map_or(0, Vec::len) as i64;
                (vec![b"STRLEN".to_vec(), key], Frame::Integer(n))
            }
            6 => {
                let want = model.remove(&key).map_or(Frame::Null, Frame::bulk);
                (vec![b"GETDEL".to_vec(), key], want)
            }
            _ => {
                let n = i64::from(model.contains_key(&key));
                (vec![b"EXISTS".to_vec(), key], Frame::Integer(n))
            }
        };
        let got = store.execute(&args);
        assert_eq!(
            got,
            want,
            "{:?}",
            args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()
        );
    }
    assert_eq!(store.dbsize(0), model.len());
});
