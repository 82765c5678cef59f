//! Test support: a moto server per test, the `bluegreen` binary run against
//! it, the emulator's own request recording, and filters for the moving
//! parts (ids, ports) of outputs compared as snapshots.

pub mod proxy;
pub mod sandbox;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

/// One moto server on a free loopback port, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    // Holds the server's request recording; each server needs its own file.
    _workdir: tempfile::TempDir,
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("BLUEGREEN_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        local.exists(),
        "moto_server not found: run `scripts/test.sh` (it installs the emulator into .venv) or set BLUEGREEN_MOTO_SERVER"
    );
    local
}

impl Emulator {
    /// Starts a fresh emulator with request recording on.
    pub fn start() -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let workdir = tempfile::tempdir().expect("emulator folder");
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", workdir.path().join("recording"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let emulator = Emulator {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _workdir: workdir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{}/moto-api/", emulator.endpoint))
            .call()
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        emulator
    }

    /// Starts recording requests, forgetting any recorded before.
    pub fn start_recording(&self) {
        ureq::post(&format!(
            "{}/moto-api/recorder/reset-recording",
            self.endpoint
        ))
        .call()
        .expect("reset recording");
        ureq::post(&format!(
            "{}/moto-api/recorder/start-recording",
            self.endpoint
        ))
        .call()
        .expect("start recording");
    }

    /// The `Action` of every AWS request recorded since `start_recording`.
    pub fn recorded_actions(&self) -> Vec<String> {
        let body = ureq::get(&format!(
            "{}/moto-api/recorder/download-recording",
            self.endpoint
        ))
        .call()
        .expect("download recording")
        .into_string()
        .expect("recording text");
        body.lines()
            .filter(|line| !line.trim().is_empty())
            .filter_map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).ok()?;
                let raw = entry["body"].as_str()?;
                let body = if entry["body_encoded"].as_bool() == Some(true) {
                    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(raw).ok()?)
                        .ok()?
                } else {
                    raw.to_string()
                };
                body.split('&')
                    .find_map(|pair| pair.strip_prefix("Action=").map(str::to_string))
            })
            .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the binary printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The crate's root, where `examples/` and `modules/` are.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `bluegreen ARGS` with throwaway credentials, no colour and no
/// ambient AWS settings; against `emulator` when given.
pub fn bluegreen(emulator: Option<&Emulator>, args: &[&str]) -> Run {
    let output = command(emulator.map(|e| e.endpoint.as_str()), args)
        .output()
        .expect("run bluegreen");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `bluegreen ARGS` against `endpoint` (the emulator or a proxy in front of it).
pub fn bluegreen_at(endpoint: &str, args: &[&str]) -> Run {
    let output = command(Some(endpoint), args)
        .output()
        .expect("run bluegreen");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `bluegreen ARGS` command, not yet started.
pub fn command(endpoint: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bluegreen"));
    command
        .current_dir(root())
        .args(args)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(endpoint) = endpoint {
        command.args(["--endpoint-url", endpoint]);
    }
    command
}

/// `--var=NAME=VALUE` arguments.
pub fn var_args(vars: &[(String, String)]) -> Vec<String> {
    vars.iter().map(|(k, v)| format!("--var={k}={v}")).collect()
}

/// Replaces the parts of an output that change from run to run.
pub fn redact(text: &str) -> String {
    let rules = [
        (r"\bi-[0-9a-f]{8,17}\b", "i-[ID]"),
        (r"\bsubnet-[0-9a-f]{8,17}\b", "subnet-[ID]"),
        (r"\bvpc-[0-9a-f]{8,17}\b", "vpc-[ID]"),
        (r"\bsg-[0-9a-f]{8,17}\b", "sg-[ID]"),
        (
            r"(arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:[a-z-]+/)[A-Za-z0-9/-]+",
            "${1}[PATH]",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (
            r#""fingerprint": "[0-9a-f]+""#,
            r#""fingerprint": "[FINGERPRINT]""#,
        ),
        // Derived from the sandbox's random subnet ids.
        (
            r#""settings_hash": "[0-9a-f]+""#,
            r#""settings_hash": "[HASH]""#,
        ),
    ];
    rules
        .iter()
        .fold(text.to_string(), |text, (pattern, replacement)| {
            regex::Regex::new(pattern)
                .expect("pattern")
                .replace_all(&text, *replacement)
                .into_owned()
        })
}
