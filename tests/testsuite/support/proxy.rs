//! A proxy between the tool and the emulator that behaves more like AWS
//! where moto is too kind: it counts calls per operation and can report a
//! target group's targets as unhealthy, from the start or after a number of
//! health reads.

use std::collections::BTreeMap;

use std::sync::{Arc, Mutex};

/// Rules and counts, shared with the proxy's thread.
#[derive(Default)]
struct State {
    counts: BTreeMap<String, usize>,
    /// Target-group name → health reads of it that still pass before it turns unhealthy.
    unhealthy_after: BTreeMap<String, usize>,
    /// Operation → the number of the call (1-based) that fails once with a 400.
    fail_call: BTreeMap<String, usize>,
    /// Every n-th call of all (1-based) is answered with a fault.
    fail_every: Option<(usize, Fault)>,
    total: usize,
    latency: std::time::Duration,
    /// Operation → extra delay before its answer.
    slow: BTreeMap<String, std::time::Duration>,
    /// Health as AWS reports it: `unused` until a listener or rule forwards
    /// to the group, then `initial` for this long, then what moto says.
    aws_health: Option<std::time::Duration>,
    /// Target-group ARN → when a write first pointed a listener or rule at it.
    attached_at: BTreeMap<String, std::time::Instant>,
}

/// A transient fault, as AWS answers when overloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `Throttling`.
    Throttling,
    /// 503 with no body.
    Unavailable,
}

/// A running proxy; stops with the test process.
pub struct Proxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("proxy listens");
        let endpoint = format!(
            "http://{}",
            server.server_addr().to_ip().expect("ip address")
        );
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                handle(request, &upstream, &shared);
            }
        });
        Proxy { endpoint, state }
    }

    /// Reports every target of `target_group` as unhealthy after `reads`
    /// more DescribeTargetHealth calls for it (0: from now on).
    pub fn unhealthy_after(&self, target_group: &str, reads: usize) {
        self.state
            .lock()
            .expect("proxy state")
            .unhealthy_after
            .insert(target_group.to_string(), reads);
    }

    /// Makes the `nth` call of `operation` from now on fail, once, with a
    /// `ValidationError` (not retried by the SDK).
    pub fn fail_once(&self, operation: &str, nth: usize) {
        let mut state = self.state.lock().expect("proxy state");
        let seen = state.counts.get(operation).copied().unwrap_or(0);
        state.fail_call.insert(operation.to_string(), seen + nth);
    }

    /// Answers every `n`-th call with `fault` (n = 5: 20 % of calls).
    pub fn fail_every(&self, n: usize, fault: Fault) {
        self.state.lock().expect("proxy state").fail_every = Some((n, fault));
    }

    /// Stops injecting the faults of `fail_every`.
    pub fn heal(&self) {
        self.state.lock().expect("proxy state").fail_every = None;
    }

    /// Reports target health the way AWS does (see `State::aws_health`).
    pub fn aws_health(&self, initial: std::time::Duration) {
        self.state.lock().expect("proxy state").aws_health = Some(initial);
    }

    /// Delays the answers to one operation.
    pub fn slow_down(&self, operation: &str, delay: std::time::Duration) {
        self.state
            .lock()
            .expect("proxy state")
            .slow
            .insert(operation.to_string(), delay);
    }

    /// Delays every answer.
    pub fn latency(&self, delay: std::time::Duration) {
        self.state.lock().expect("proxy state").latency = delay;
    }

    /// Calls seen so far, by operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.state.lock().expect("proxy state").counts.clone()
    }
}

fn handle(mut request: tiny_http::Request, upstream: &str, state: &Mutex<State>) {
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(request.as_reader(), &mut body);
    let text = String::from_utf8_lossy(&body).into_owned();
    let decoded = urlencoding::decode(&text)
        .map(|s| s.into_owned())
        .unwrap_or(text.clone());
    let action = decoded
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("")
        .to_string();

    let mut make_unhealthy = false;
    let mut health_override: Option<&str> = None;
    {
        let mut state = state.lock().expect("proxy state");
        *state.counts.entry(action.clone()).or_default() += 1;
        state.total += 1;
        let latency = state.latency + state.slow.get(&action).copied().unwrap_or_default();
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        if let Some((n, fault)) = state.fail_every {
            if state.total % n == 0 {
                drop(state);
                let response = match fault {
                    Fault::Throttling => tiny_http::Response::from_string(error_xml(
                        &decoded,
                        "Throttling",
                        "Rate exceeded",
                    ))
                    .with_status_code(400),
                    Fault::Unavailable => {
                        tiny_http::Response::from_string("").with_status_code(503)
                    }
                };
                let _ = request.respond(response);
                return;
            }
        }
        let count = state.counts[&action];
        if state.fail_call.get(&action) == Some(&count) {
            drop(state);
            let error = error_xml(
                &decoded,
                "ValidationError",
                &format!("injected failure of {action}"),
            );
            let _ = request.respond(tiny_http::Response::from_string(error).with_status_code(400));
            return;
        }
        if matches!(
            action.as_str(),
            "ModifyListener" | "ModifyRule" | "CreateRule" | "CreateListener"
        ) {
            let now = std::time::Instant::now();
            for part in decoded.split('&') {
                if let Some((_, arn)) = part.split_once('=') {
                    if arn.contains(":targetgroup/") {
                        state.attached_at.entry(arn.to_string()).or_insert(now);
                    }
                }
            }
        }
        if action == "DescribeTargetHealth" {
            if let Some(initial) = state.aws_health {
                let arn = decoded
                    .split('&')
                    .find_map(|p| p.strip_prefix("TargetGroupArn="))
                    .unwrap_or_default();
                health_override = match state.attached_at.get(arn) {
                    None => Some("unused"),
                    Some(at) if at.elapsed() < initial => Some("initial"),
                    Some(_) => None,
                };
            }
            for (name, left) in state.unhealthy_after.iter_mut() {
                if decoded.contains(&format!("targetgroup/{name}/")) {
                    if *left == 0 {
                        make_unhealthy = true;
                    } else {
                        *left -= 1;
                    }
                }
            }
        }
    }

    let mut call = ureq::request(
        request.method().as_str(),
        &format!("{upstream}{}", request.url()),
    );
    for header in request.headers() {
        let name = header.field.as_str().as_str();
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            call = call.set(name, header.value.as_str());
        }
    }
    let (status, mut answer) = match call.send_bytes(&body) {
        Ok(response) => (
            response.status(),
            response.into_string().unwrap_or_default(),
        ),
        Err(ureq::Error::Status(code, response)) => {
            (code, response.into_string().unwrap_or_default())
        }
        Err(err) => (502, format!("proxy: {err}")),
    };
    if let Some(state) = health_override {
        let reason = if state == "unused" {
            "Target.NotInUse"
        } else {
            "Elb.InitialHealthChecking"
        };
        answer = answer.replace(
            "<State>healthy</State>",
            &format!("<State>{state}</State><Reason>{reason}</Reason>"),
        );
    }
    if make_unhealthy {
        answer = answer.replace(
            "<State>healthy</State>",
            "<State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason>",
        );
    }
    let content_type =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/xml"[..]).expect("header");
    let _ = request.respond(
        tiny_http::Response::from_string(answer)
            .with_status_code(status)
            .with_header(content_type),
    );
}

/// An error answer in the wire format of the service called (EC2's differs from ELBv2's).
fn error_xml(request: &str, code: &str, message: &str) -> String {
    if request.contains("Version=2016-11-15") {
        format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>proxy</RequestID></Response>")
    } else {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>")
    }
}
