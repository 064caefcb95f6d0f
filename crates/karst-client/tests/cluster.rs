//! Cluster mode against a real three-node Redis Cluster started here.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use karst_client::{Client, Config, Frame, Pipeline, key_slot};

/// Three primaries sharing the 16384 slots; the last node owns the temp dir.
fn start_cluster() -> Option<Vec<common::Server>> {
    if !common::have("redis-server") || !common::have("redis-cli") {
        eprintln!("SKIP: redis-server/redis-cli are not installed: no cluster test");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("karst-client-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut nodes = Vec::new();
    for i in 0..3 {
        let port = common::cluster_port();
        let child = Command::new("redis-server")
            .current_dir(&dir)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        common::wait_listening(port);
        nodes.push(common::Server { port, child, dir: (i == 2).then(|| dir.clone()) });
    }
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let status = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success(), "redis-cli --cluster create failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in &nodes {
        loop {
            let out = Command::new("redis-cli")
                .args(["-p", &n.port.to_string(), "cluster", "info"])
                .output()
                .expect("redis-cli runs");
            if String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(Instant::now() < deadline, "cluster did not reach cluster_state:ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Some(nodes)
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn cluster_routing_batches_and_redirections() {
    let Some(nodes) = start_cluster() else { return };
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let c = Client::connect_cluster(Config::new("127.0.0.1", ports[0]).connections(2), &[])
        .expect("loads the slot map");
    assert!(c.is_cluster());

    // Slots agree with the server's own CLUSTER KEYSLOT.
    for key in ["somekey", "foo{hash_tag}", "a", "chunk:17", "{user1000}.following"] {
        let server: u16 = cli(ports[0], &["cluster", "keyslot", key]).parse().expect("a slot");
        assert_eq!(key_slot(key.as_bytes()), server, "{key}");
    }

    // Single keys land on every node.
    let keys: Vec<String> = (0..200).map(|i| format!("k:{i}")).collect();
    let values: Vec<Vec<u8>> = (0..200).map(|i| common::pattern(100 + i * 13, i as u8)).collect();
    c.set("single", b"v").unwrap();
    assert_eq!(c.get("single").unwrap().as_deref(), Some(&b"v"[..]));

    // Batches spread over the three nodes and come back in order, misses as None.
    c.set_many(&keys[..150], &values[..150]).unwrap();
    let got = c.get_many(&keys).unwrap();
    for i in 0..200 {
        if i < 150 {
            assert!(got[i].as_deref() == Some(&values[i][..]), "key {i}");
        } else {
            assert!(got[i].is_none(), "key {i}");
        }
    }
    let counts: Vec<usize> =
        ports.iter().map(|p| cli(*p, &["dbsize"]).parse::<usize>().unwrap_or(0)).collect();
    assert!(counts.iter().all(|&n| n > 10), "keys per node: {counts:?}");
    let ex = c.exists_many(&keys).unwrap();
    assert!(ex.iter().enumerate().all(|(i, &e)| e == (i < 150)));
    let mut bufs: Vec<Vec<u8>> = (0..200).map(|_| vec![0u8; 4096]).collect();
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
    let lens = c.get_many_into(&keys, &mut refs).unwrap();
    for i in 0..200 {
        let l = *lens[i].as_ref().unwrap();
        assert_eq!(l, (i < 150).then(|| values[i].len()), "key {i}");
        if i < 150 {
            assert!(bufs[i][..values[i].len()] == values[i][..]);
        }
    }

    // Hash tags keep keys together.
    c.set("{tag}a", b"1").unwrap();
    c.set("{tag}b", b"2").unwrap();
    let mget = c.command(&["MGET", "{tag}a", "{tag}b"]).unwrap();
    assert_eq!(mget, Frame::Array(vec![Frame::bulk("1"), Frame::bulk("2")]));

    // A pipeline spanning nodes keeps its order.
    let mut p = Pipeline::new();
    for k in &keys[..10] {
        p.cmd(["STRLEN", k.as_str()]);
    }
    let r = c.pipeline(&p).unwrap();
    for i in 0..10 {
        assert_eq!(r[i], Frame::Integer(values[i].len() as i64));
    }

    // MOVED: move one slot to another node behind the client's back, with its key.
    let key = "moving-key";
    let slot = key_slot(key.as_bytes());
    c.set(key, b"before").unwrap();
    let owner = ports
        .iter()
        .copied()
        .find(|p| cli(*p, &["cluster", "countkeysinslot", &slot.to_string()]) == "1")
        .expect("the owner of the slot");
    let target = ports.iter().copied().find(|p| *p != owner).expect("another node");
    let target_id = cli(target, &["cluster", "myid"]);
    let owner_id = cli(owner, &["cluster", "myid"]);
    let s = slot.to_string();
    assert_eq!(cli(target, &["cluster", "setslot", &s, "importing", &owner_id]), "OK");
    assert_eq!(cli(owner, &["cluster", "setslot", &s, "migrating", &target_id]), "OK");

    // ASK: while migrating, a key already moved answers ASK from the owner.
    let ask_key = format!("{{{key}}}asked");
    c.set(&ask_key, b"asked").unwrap_or_else(|e| panic!("ASK set: {e}"));
    let target_t = target.to_string();
    let migrate =
        cli(owner, &["migrate", "127.0.0.1", &target_t, "", "0", "5000", "keys", key, &ask_key]);
    assert_eq!(migrate, "OK");
    // Now the owner answers ASK for both keys; the client follows with ASKING.
    assert_eq!(c.get(key).unwrap().as_deref(), Some(&b"before"[..]));
    assert_eq!(c.get_many(&[key, ask_key.as_str()]).unwrap()[1].as_deref(), Some(&b"asked"[..]));

    // Finish the migration: the owner now answers MOVED and the client refreshes its map.
    for p in &ports {
        assert_eq!(cli(*p, &["cluster", "setslot", &s, "node", &target_id]), "OK");
    }
    c.set(key, b"after").unwrap();
    assert_eq!(c.get(key).unwrap().as_deref(), Some(&b"after"[..]));
    assert_eq!(cli(target, &["get", key]), "after");
    let got = c.get_many(&keys).unwrap();
    assert!(got.iter().take(150).all(Option::is_some));

    assert!(c.del_many(&keys).unwrap().iter().take(150).all(|&d| d));
}
