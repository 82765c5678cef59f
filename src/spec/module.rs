//! Modules: reusable spec fragments with declared inputs.
//!
//! A spec may say `"module": {"source": "../modules/ec2-web-service.json",
//! "inputs": {…}}`. The source is read relative to the spec's own folder. A
//! module file declares its inputs and a `body`, a partial spec that uses
//! `${input.NAME}`; the filled body is merged *under* the spec, so the spec's
//! own keys win (objects merge key by key, anything else is replaced whole).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::interpolate::{self, json_type, Variables};
use super::{Problem, SpecError};

/// A module file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    #[serde(rename = "$schema", default)]
    #[allow(dead_code)] // read by editors, not by us
    schema: Option<String>,
    #[allow(dead_code)] // documentation for people
    description: String,
    #[serde(default)]
    inputs: BTreeMap<String, InputDeclaration>,
    body: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDeclaration {
    #[serde(rename = "type")]
    kind: InputType,
    #[serde(default)]
    default: Option<Value>,
    #[allow(dead_code)] // documentation for people
    description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum InputType {
    String,
    Number,
    Boolean,
    Array,
    Object,
}

impl InputType {
    fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::Array => "array",
            InputType::Object => "object",
        }
    }

    /// The value as this type; text that spells a number or boolean is accepted
    /// because `--var` values arrive as text.
    fn accept(self, value: Value) -> Option<Value> {
        if json_type(&value) == self.name() {
            return Some(value);
        }
        match (self, &value) {
            (InputType::Number, Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_number),
            (InputType::Boolean, Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_boolean),
            _ => None,
        }
    }
}

/// The spec's `module` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleCall {
    source: String,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
}

/// Reads the module a spec calls and returns its body with the inputs filled in,
/// and the names of the `${var.NAME}` references the body uses.
pub(crate) fn expand(
    spec_path: &Path,
    call: Value,
    vars: &Variables,
    defaults: &BTreeMap<String, Value>,
) -> Result<(Value, BTreeSet<String>), SpecError> {
    let call: ModuleCall = serde_path_to_error::deserialize(call).map_err(|err| {
        let inner = err.path().to_string();
        let field = if inner == "." {
            "module".to_string()
        } else {
            format!("module.{inner}")
        };
        SpecError::one(spec_path, field, err.into_inner().to_string())
    })?;
    let module_path = resolve_source(spec_path, &call.source);
    let document = super::read_json(&module_path).map_err(|err| match err {
        SpecError::Read { source, .. } => SpecError::one(
            spec_path,
            "module.source",
            format!("cannot read module `{}`: {source}", module_path.display()),
        ),
        other => other,
    })?;
    let module: ModuleFile = serde_path_to_error::deserialize(document).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        SpecError::one(&module_path, field, err.into_inner().to_string())
    })?;
    if module.body.get("module").is_some() {
        return Err(SpecError::one(
            &module_path,
            "body.module",
            "a module cannot call another module",
        ));
    }

    let mut problems = Vec::new();
    let mut inputs = BTreeMap::new();
    for name in call.inputs.keys() {
        if !module.inputs.contains_key(name) {
            problems.push(Problem::new(
                format!("module.inputs.{name}"),
                format!(
                    "module `{}` has no input `{name}` (it has: {})",
                    call.source,
                    list(module.inputs.keys())
                ),
            ));
        }
    }
    for (name, declaration) in &module.inputs {
        let given = call.inputs.get(name).cloned();
        match given.or_else(|| declaration.default.clone()) {
            None => problems.push(Problem::new(
                format!("module.inputs.{name}"),
                format!("module `{}` needs input `{name}`", call.source),
            )),
            Some(value) => {
                let shown = value.to_string();
                match declaration.kind.accept(value) {
                    Some(value) => {
                        inputs.insert(name.clone(), value);
                    }
                    None => problems.push(Problem::new(
                        format!("module.inputs.{name}"),
                        format!("expected a {}, got {shown}", declaration.kind.name()),
                    )),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(SpecError::invalid(spec_path, problems));
    }

    let mut body = module.body;
    let mut resolver = vars.resolver(defaults).with_inputs(&inputs);
    interpolate::fill(&mut body, "body", &mut resolver, &mut problems, &[]);
    if !problems.is_empty() {
        return Err(SpecError::invalid(&module_path, problems));
    }
    if !body.is_object() {
        return Err(SpecError::one(
            &module_path,
            "body",
            "expected an object (a partial spec)",
        ));
    }
    Ok((body, resolver.into_referenced()))
}

fn resolve_source(spec_path: &Path, source: &str) -> PathBuf {
    let source = Path::new(source);
    if source.is_absolute() {
        return source.to_path_buf();
    }
    spec_path
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(source)
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<_> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Merges `base` under `top`: keys present in `top` win, objects merge deeply.
pub(crate) fn merge_under(top: &mut Value, base: Value) {
    // Anything that is not object-under-object: the spec's value stands.
    if let (Value::Object(top), Value::Object(base)) = (top, base) {
        for (key, base_value) in base {
            match top.get_mut(&key) {
                Some(top_value) => merge_under(top_value, base_value),
                None => {
                    top.insert(key, base_value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_keys_win_and_objects_merge() {
        let mut top = json!({"a": 1, "o": {"x": 1}, "l": [1]});
        merge_under(
            &mut top,
            json!({"a": 2, "b": 3, "o": {"x": 2, "y": 2}, "l": [2, 3]}),
        );
        assert_eq!(
            top,
            json!({"a": 1, "b": 3, "o": {"x": 1, "y": 2}, "l": [1]})
        );
    }

    #[test]
    fn text_inputs_are_accepted_as_numbers_and_booleans() {
        assert_eq!(InputType::Number.accept(json!("3")), Some(json!(3)));
        assert_eq!(
            InputType::Boolean.accept(json!("false")),
            Some(json!(false))
        );
        assert_eq!(InputType::Number.accept(json!("three")), None);
        assert_eq!(InputType::String.accept(json!(3)), None);
    }
}
