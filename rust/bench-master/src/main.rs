//! `ark-bench-master`: a Mesos master for Ark's benchmarks that is never the
//! bottleneck. It speaks the v1 scheduler API (both encodings, HTTP/1.1 with
//! keep-alive and pipelining), streams pre-encoded events as fast as the
//! framework reads them, and keeps just enough books to check that the
//! framework answered correctly. Control endpoints under `/bench/` make it
//! send storms of updates and offers and report its counters.
//!
//! ```text
//! ark-bench-master --listen 127.0.0.1:0 [--heartbeat-seconds 15]
//! ```
//!
//! Prints `listening HOST:PORT` as its first line, then serves until it is
//! signalled (SIGTERM, SIGINT) or its standard input closes.

mod calls;
mod events;
mod http;
mod ledger;
mod master;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use master::Master;

const USAGE: &str = "usage: ark-bench-master --listen HOST:PORT [--heartbeat-seconds 15]";

fn main() {
    if let Err(why) = run() {
        eprintln!("ark-bench-master: {why}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut listen = None;
    let mut heartbeat_seconds = 15.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = Some(value()?),
            "--heartbeat-seconds" => {
                let text = value()?;
                heartbeat_seconds = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or(format!(
                        "--heartbeat-seconds {text:?} is not a positive number"
                    ))?;
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let listen = listen.ok_or("--listen is required")?;
    let listener =
        TcpListener::bind(&listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let master = Arc::new(Master::new(address, heartbeat_seconds));
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening {address}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }
    // The parent holds our stdin: when it goes away, so do we.
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let heartbeats = Arc::clone(&master);
    std::thread::spawn(move || heartbeats.heartbeats());
    // SIGTERM and SIGINT keep their default action: the process ends.
    for socket in listener.incoming().flatten() {
        let master = Arc::clone(&master);
        std::thread::spawn(move || master.serve(socket));
    }
    Ok(())
}
