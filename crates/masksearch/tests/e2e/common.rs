//! Shared by the end-to-end tests: run the real binary, start real servers on free ports.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use assert_cmd::cargo::CommandCargoExt;
use fantoccini::{Client, ClientBuilder, Locator};

/// A path in the repository, relative to its root.
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The repository's `testdata/` folder.
pub fn testdata(name: &str) -> PathBuf {
    repo("testdata").join(name)
}

/// A file fetched by `scripts/setup.sh` into `assets/`; fails with a hint when missing.
pub fn asset(rel: &str) -> PathBuf {
    let path = repo("assets").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run `make setup` (scripts/setup.sh) first",
        path.display()
    );
    path
}

/// The small local GGUF model `scripts/setup.sh` fetches; fails with a hint when missing.
pub fn model() -> PathBuf {
    asset("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The `masksearch` binary under test, with logging at its default level and the local model
/// on one thread per worker (`MASKSEARCH_THREADS`, inherited by the servers it starts): the
/// harness runs two tests at once, and llama.cpp's threads spin at barriers, so more threads
/// than cores crawl (two 2-thread models on 2 cores: 15× slower).
pub fn masksearch() -> Command {
    let mut cmd = Command::cargo_bin("masksearch").expect("binary built by cargo test");
    cmd.env_remove("MASKSEARCH_LOG");
    cmd.env("MASKSEARCH_THREADS", "1");
    cmd
}

/// Runs the binary; returns (stdout, stderr) and panics with both if it fails.
pub fn run_ok(args: &[&std::ffi::OsStr]) -> (String, String) {
    let out = masksearch().args(args).output().expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "masksearch {args:?} failed: {stderr}\nstdout: {stdout}"
    );
    (stdout, stderr)
}

/// `ingest` then `index` a corpus file into `dir`; returns the index directory.
pub fn build_index(input: &Path, dir: &Path) -> PathBuf {
    let passages = dir.join("passages.jsonl");
    let index = dir.join("index");
    run_ok(&[
        "ingest".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        passages.as_os_str(),
    ]);
    run_ok(&[
        "index".as_ref(),
        "--passages".as_ref(),
        passages.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
    ]);
    index
}

/// [`build_index`] over a corpus file, then `ramp` over the passages it ingested; returns the
/// index directory and the samples file (`dir/ramp-all.jsonl`).
pub fn index_and_samples(input: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let index = build_index(input, dir);
    let samples = dir.join("ramp-all.jsonl");
    run_ok(&[
        "ramp".as_ref(),
        "--passages".as_ref(),
        dir.join("passages.jsonl").as_os_str(),
        "--out".as_ref(),
        samples.as_os_str(),
    ]);
    (index, samples)
}

/// The first `n` lines of `from`, written to `to`.
pub fn head(from: &Path, to: &Path, n: usize) -> PathBuf {
    let text = fs::read_to_string(from).expect("input");
    let lines: Vec<&str> = text.lines().take(n).collect();
    fs::write(to, lines.join("\n") + "\n").expect("write");
    to.to_path_buf()
}

/// A server started from the real binary on port 0; killed on drop.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Served {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `masksearch <args> --port 0` and waits for its `listening on` line.
    pub fn start(args: &[&std::ffi::OsStr]) -> Served {
        let mut cmd = masksearch();
        cmd.args(args);
        Served::spawn(cmd)
    }

    /// Starts `cmd` (the binary with its arguments) with `--port 0` and waits for its
    /// `listening on` line.
    pub fn spawn(mut cmd: Command) -> Served {
        let mut child = cmd
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read stdout");
        let Some(url) = first.trim().strip_prefix("listening on ") else {
            let mut stderr = String::new();
            let _ = child
                .stderr
                .take()
                .expect("piped stderr")
                .read_to_string(&mut stderr);
            panic!("server did not start: stdout {first:?}, stderr {stderr}");
        };
        Served {
            url: url.to_string(),
            child,
        }
    }

    /// Starts `masksearch llm serve` on the local [`model`] (2,048-token context).
    pub fn llm() -> Served {
        let model = model();
        Served::start(&[
            "llm".as_ref(),
            "serve".as_ref(),
            "--context-size".as_ref(),
            "2048".as_ref(),
            "--model".as_ref(),
            model.as_os_str(),
        ])
    }

    /// The next line the server wrote to stderr.
    pub fn stderr_line(&mut self) -> String {
        let stderr = self.child.stderr.as_mut().expect("piped stderr");
        let mut line = String::new();
        BufReader::new(stderr)
            .read_line(&mut line)
            .expect("read stderr");
        line
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.url)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir` and its subfolders but staged `*.partial` ones: path relative to
/// `dir` → bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "partial") {
                let bytes = fs::read(&path).expect("readable file");
                let name = path.strip_prefix(dir).expect("under dir").to_path_buf();
                files.insert(name, bytes);
            }
        }
    }
    files
}

/// Runs `cmd`, which reads its input from the named pipe `fifo` (made here), feeds it `input`
/// and holds the pipe open, so the command is still reading when `ready` (a staged file
/// appeared, N records were written) holds; then kills it with SIGKILL. No clock decides when
/// the kill lands.
#[cfg(unix)]
pub fn kill_while_reading(mut cmd: Command, fifo: &Path, input: &[u8], ready: impl Fn() -> bool) {
    let _ = fs::remove_file(fifo);
    let made = Command::new("mkfifo")
        .arg(fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    // Opening the write end waits for the command to open the read end.
    let mut pipe = fs::OpenOptions::new().write(true).open(fifo).expect("fifo");
    pipe.write_all(input)
        .and_then(|()| pipe.flush())
        .expect("feed the command");
    let waited = Instant::now();
    while !ready() {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "{cmd:?} never got ready to be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        child.try_wait().expect("status").is_none(),
        "the command must still be reading its input"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    drop(pipe);
}
/// Headless Chromium behind chromedriver on a free port; both stop on drop.
pub struct Browser {
    driver: Child,
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is missing: run `make setup` (scripts/setup.sh installs it)");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1400", "--hide-scrollbars", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                format!("--user-data-dir={}", profile.path().display()),
            ]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        driver,
                        client,
                        _profile: profile,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer: {last:?}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    pub async fn click(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await;
        element
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await;
        element
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.expect("find") {
            out.push(e.text().await.expect("text"));
        }
        out
    }

    /// Waits up to `secs` for `css` to match; its elements' texts.
    pub async fn wait_for(&self, css: &str, secs: u64) -> Vec<String> {
        self.client
            .wait()
            .at_most(Duration::from_secs(secs))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
        self.texts(css).await
    }

    /// Keeps a screenshot of the page as target/tmp/ui-NAME.png (a test artefact).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ui-{name}.png"));
        fs::write(&path, png).expect("write screenshot");
        path
    }

    pub async fn stop(self) {
        let _ = self.client.close().await;
        let mut driver = self.driver;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

/// The project's virtualenv Python (`scripts/setup.sh` makes it: pyarrow, LLaMA-Factory's data
/// code, faiss-cpu, ray) run with `args`: its stdout; panics with its output when it fails.
pub fn venv_python(args: &[&std::ffi::OsStr]) -> String {
    let python = repo(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (scripts/setup.sh makes .venv)",
        python.display()
    );
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "python {args:?}: {stderr}{stdout}");
    stdout
}
