//! Arbitrary argument vectors through the command table always yield exactly one well-formed
//! reply (or, for connection commands, none and a hand-back; for a blocking command with nothing
//! to pop, its timeout reply), in RESP2 and RESP3, and never panic.
#![no_main]

use bytes::Bytes;
use karst_resp::{Args, Output, Protocol, ReplyParser};
use karst_store::{Outcome, Session, Store, commands};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = Store::builder().shards(4).maxmemory(1 << 20).build();
    let mut session = Session::new();
    let table = commands();
    for (n, command) in data.split(|&b| b == 0xff).take(64).enumerate() {
        let mut args: Vec<Bytes> =
            command.split(|&b| b == 0xfe).map(Bytes::copy_from_slice).collect();
        // Mostly real command names, so the fuzzer explores their argument parsing.
        if let Some(first) = args.first_mut()
            && first.len() == 1
            && !table.is_empty()
        {
            *first = Bytes::from_static(table[usize::from(first[0]) % table.len()].name.as_bytes());
        }
        let protocol = if n % 2 == 0 { Protocol::Resp2 } else { Protocol::Resp3 };
        let mut out = Output::new(protocol);
        let outcome = store.dispatch(&mut session, Args::from_slice(&args), &mut out);
        if let Outcome::Blocked = outcome {
            // A blocking command that found nothing wrote nothing; its timeout reply (a null)
            // must then be one well-formed frame too.
            assert!(out.is_empty(), "{args:?}: blocked, yet replied");
            let ticket = session.take_blocked().expect("a blocked command leaves its ticket");
            out.raw().extend_from_slice(&ticket.time_out());
        }
        let bytes = out.take();
        match outcome {
            Outcome::Connection(_) => assert!(bytes.is_empty(), "handed back, yet replied"),
            Outcome::Rejected => assert!(bytes.starts_with(b"-"), "{args:?}: rejected, no error"),
            _ if args.is_empty() || args[0].is_empty() && bytes.is_empty() => {}
            _ => {
                let parsed = ReplyParser::default().parse_slice(&bytes);
                let Ok(Some((_, used))) = parsed else {
                    panic!("{:?}: reply is not one whole frame: {parsed:?}", args);
                };
                assert_eq!(used, bytes.len(), "{args:?}: more than one reply");
            }
        }
    }
});
