//! The client against a scripted fake server: replies no real server sends on demand (pushes,
//! attributes, garbage, a connection closed mid-value).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use karst_client::{Client, Config, Error, Frame};

/// Serves one connection: answers the connect-time PING, then, for each later request (one
/// read), writes the next scripted reply; closes right after the last one.
fn fake(script: Vec<Vec<u8>>) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let _ = s.read(&mut buf);
        s.write_all(b"+PONG\r\n").unwrap();
        for reply in script {
            if s.read(&mut buf).unwrap_or(0) == 0 {
                return;
            }
            s.write_all(&reply).unwrap();
        }
    });
    (port, h)
}

fn client(port: u16) -> Client {
    Client::connect(Config::new("127.0.0.1", port).connections(1)).unwrap()
}

#[test]
fn pushes_are_skipped_and_attributes_unwrapped() {
    let (port, h) = fake(vec![
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n$5\r\nhello\r\n".to_vec(),
        b"|1\r\n+ttl\r\n:10\r\n$3\r\nabc\r\n".to_vec(),
        b">1\r\n+x\r\n_\r\n".to_vec(),
        b"|1\r\n+a\r\n:1\r\n$3\r\nabc\r\n".to_vec(),
        b">1\r\n+x\r\n:7\r\n".to_vec(),
    ]);
    let c = client(port);
    let mut buf = [0u8; 8];
    assert_eq!(c.get_into("k", &mut buf).unwrap(), Some(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(c.get("k").unwrap().as_deref(), Some(&b"abc"[..]));
    assert_eq!(c.get("k").unwrap(), None);
    let mut small = [0u8; 2];
    assert!(matches!(
        c.get_into("k", &mut small),
        Err(Error::BufferTooSmall { needed: 3, capacity: 2 })
    ));
    assert_eq!(c.command(&["INCR", "n"]).unwrap(), Frame::Integer(7));
    drop(c);
    h.join().unwrap();
}

#[test]
fn garbage_is_a_protocol_error_and_the_connection_is_dropped() {
    let (port, h) = fake(vec![b"?what\r\n".to_vec()]);
    let c = client(port);
    assert!(matches!(c.get("k"), Err(Error::Protocol(_))));
    h.join().unwrap();
    // The broken connection is gone; a new one is tried (and refused: the fake is closed).
    assert!(matches!(c.get("k"), Err(Error::Io(_))));
}

#[test]
fn a_wrong_reply_type_is_unexpected() {
    let (port, h) = fake(vec![b":1\r\n".to_vec(), b"$2\r\nok\r\n".to_vec()]);
    let c = client(port);
    assert!(matches!(c.get("k"), Err(Error::UnexpectedReply(_))));
    h.join().unwrap();
}

#[test]
fn a_connection_closed_mid_value_is_an_io_error() {
    let (port, h) = fake(vec![b"$100\r\nonly-a-few-bytes".to_vec()]);
    let c = client(port);
    let mut buf = [0u8; 200];
    match c.get_into("k", &mut buf) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
    h.join().unwrap();
}

#[test]
fn a_missing_crlf_after_a_payload_is_a_protocol_error() {
    let (port, h) = fake(vec![b"$3\r\nabcXY".to_vec()]);
    let c = client(port);
    let mut buf = [0u8; 8];
    assert!(matches!(c.get_into("k", &mut buf), Err(Error::Protocol(_))));
    h.join().unwrap();
}

#[test]
fn huge_announced_lengths_are_refused_without_allocating() {
    let (port, h) = fake(vec![b"$99999999999999\r\n".to_vec()]);
    let c = client(port);
    assert!(matches!(c.get("k"), Err(Error::Protocol(_))));
    h.join().unwrap();
}
