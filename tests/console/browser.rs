//! Headless Chromium driven over WebDriver: chromedriver started on a free port for each test,
//! in its own process group so the browsers it starts go with it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(20);

fn on_path(names: &[&str]) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|n| path.split(':').map(|d| format!("{d}/{n}")).find(|p| std::path::Path::new(p).is_file()))
}

/// A running chromedriver; dropping it stops it and the browsers it started.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the Chromium processes it started.
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// A browser session and the chromedriver serving it.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; fails (never skips) when either is missing.
    pub async fn start() -> Browser {
        let driver_bin =
            std::env::var("CHROMEDRIVER").ok().or_else(|| on_path(&["chromedriver"])).unwrap_or_else(|| {
                panic!(
                    "chromedriver not found: the console browser tests need Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver; .ci/run installs them), or set CHROMEDRIVER"
                )
            });
        let chrome = std::env::var("CHROMIUM")
            .ok()
            .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))
            .unwrap_or_else(|| {
                panic!(
                    "chromium not found: the console browser tests need Debian's chromium and chromium-driver \
                     (apt-get install -y chromium chromium-driver; .ci/run installs them), or set CHROMIUM"
                )
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Driver(
            Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}")),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "{driver_bin} did not answer on port {port} within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chrome,
                // Root in a container: no sandbox; /dev/shm is often tiny there.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session through chromedriver: {e}"));
        Browser { client, _driver: driver }
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!(
                    "no element {css:?} on {} within {PATIENCE:?}: {e}\n{}",
                    self.url().await,
                    self.body_text().await
                ),
            }
        }
    }

    /// Replaces the value of the input matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap_or_else(|err| panic!("clear {css}: {err}"));
        e.send_keys(text).await.unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// The whole page's visible text.
    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default()
    }

    /// Waits until the text of `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let t = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css:?} on {} never showed {what} within {PATIENCE:?}; last text {t:?}\npage:\n{}",
                self.url().await,
                self.body_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Saves a screenshot to `docs/<name>` when `IMRECEIPTS_SCREENSHOTS` is set (the README's
    /// pictures are made this way).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("IMRECEIPTS_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        let path = format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }

    /// Ends the browser session (then chromedriver).
    pub async fn close(self) {
        let Browser { client, _driver } = self;
        let _ = client.close().await;
    }
}
