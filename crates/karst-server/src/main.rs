//! karst-server: not built yet.
fn main() {
    eprintln!("karst-server is not built yet");
    std::process::exit(1);
}
