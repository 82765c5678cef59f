//! `${var.NAME}`, `${env.NAME}` and `${input.NAME}` references in spec strings.
//!
//! A string that is exactly one reference takes the referenced value with its
//! JSON type (so `"count": "${input.count}"` can fill a number); a reference
//! inside a longer string is pasted in as text. `$${` writes a literal `${`.
//!
//! Variables come from `--var NAME=VALUE`, then `BLUEGREEN_VAR_NAME`, then the
//! spec's `variables` defaults. Values given as text take the type of their
//! default when it has one, so `--var count=3` fills a number.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Problem;

/// The variable values a run was given, and the environment it reads.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    cli: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

impl Variables {
    /// Values from `--var`, with the process environment.
    pub fn from_cli(cli: impl IntoIterator<Item = (String, String)>) -> Self {
        Self::with_env(cli, std::env::vars())
    }

    /// Values from `--var`, with an explicit environment (for tests).
    pub fn with_env(
        cli: impl IntoIterator<Item = (String, String)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            cli: cli.into_iter().collect(),
            env: env.into_iter().collect(),
        }
    }

    /// Parses one `NAME=VALUE` argument of `--var`.
    pub fn parse_assignment(arg: &str) -> Result<(String, String), String> {
        match arg.split_once('=') {
            Some((name, value)) if is_name(name) => Ok((name.to_string(), value.to_string())),
            Some((name, _)) => Err(format!(
                "`{name}` is not a variable name (letters, digits, `_` and `-`)"
            )),
            None => Err(format!("expected NAME=VALUE, got `{arg}`")),
        }
    }

    pub(crate) fn resolver<'a>(&'a self, defaults: &'a BTreeMap<String, Value>) -> Resolver<'a> {
        Resolver {
            vars: self,
            defaults,
            inputs: None,
            referenced: BTreeSet::new(),
        }
    }

    fn env(&self, name: &str) -> Option<&String> {
        self.env.get(name)
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Looks references up; one per document (the spec, or a module's body).
pub(crate) struct Resolver<'a> {
    vars: &'a Variables,
    defaults: &'a BTreeMap<String, Value>,
    inputs: Option<&'a BTreeMap<String, Value>>,
    referenced: BTreeSet<String>,
}

impl<'a> Resolver<'a> {
    /// Makes `${input.NAME}` available (inside a module's body).
    pub(crate) fn with_inputs(mut self, inputs: &'a BTreeMap<String, Value>) -> Self {
        self.inputs = Some(inputs);
        self
    }

    fn lookup(&mut self, namespace: &str, name: &str, whole: bool) -> Result<Value, String> {
        match namespace {
            "var" => {
                self.referenced.insert(name.to_string());
                let given = self
                    .vars
                    .cli
                    .get(name)
                    .or_else(|| self.vars.env(&format!("BLUEGREEN_VAR_{name}")));
                let default = self.defaults.get(name);
                match (given, default) {
                    (Some(text), Some(default)) if whole && !default.is_string() => {
                        typed_like(text, default).ok_or_else(|| {
                            format!(
                                "variable `{name}` must be a {} like its default, got `{text}`",
                                json_type(default)
                            )
                        })
                    }
                    (Some(text), _) => Ok(Value::String(text.clone())),
                    (None, Some(default)) => Ok(default.clone()),
                    (None, None) => Err(format!(
                        "variable `{name}` has no value: pass `--var {name}=VALUE`, set `BLUEGREEN_VAR_{name}`, or give it a default under `variables`"
                    )),
                }
            }
            "env" => self
                .vars
                .env(name)
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| format!("environment variable `{name}` is not set")),
            "input" => match self.inputs {
                Some(inputs) => inputs
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("the module declares no input `{name}`")),
                None => Err(format!(
                    "`${{input.{name}}}` can only be used inside a module"
                )),
            },
            other => Err(format!(
                "unknown reference `${{{other}.{name}}}`: use `${{var.NAME}}`, `${{env.NAME}}` or `${{input.NAME}}`"
            )),
        }
    }

    /// The `${var.NAME}` names looked up so far.
    pub(crate) fn into_referenced(self) -> BTreeSet<String> {
        self.referenced
    }

    /// Counts `names` (looked up by another resolver, a module body's) as used.
    pub(crate) fn mark_referenced(&mut self, names: BTreeSet<String>) {
        self.referenced.extend(names);
    }

    /// `--var` names that the spec neither declares nor uses: almost always a typo.
    pub(crate) fn unused_cli_variables(&self) -> Vec<Problem> {
        self.vars
            .cli
            .keys()
            .filter(|name| !self.referenced.contains(*name) && !self.defaults.contains_key(*name))
            .map(|name| {
                Problem::new(
                    "",
                    format!("`--var {name}`: the spec has no variable `{name}`"),
                )
            })
            .collect()
    }
}

fn typed_like(text: &str, default: &Value) -> Option<Value> {
    let parsed: Value = serde_json::from_str(text).ok()?;
    (json_type(&parsed) == json_type(default)).then_some(parsed)
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Replaces every reference in `value`, recording problems under their field path.
/// Keys listed in `skip` (at the top level only) are left untouched.
pub(crate) fn fill(
    value: &mut Value,
    path: &str,
    resolver: &mut Resolver<'_>,
    problems: &mut Vec<Problem>,
    skip: &[&str],
) {
    match value {
        Value::String(text) => match expand(text, resolver) {
            Ok(Some(new)) => *value = new,
            Ok(None) => {}
            Err(message) => problems.push(Problem::new(path, message)),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                fill(item, &format!("{path}[{i}]"), resolver, problems, &[]);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if skip.contains(&key.as_str()) {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                fill(item, &child, resolver, problems, &[]);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Expands one string; `None` when it holds no reference and no escape.
fn expand(text: &str, resolver: &mut Resolver<'_>) -> Result<Option<Value>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::new();
    let mut rest = text;
    let mut whole_value = None;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in `{text}`"))?;
        let reference = &after[..end];
        let (namespace, name) = reference
            .split_once('.')
            .filter(|(_, name)| is_name(name))
            .ok_or_else(|| {
                format!("`${{{reference}}}` is not a reference: use `${{var.NAME}}`, `${{env.NAME}}` or `${{input.NAME}}`")
            })?;
        let whole = start == 0 && end + 3 == rest.len() && out.is_empty();
        let value = resolver.lookup(namespace, name, whole)?;
        if whole {
            whole_value = Some(value);
        } else {
            match value {
                Value::String(s) => out.push_str(&s),
                Value::Number(n) => out.push_str(&n.to_string()),
                Value::Bool(b) => out.push_str(&b.to_string()),
                other => {
                    return Err(format!(
                        "`${{{reference}}}` is a{} {} and cannot be pasted into text",
                        if json_type(&other) == "array" || json_type(&other) == "object" {
                            "n"
                        } else {
                            ""
                        },
                        json_type(&other)
                    ))
                }
            }
        }
        rest = &after[end + 1..];
    }
    if let Some(value) = whole_value {
        return Ok(Some(value));
    }
    out.push_str(rest);
    Ok(Some(Value::String(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, cli: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Value, Vec<Problem>> {
        let vars = Variables::with_env(
            cli.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let defaults: BTreeMap<String, Value> = doc
            .get("variables")
            .and_then(Value::as_object)
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default();
        let mut resolver = vars.resolver(&defaults);
        let mut doc = doc;
        let mut problems = Vec::new();
        fill(&mut doc, "", &mut resolver, &mut problems, &["variables"]);
        problems.extend(resolver.unused_cli_variables());
        if problems.is_empty() {
            Ok(doc)
        } else {
            Err(problems)
        }
    }

    #[test]
    fn cli_beats_environment_beats_default() {
        let doc = json!({"variables": {"release": "dev"}, "a": "${var.release}"});
        assert_eq!(run(doc.clone(), &[], &[]).unwrap()["a"], "dev");
        assert_eq!(
            run(doc.clone(), &[], &[("BLUEGREEN_VAR_release", "env")]).unwrap()["a"],
            "env"
        );
        assert_eq!(
            run(
                doc,
                &[("release", "cli")],
                &[("BLUEGREEN_VAR_release", "env")]
            )
            .unwrap()["a"],
            "cli"
        );
    }

    #[test]
    fn whole_string_reference_keeps_the_default_type() {
        let doc = json!({"variables": {"count": 2}, "n": "${var.count}", "s": "x${var.count}"});
        let out = run(doc, &[("count", "7")], &[]).unwrap();
        assert_eq!(out["n"], json!(7));
        assert_eq!(out["s"], json!("x7"));
    }

    #[test]
    fn text_that_does_not_fit_the_default_type_is_refused() {
        let doc = json!({"variables": {"count": 2}, "n": "${var.count}"});
        let problems = run(doc, &[("count", "many")], &[]).unwrap_err();
        assert_eq!(problems[0].field, "n");
        assert!(
            problems[0].message.contains("must be a number"),
            "{:?}",
            problems
        );
    }

    #[test]
    fn missing_variable_is_named_with_its_field() {
        let problems = run(
            json!({"instances": {"tags": {"team": "${var.team}"}}}),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(problems[0].field, "instances.tags.team");
        assert!(problems[0].message.contains("variable `team` has no value"));
    }

    #[test]
    fn env_references_and_escapes() {
        let out = run(
            json!({"a": "${env.HOME_DIR}/x", "b": "$${literal}"}),
            &[],
            &[("HOME_DIR", "/h")],
        )
        .unwrap();
        assert_eq!(out["a"], "/h/x");
        assert_eq!(out["b"], "${literal}");
        let problems = run(json!({"a": "${env.NOPE}"}), &[], &[]).unwrap_err();
        assert!(problems[0].message.contains("`NOPE` is not set"));
    }

    #[test]
    fn undeclared_cli_variable_is_a_typo() {
        let problems = run(
            json!({"variables": {"release": "x"}}),
            &[("relase", "y")],
            &[],
        )
        .unwrap_err();
        assert!(problems[0].message.contains("no variable `relase`"));
    }

    #[test]
    fn malformed_references_are_reported() {
        let problems = run(
            json!({"a": "${var.x", "b": "${nope}", "c": "${foo.bar}"}),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3);
        assert!(problems[0].message.contains("unterminated"));
        assert!(problems[1].message.contains("not a reference"));
        assert!(problems[2].message.contains("unknown reference"));
    }

    #[test]
    fn variables_block_is_not_interpolated() {
        let out = run(json!({"variables": {"x": "${var.y}"}}), &[], &[]).unwrap();
        assert_eq!(out["variables"]["x"], "${var.y}");
    }

    #[test]
    fn assignments_parse() {
        assert_eq!(
            Variables::parse_assignment("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(Variables::parse_assignment("novalue").is_err());
        assert!(Variables::parse_assignment("1x=2").is_err());
    }
}
