//! `checks/<id>.yaml`: the schema, and its validation into a [`Check`].
//!
//! A check reads some resources and applies a rule to them. The rule is either a CEL
//! expression over `object` (as in Kubernetes ValidatingAdmissionPolicy: true means the
//! object is a finding) or a named built-in evaluator for rules that relate objects.

use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::builtin_def::{self as builtins, Builtin};
use super::{Severity, Sink, parse_yaml};
use crate::limits::{MAX_CEL_DEPTH, MAX_CEL_SOURCE_BYTES, with_parser_stack};
use crate::resource::{GroupKind, LabelSelector};
use crate::version::Range;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CheckFile {
    id: Spanned<String>,
    title: String,
    severity: Severity,
    #[serde(default)]
    component: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    resources: Vec<ResourceFile>,
    rule: Spanned<RuleFile>,
    #[serde(default)]
    when: Option<WhenFile>,
    #[serde(default)]
    message: Option<String>,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ResourceFile {
    api_version: Spanned<String>,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    label_selector: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleFile {
    #[serde(default)]
    cel: Option<Spanned<String>>,
    #[serde(default)]
    message_expression: Option<Spanned<String>>,
    #[serde(default)]
    builtin: Option<Spanned<String>>,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WhenFile {
    component: Spanned<String>,
    #[serde(default)]
    range: Option<Spanned<String>>,
    #[serde(default)]
    targeted: bool,
    #[serde(default)]
    target: Option<Spanned<String>>,
}

/// A resource a check reads.
#[derive(Debug, Clone)]
pub struct ResourceSel {
    /// Group and kind.
    pub gk: GroupKind,
    /// `apiVersion` as written (the version the live source prefers).
    pub api_version: String,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only objects with these labels.
    pub label_selector: Option<LabelSelector>,
}

/// A compiled rule.
pub enum Rule {
    /// CEL over `object`; true means "this object is a finding".
    Cel {
        /// The expression as written.
        source: String,
        /// Compiled expression.
        program: cel::Program,
        /// Optional CEL producing the finding's message.
        message: Option<cel::Program>,
    },
    /// A named evaluator in `eval::builtins`.
    Builtin(Builtin),
}

/// Gate on a detected component version.
#[derive(Debug, Clone)]
pub struct When {
    /// Component id.
    pub component: String,
    /// Version range; `None` means "the component is present".
    pub range: Option<Range>,
    /// Only when the run plans an upgrade of the component (`--target`), into `target` if set.
    pub targeted: bool,
    /// Target versions the check applies to (implies `targeted`).
    pub target: Option<Range>,
    location: Location,
}

/// A validated check.
pub struct Check {
    /// Stable id, equal to the file stem.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Severity of its findings.
    pub severity: Severity,
    /// Component the check is about, if any.
    pub component: Option<String>,
    component_location: Location,
    id_location: Location,
    /// Longer text for `explain`.
    pub description: Option<String>,
    /// What it reads (CEL checks) — built-ins declare their own reads.
    pub resources: Vec<ResourceSel>,
    /// The rule.
    pub rule: Rule,
    /// Optional version gate.
    pub when: Option<When>,
    /// Message template: `{kind}`, `{namespace}`, `{name}`, `{object}` are replaced.
    pub message: Option<String>,
    /// How to fix it.
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
    /// File it came from.
    pub origin: String,
}

impl Check {
    /// Every kind this check needs from the cluster.
    #[must_use]
    pub fn reads(&self) -> Vec<GroupKind> {
        let mut kinds: Vec<GroupKind> = match &self.rule {
            Rule::Builtin(b) => b.reads(),
            Rule::Cel { .. } => self.resources.iter().map(|r| r.gk.clone()).collect(),
        };
        kinds.sort();
        kinds.dedup();
        kinds
    }

    pub(super) fn id_location(&self) -> Location {
        self.id_location
    }

    pub(super) fn component_refs(&self) -> Vec<(String, Location)> {
        let mut refs = Vec::new();
        if let Some(c) = &self.component {
            refs.push((c.clone(), self.component_location));
        }
        if let Some(w) = &self.when {
            refs.push((w.component.clone(), w.location));
        }
        if let Rule::Builtin(b) = &self.rule {
            refs.extend(b.components().into_iter().map(|c| (c, self.component_location)));
        }
        refs
    }
}

/// The CEL environment rules are compiled and run in: the standard library plus the
/// strings and lists extensions (`join`, `split`, `flatten`, …), as in Kubernetes.
/// Built once per process and shared: every check file and every evaluation used to build
/// its own, registering every function anew.
#[must_use]
pub fn cel_env() -> Arc<cel::Env> {
    static ENV: std::sync::OnceLock<Arc<cel::Env>> = std::sync::OnceLock::new();
    Arc::clone(ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib();
        // Adding an extension fails only on a name clash, which a fresh stdlib env cannot
        // have; should it ever happen, rules using those functions fail to evaluate and say so.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        Arc::new(env)
    }))
}

/// How deep a CEL expression tree is, counted without recursion (the tree may be deep).
#[must_use]
pub fn cel_depth(root: &cel::common::ast::IdedExpr) -> usize {
    use cel::common::ast::{EntryExpr, Expr};
    let mut deepest = 0;
    let mut stack = vec![(root, 1)];
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let mut push = |child| stack.push((child, depth + 1));
        match &e.expr {
            Expr::Call(c) => {
                c.target.iter().for_each(|t| push(t));
                c.args.iter().for_each(&mut push);
            }
            Expr::Comprehension(c) => {
                for x in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    push(x);
                }
            }
            Expr::List(l) => l.elements.iter().for_each(push),
            Expr::Map(m) => {
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(me) => {
                            push(&me.key);
                            push(&me.value);
                        }
                        EntryExpr::StructField(sf) => push(&sf.value),
                    }
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    if let EntryExpr::StructField(sf) = &entry.expr {
                        push(&sf.value);
                    }
                }
            }
            Expr::Select(sel) => push(&sel.operand),
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    deepest
}

/// Compiles a CEL expression as data files' rules are compiled, or says why not (one
/// message per problem, without location prefix).
///
/// Bounded like every untrusted input: at most [`MAX_CEL_SOURCE_BYTES`], compiled on the
/// parser's big-stack thread, and at most [`MAX_CEL_DEPTH`] levels deep, so neither
/// compiling, nor finding the fields it reads, nor evaluating it (on threads with
/// [`crate::limits::EVAL_STACK_BYTES`]) can exhaust a stack.
pub fn compile_checked(env: &cel::Env, src: &str) -> Result<cel::Program, Vec<String>> {
    if src.len() > MAX_CEL_SOURCE_BYTES {
        return Err(vec![format!(
            "expression is {} bytes, over the {MAX_CEL_SOURCE_BYTES}-byte limit for CEL expressions",
            src.len()
        )]);
    }
    // A program too deep is dropped on the parser thread too: dropping recurses as well.
    let compiled = with_parser_stack(|| {
        env.compile(src).map(|p| match cel_depth(p.expression()) {
            d if d > MAX_CEL_DEPTH => Err(d),
            _ => Ok(p),
        })
    })
    .map_err(|e| vec![format!("cannot start the CEL parser: {e}")])?;
    match compiled {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(depth)) => {
            Err(vec![format!("expression is {depth} levels deep, over the limit of {MAX_CEL_DEPTH} (split it up)")])
        }
        Err(errs) => {
            // The parser's own nesting limit reports once per token past it, as a debug dump.
            if let Some(e) = errs.errors.iter().find(|e| e.msg.contains("Recursion limit of")) {
                let (line, col) = e.pos;
                return Err(vec![format!(
                    "expression nested too deeply for the CEL parser (at expression line {line}, column {})",
                    col + 1
                )]);
            }
            let mut out: Vec<String> = errs
                .errors
                .iter()
                .map(|e| {
                    let (line, col) = e.pos;
                    let msg = e.msg.split(" expecting {").next().unwrap_or(&e.msg);
                    format!("invalid CEL at expression line {line}, column {}: {msg}", col + 1)
                })
                .collect();
            if out.is_empty() {
                out.push("invalid CEL".to_string());
            }
            Err(out)
        }
    }
}

/// [`compile_checked`], reporting each problem at the expression's location.
pub(crate) fn compile_cel(
    env: &cel::Env,
    expr: &Spanned<String>,
    field: &str,
    sink: &mut Sink<'_>,
) -> Option<cel::Program> {
    match compile_checked(env, &expr.value) {
        Ok(p) => Some(p),
        Err(problems) => {
            for p in problems {
                sink.spanned(expr, format!("{field}: {p}"));
            }
            None
        }
    }
}

pub(super) fn parse(text: &str, stem: &str, sink: &mut Sink<'_>) -> Option<Check> {
    let f: CheckFile = parse_yaml(text, sink)?;
    if f.id.value != stem {
        sink.spanned(&f.id, format!("id '{}' must equal the file name '{stem}'", f.id.value));
    }
    if !is_kebab(&f.id.value) {
        sink.spanned(&f.id, format!("id '{}' must be kebab-case (a-z, 0-9, '-')", f.id.value));
    }
    let mut resources = Vec::new();
    for r in &f.resources {
        let label_selector = match &r.label_selector {
            Some(s) => match LabelSelector::parse(&s.value) {
                Ok(sel) => Some(sel),
                Err(e) => {
                    sink.spanned(s, format!("label-selector: {e}"));
                    None
                }
            },
            None => None,
        };
        if r.api_version.value.is_empty() || r.kind.is_empty() {
            sink.spanned(&r.api_version, "resources: api-version and kind must not be empty");
        }
        resources.push(ResourceSel {
            gk: GroupKind::from_api_version(&r.api_version.value, &r.kind),
            api_version: r.api_version.value.clone(),
            namespace: r.namespace.clone(),
            label_selector,
        });
    }
    let rule_loc = f.rule.referenced;
    let rf = &f.rule.value;
    let env = cel_env();
    let rule = match (&rf.cel, &rf.builtin) {
        (Some(expr), None) => {
            if rf.params.is_some() {
                sink.at(&rule_loc, "rule.params is only for built-in rules");
            }
            if resources.is_empty() {
                sink.spanned(&f.id, "a CEL rule needs at least one entry in resources");
            }
            let program = compile_cel(&env, expr, "rule.cel", sink);
            let message =
                rf.message_expression.as_ref().and_then(|m| compile_cel(&env, m, "rule.message-expression", sink));
            program.map(|program| Rule::Cel { source: expr.value.clone(), program, message })
        }
        (None, Some(name)) => {
            if !f.resources.is_empty() {
                sink.spanned(name, "built-in rules declare what they read; remove resources");
            }
            if rf.message_expression.is_some() {
                sink.spanned(name, "rule.message-expression is only for CEL rules");
            }
            match builtins::parse(&name.value, rf.params.as_ref()) {
                Ok(b) => Some(Rule::Builtin(b)),
                Err(e) => {
                    sink.spanned(name, format!("rule.builtin: {e}"));
                    None
                }
            }
        }
        (Some(_), Some(_)) => {
            sink.at(&rule_loc, "rule: set exactly one of cel or builtin, not both");
            None
        }
        (None, None) => {
            sink.at(&rule_loc, format!("rule: set one of cel or builtin (built-ins: {})", builtins::NAMES.join(", ")));
            None
        }
    };
    let when = f.when.as_ref().and_then(|w| {
        let range = match &w.range {
            Some(r) => match Range::parse(&r.value) {
                Ok(r) => Some(r),
                Err(e) => {
                    sink.spanned(r, format!("when.range: {e}"));
                    return None;
                }
            },
            None => None,
        };
        let target = match &w.target {
            Some(r) => match Range::parse(&r.value) {
                Ok(r) => Some(r),
                Err(e) => {
                    sink.spanned(r, format!("when.target: {e}"));
                    return None;
                }
            },
            None => None,
        };
        Some(When {
            component: w.component.value.clone(),
            range,
            targeted: w.targeted || target.is_some(),
            target,
            location: w.component.referenced,
        })
    });
    // Built even when this file had errors (the load fails all the same), so that the
    // references between files are checked too and every problem shows in one run.
    Some(Check {
        id: f.id.value,
        title: f.title,
        severity: f.severity,
        component: f.component.as_ref().map(|c| c.value.clone()),
        component_location: f.component.as_ref().map_or(f.id.referenced, |c| c.referenced),
        id_location: f.id.referenced,
        description: f.description,
        resources,
        rule: rule?,
        when,
        message: f.message,
        remediation: f.remediation,
        references: f.references,
        origin: sink.file.to_string(),
    })
}

pub(super) fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
