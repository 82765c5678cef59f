//! Hooks: the user's own shell commands around the traffic shift (smoke
//! tests, migrations). Their output goes to stderr so that stdout stays the
//! tool's own; a non-zero exit fails the release.

use std::process::Stdio;

/// What a hook is told about the release, as environment variables.
#[derive(Debug, Clone, Default)]
pub struct HookEnvironment {
    pub app: String,
    pub release: String,
    pub blue_release: String,
    pub green_target_group_arn: String,
    pub green_instance_ids: Vec<String>,
    pub test_listener_arn: String,
}

/// Runs `command` with `sh -c`; `Err` carries a one-line reason.
pub async fn run(command: &str, env: &HookEnvironment) -> Result<(), String> {
    use std::os::fd::AsFd;
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .map_err(|err| format!("cannot run hook `{command}`: {err}"))?;
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("BLUEGREEN_APP", &env.app)
        .env("BLUEGREEN_RELEASE", &env.release)
        .env("BLUEGREEN_BLUE_RELEASE", &env.blue_release)
        .env(
            "BLUEGREEN_GREEN_TARGET_GROUP_ARN",
            &env.green_target_group_arn,
        )
        .env(
            "BLUEGREEN_GREEN_INSTANCE_IDS",
            env.green_instance_ids.join(","),
        )
        .env("BLUEGREEN_TEST_LISTENER_ARN", &env.test_listener_arn)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|err| format!("cannot run hook `{command}`: {err}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(format!("hook `{command}` exited with {code}")),
        None => Err(format!("hook `{command}` was killed by a signal")),
    }
}
