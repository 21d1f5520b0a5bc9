//! Where a round's student comes from: an OpenAI-compatible endpoint the user runs, or a
//! command that trains on the merged data of the rounds before and serves the result.
//!
//! The command's contract: it runs through `sh -c` in its own process group with the
//! placeholders `{round}`, `{data}` (the merged trajectories of the rounds before), `{out}` (the
//! round's folder), `{port}` (a free local port) and `{model}` (the student's model name)
//! replaced; once the model is served it prints `listening on URL` on stdout (as `masksearch
//! llm serve` does), URL being the server's root or its OpenAI base URL (`…/v1`). Everything
//! it prints goes to `train.log` in the round's folder. When the round ends its whole process
//! group is stopped (SIGTERM, then SIGKILL after a grace period).

use std::{
    fs::{File, OpenOptions},
    io::{BufRead as _, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::AgentError;

/// How long a stopped training command may take to exit before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// The student of rounds after the first.
#[derive(Debug, Clone, PartialEq)]
pub enum StudentSource {
    /// None given: only round 0 can run.
    None,
    /// An OpenAI-compatible endpoint; `{round}` in the URL and the model name is replaced by
    /// the round number.
    Endpoint { base_url: String, model: String },
    /// A command template that trains and serves the student (see the module docs).
    Command { template: String, model: String },
}

/// Where a round's student answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The OpenAI base URL (`…/v1`).
    pub base_url: String,
    pub model: String,
}

/// A student being served for one round: stops its training command when dropped.
#[derive(Debug)]
pub struct Student {
    pub endpoint: Endpoint,
    _server: Option<Server>,
}

impl StudentSource {
    /// What the manifest records: the model and the command, not an endpoint's address (a
    /// server may move between a run and its resume).
    pub(crate) fn describe(&self) -> Value {
        match self {
            StudentSource::None => Value::Null,
            StudentSource::Endpoint { model, .. } => json!({ "model": model }),
            StudentSource::Command { template, model } => {
                json!({ "model": model, "command": template })
            }
        }
    }

    /// Starts round `round`'s student, trained on `data`, with `dir` as the round's folder.
    pub(crate) async fn start(
        &self,
        round: u32,
        data: &Path,
        dir: &Path,
    ) -> Result<Student, AgentError> {
        let expand_round = |s: &str| s.replace("{round}", &round.to_string());
        match self {
            StudentSource::None => Err(AgentError::NoStudent { round }),
            StudentSource::Endpoint { base_url, model } => Ok(Student {
                endpoint: Endpoint {
                    base_url: expand_round(base_url),
                    model: expand_round(model),
                },
                _server: None,
            }),
            StudentSource::Command { template, model } => {
                let model = expand_round(model);
                let (server, base_url) = Server::start(template, round, data, dir, &model).await?;
                Ok(Student {
                    endpoint: Endpoint { base_url, model },
                    _server: Some(server),
                })
            }
        }
    }
}

/// The command template with its placeholders replaced; paths are shell-quoted.
pub fn expand(
    template: &str,
    round: u32,
    data: &Path,
    out: &Path,
    port: u16,
    model: &str,
) -> String {
    template
        .replace("{round}", &round.to_string())
        .replace("{data}", &shell_quote(&data.display().to_string()))
        .replace("{out}", &shell_quote(&out.display().to_string()))
        .replace("{port}", &port.to_string())
        .replace("{model}", &shell_quote(model))
}

/// `s` as one shell word (unchanged when it needs no quoting).
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The OpenAI base URL of an announced address: `/v1` added to a bare server root.
fn base_url(announced: &str) -> String {
    let url = announced.trim().trim_end_matches('/');
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split_once('/')
        .map_or("", |(_, path)| path);
    if path.is_empty() {
        format!("{url}/v1")
    } else {
        url.to_string()
    }
}

/// A running training command (its process group).
#[derive(Debug)]
struct Server {
    child: Child,
}

impl Server {
    /// Runs the command and waits until it announces its address.
    async fn start(
        template: &str,
        round: u32,
        data: &Path,
        dir: &Path,
        model: &str,
    ) -> Result<(Server, String), AgentError> {
        let log = dir.join("train.log");
        let failed = |message: String| AgentError::TrainCommand {
            round,
            message,
            log: log.clone(),
        };
        let port = free_port().map_err(|e| failed(format!("has no free port: {e}")))?;
        let command = expand(template, round, data, dir, port, model);
        let open_log = || OpenOptions::new().create(true).append(true).open(&log);
        let mut header = open_log().map_err(|e| failed(format!("cannot log: {e}")))?;
        let _ = writeln!(header, "$ {command}");
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(header));
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut shell, 0);
        let mut child = shell
            .spawn()
            .map_err(|e| failed(format!("did not start: {e}")))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let log_file = open_log().map_err(|e| failed(format!("cannot log: {e}")))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || announce(stdout, log_file, tx));
        let mut server = Server { child };
        match rx.await {
            Ok(announced) => {
                let record = json!({
                    "command": command,
                    "process_group": server.child.id(),
                    "base_url": base_url(&announced),
                    "model": model,
                });
                let path = record_path(dir);
                std::fs::write(&path, format!("{record:#}\n"))
                    .map_err(|error| AgentError::io(&path, error))?;
                Ok((server, base_url(&announced)))
            }
            Err(_) => {
                let status = server.stop();
                Err(failed(format!(
                    "ended ({status}) without printing `listening on URL`"
                )))
            }
        }
    }

    /// Stops the process group; returns how the command ended.
    fn stop(&mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.kill_group(true);
            return status.to_string();
        }
        self.kill_group(false);
        let asked = Instant::now();
        while asked.elapsed() < GRACE {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.kill_group(true);
                return status.to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill_group(true);
        self.child
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string())
    }

    /// Signals the whole group (what the shell started too): SIGKILL when `hard`, else SIGTERM.
    #[cfg(unix)]
    fn kill_group(&mut self, hard: bool) {
        use rustix::process::{Pid, Signal, kill_process_group};
        let signal = if hard { Signal::KILL } else { Signal::TERM };
        // The group may be gone already; nothing is left to stop then.
        let _ = kill_process_group(Pid::from_child(&self.child), signal);
    }

    #[cfg(not(unix))]
    fn kill_group(&mut self, _hard: bool) {
        let _ = self.child.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies the command's stdout to its log and sends the first `listening on` address.
fn announce(
    stdout: std::process::ChildStdout,
    mut log: File,
    tx: tokio::sync::oneshot::Sender<String>,
) {
    let mut tx = Some(tx);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if let Some(url) = line.trim().strip_prefix("listening on ")
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(url.to_string());
        }
    }
}

/// A local port nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where a round's student record is (written once the command announced its address).
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join("student.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_paths_quoted() {
        let got = expand(
            "train {data} --out {out}/ckpt && serve --port {port} --name {model} # round {round}",
            2,
            Path::new("/r/round-1/merged.jsonl"),
            Path::new("/my runs/round-2"),
            8123,
            "student",
        );
        assert_eq!(
            got,
            "train /r/round-1/merged.jsonl --out '/my runs/round-2'/ckpt && serve --port 8123 --name student # round 2"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn an_announced_root_gets_the_openai_path() {
        for (announced, want) in [
            ("http://127.0.0.1:8001", "http://127.0.0.1:8001/v1"),
            ("http://127.0.0.1:8001/", "http://127.0.0.1:8001/v1"),
            ("http://h:1/v1", "http://h:1/v1"),
            ("https://h/api/v1/ ", "https://h/api/v1"),
        ] {
            assert_eq!(base_url(announced), want, "{announced}");
        }
    }

    #[tokio::test]
    async fn a_command_announces_its_address_and_is_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let source = StudentSource::Command {
            // A child of the shell that would outlive it, were the group not stopped.
            template: "echo training on {data}; sleep 30 & echo $! > {out}/child.pid; \
                       echo 'listening on http://127.0.0.1:{port}'; wait"
                .into(),
            model: "student-{round}".into(),
        };
        let student = source
            .start(3, Path::new("merged.jsonl"), dir.path())
            .await
            .unwrap();
        assert!(student.endpoint.base_url.starts_with("http://127.0.0.1:"));
        assert!(student.endpoint.base_url.ends_with("/v1"));
        assert_eq!(student.endpoint.model, "student-3");
        let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
        let alive = || Path::new(&format!("/proc/{}", pid.trim())).exists();
        assert!(alive());
        drop(student);
        // Reaped by init once killed; /proc may show it briefly as a zombie.
        let waited = Instant::now();
        while alive() && waited.elapsed() < Duration::from_secs(5) {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
            if stat.is_ok_and(|s| s.contains(") Z ")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        assert!(
            stat.is_err() || stat.is_ok_and(|s| s.contains(") Z ")),
            "the child lives on"
        );
        let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
        assert!(log.contains("training on merged.jsonl"), "{log}");
        let record: Value =
            serde_json::from_slice(&std::fs::read(record_path(dir.path())).unwrap()).unwrap();
        assert_eq!(record["model"], "student-3");
    }

    #[tokio::test]
    async fn a_command_that_ends_without_an_address_is_an_error_naming_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let source = StudentSource::Command {
            template: "echo 'out of memory' >&2; exit 3".into(),
            model: "m".into(),
        };
        let err = source
            .start(1, Path::new("d.jsonl"), dir.path())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("round 1") && err.contains("exit status: 3"),
            "{err}"
        );
        assert!(err.contains("train.log"), "{err}");
        let log = std::fs::read_to_string(dir.path().join("train.log")).unwrap();
        assert!(log.contains("out of memory"), "{log}");
    }

    #[tokio::test]
    async fn an_endpoint_is_named_per_round() {
        let source = StudentSource::Endpoint {
            base_url: "http://gpu{round}:8000/v1".into(),
            model: "ckpt-{round}".into(),
        };
        let student = source
            .start(2, Path::new("x"), Path::new("y"))
            .await
            .unwrap();
        assert_eq!(
            student.endpoint,
            Endpoint {
                base_url: "http://gpu2:8000/v1".into(),
                model: "ckpt-2".into()
            }
        );
        let none = StudentSource::None
            .start(1, Path::new("x"), Path::new("y"))
            .await;
        assert!(matches!(none, Err(AgentError::NoStudent { round: 1 })));
    }
}
