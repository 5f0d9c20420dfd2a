//! A webhook receiver on raw TCP, so it can misbehave the ways real consumers do: time out,
//! answer 500, reset the connection, answer slowly. Each event (webhook-id) walks a fixed cycle
//! from its own starting point, so every fault is exercised and no event fails forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How one request is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 200 at once.
    Ok,
    /// Holds the request longer than the endpoint's timeout, then closes.
    Timeout,
    /// HTTP 500.
    Error500,
    /// Closes with a TCP reset before answering.
    Reset,
    /// 200 after a delay shorter than the timeout.
    Slow,
}

/// What the receiver saw.
#[derive(Default)]
pub struct Log {
    /// Attempts per webhook-id.
    pub attempts: HashMap<String, usize>,
    /// webhook-ids answered with 2xx, with how many times.
    pub delivered: HashMap<String, usize>,
    /// Requests answered per mode.
    pub modes: HashMap<Mode, usize>,
}

/// The receiver.
#[derive(Clone)]
pub struct Flaky {
    pub base: String,
    pub log: Arc<Mutex<Log>>,
}

impl Flaky {
    /// Listens on 127.0.0.1; `cycle` is walked per event (every request answered `Ok` when
    /// empty). `hold` is how long [`Mode::Timeout`] holds a request, `slow` how long [`Mode::Slow`] waits.
    pub async fn start(cycle: Vec<Mode>, hold: Duration, slow: Duration) -> Flaky {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let log: Arc<Mutex<Log>> = Arc::default();
        let flaky = Flaky { base, log: log.clone() };
        let cycle = Arc::new(cycle);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, cycle) = (log.clone(), cycle.clone());
                tokio::spawn(async move { serve(stream, log, &cycle, hold, slow).await });
            }
        });
        flaky
    }

    /// Distinct events delivered (answered 2xx at least once).
    pub fn delivered(&self) -> std::collections::HashSet<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).delivered.keys().cloned().collect()
    }
}

/// Reads one request (headers and a Content-Length body); returns its webhook-id.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < header_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    header("webhook-id")
}

async fn serve(mut stream: TcpStream, log: Arc<Mutex<Log>>, cycle: &[Mode], hold: Duration, slow: Duration) {
    let Some(id) = read_request(&mut stream).await else { return };
    let mode = {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        let n = *l.attempts.entry(id.clone()).and_modify(|n| *n += 1).or_insert(1) - 1;
        // Each event starts somewhere else in the cycle, so all modes appear from the start.
        let start = id.bytes().map(usize::from).sum::<usize>();
        let mode = if cycle.is_empty() { Mode::Ok } else { cycle[(start + n) % cycle.len()] };
        *l.modes.entry(mode).or_default() += 1;
        mode
    };
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 50\r\n\r\n{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0}";
    match mode {
        Mode::Ok | Mode::Slow => {
            if mode == Mode::Slow {
                tokio::time::sleep(slow).await;
            }
            if stream.write_all(OK).await.is_ok() && stream.flush().await.is_ok() {
                let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                *l.delivered.entry(id).or_default() += 1;
            }
        }
        Mode::Timeout => tokio::time::sleep(hold).await,
        Mode::Error500 => {
            let _ = stream
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 4\r\n\r\nboom")
                .await;
        }
        Mode::Reset => {
            // SO_LINGER 0: close sends RST instead of FIN (a zero linger never blocks on drop).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
        }
    }
}
