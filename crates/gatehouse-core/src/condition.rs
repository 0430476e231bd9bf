//! Connect display conditions, compiled once at install and evaluated per
//! render without parsing.
//!
//! Syntax is Connect's, unchanged: a module's `conditions` list (all must
//! hold) or single `condition`; entries are `{"condition": name, "invert":
//! bool, "params": {…}}` or composites `{"and": […]}` / `{"or": […]}`. An
//! unknown condition name or a bad parameter is an install-time error: a
//! condition Gatehouse cannot evaluate exactly must not silently become false
//! (or true).

use serde::Serialize;
use serde_json::Value;

use crate::directory::Permissions;
use crate::principal::{AccountType, Actor};
use crate::validate::Invalid;

/// Which entity a property condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// The app's own app properties.
    Addon,
    /// The current item (page, issue).
    Content,
    /// The current container (space, project).
    Space,
    /// The current user.
    User,
}

impl EntityKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "addon" | "app" => EntityKind::Addon,
            "content" | "page" | "blogpost" | "issue" => EntityKind::Content,
            "space" | "project" => EntityKind::Space,
            "user" => EntityKind::User,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Addon => "addon",
            EntityKind::Content => "content",
            EntityKind::Space => "space",
            EntityKind::User => "user",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Perm {
    View,
    Edit,
    Admin,
}

impl Perm {
    /// Connect's Confluence and Jira permission names, and plain ones.
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "VIEW" | "VIEWSPACE" | "BROWSE" | "BROWSE_PROJECTS" | "READ" => Perm::View,
            "EDIT" | "EDITSPACE" | "EDITBLOG" | "COMMENT" | "CREATEEDIT" | "EDIT_ISSUES"
            | "UPDATE" => Perm::Edit,
            "ADMIN"
            | "ADMINISTRATE"
            | "SETSPACEPERMISSIONS"
            | "ADMINISTER_PROJECTS"
            | "ADMINISTER" => Perm::Admin,
            _ => return None,
        })
    }
    fn held(self, p: Permissions) -> bool {
        match self {
            Perm::View => p.view,
            Perm::Edit => p.edit,
            Perm::Admin => p.admin,
        }
    }
}

/// A property a compiled condition reads: compiled descriptors list them, so
/// a snapshot keeps exactly these values in memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PropertyRef {
    pub entity: EntityKind,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub enum Leaf {
    UserIsLoggedIn,
    UserIsAdmin,
    UserIsGuest,
    CanSeeUserDirectory,
    HasSpacePermission {
        permission: Perm,
    },
    HasContentPermission {
        permission: Perm,
    },
    EntityPropertyExists {
        property: PropertyRef,
        path: Vec<String>,
    },
    EntityPropertyEqualTo {
        property: PropertyRef,
        path: Vec<String>,
        value: Value,
    },
    EntityPropertyContainsAny {
        property: PropertyRef,
        path: Vec<String>,
        values: Vec<Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Leaf(Leaf),
}

/// What conditions read. Implemented by the render path over its snapshot.
pub trait Facts {
    fn actor(&self) -> &Actor;
    /// The actor's permissions in the current container (none if there is none).
    fn space_permissions(&self) -> Permissions;
    /// Whether the actor may view / edit the current item (`None`: no item).
    fn content_access(&self) -> Option<(bool, bool)>;
    fn property(&self, property: &PropertyRef) -> Option<&Value>;
}

fn bad(msg: impl Into<String>) -> Invalid {
    Invalid::new("invalid_condition", msg)
}

fn param<'a>(params: Option<&'a Value>, name: &str, cond: &str) -> Result<&'a str, Invalid> {
    params
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(format!(
                "condition {cond} needs a string parameter \"{name}\"."
            ))
        })
}

fn property_params(
    params: Option<&Value>,
    cond: &str,
) -> Result<(PropertyRef, Vec<String>), Invalid> {
    let entity_name = param(params, "entity", cond)?;
    let entity = EntityKind::parse(entity_name).ok_or_else(|| {
        bad(format!("condition {cond}: unknown entity {entity_name:?}; use addon, content/page/issue, space/project or user."))
    })?;
    let key = param(params, "propertyKey", cond)?.to_string();
    crate::validate::property_key(&key)
        .map_err(|e| bad(format!("condition {cond}: propertyKey: {}", e.message)))?;
    let path = match params.and_then(|p| p.get("objectName")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => s.split('.').map(str::to_string).collect(),
        Some(_) => {
            return Err(bad(format!(
                "condition {cond}: objectName must be a string like \"config.showGlance\"."
            )));
        }
    };
    Ok((PropertyRef { entity, key }, path))
}

/// A condition `value` parameter: JSON if it parses (`"true"`, `"3"`,
/// `"[\"a\"]"`), else the plain string — as Connect compares them.
fn literal(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

impl Condition {
    /// Compiles a module's `conditions` (a list, all must hold) and/or
    /// `condition` (one entry). No conditions at all is `All([])`: true.
    pub fn compile_module(module: &Value) -> Result<Condition, Invalid> {
        let mut all = Vec::new();
        match module.get("conditions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    all.push(Self::compile(item)?);
                }
            }
            Some(_) => return Err(bad("conditions must be a list.")),
        }
        if let Some(single) = module.get("condition").filter(|c| !c.is_null()) {
            // Some descriptors put one entry under "condition".
            if single.is_object() {
                all.push(Self::compile(single)?);
            }
        }
        Ok(if all.len() == 1 {
            all.pop().expect("one")
        } else {
            Condition::All(all)
        })
    }

    /// Compiles one entry (leaf or composite).
    pub fn compile(v: &Value) -> Result<Condition, Invalid> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad("a condition is a JSON object."))?;
        let inverted = match obj.get("invert") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => return Err(bad("invert must be true or false.")),
        };
        let compiled = if let Some(list) = obj.get("and").or_else(|| obj.get("or")) {
            let items = list
                .as_array()
                .ok_or_else(|| bad("and/or take a list of conditions."))?;
            let children = items
                .iter()
                .map(Self::compile)
                .collect::<Result<Vec<_>, _>>()?;
            if obj.contains_key("and") {
                Condition::All(children)
            } else {
                Condition::Any(children)
            }
        } else {
            let name = obj
                .get("condition")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a condition needs \"condition\", \"and\" or \"or\"."))?;
            Condition::Leaf(Self::leaf(name, obj.get("params"))?)
        };
        Ok(if inverted {
            Condition::Not(Box::new(compiled))
        } else {
            compiled
        })
    }

    fn leaf(name: &str, params: Option<&Value>) -> Result<Leaf, Invalid> {
        let permission = |cond: &str| -> Result<Perm, Invalid> {
            let p = param(params, "permission", cond)?;
            Perm::parse(p).ok_or_else(|| bad(format!("condition {cond}: unknown permission {p:?}; use view, edit or admin (or Connect's names, e.g. VIEWSPACE, EDITSPACE, ADMINISTRATE).")))
        };
        Ok(match name {
            "user_is_logged_in" => Leaf::UserIsLoggedIn,
            "user_is_admin" | "user_is_sysadmin" => Leaf::UserIsAdmin,
            "user_is_guest" => Leaf::UserIsGuest,
            "can_see_user_directory" => Leaf::CanSeeUserDirectory,
            "has_space_permission" | "has_project_permission" => Leaf::HasSpacePermission {
                permission: permission(name)?,
            },
            "has_content_permission" | "has_issue_permission" | "has_page_permission" => {
                Leaf::HasContentPermission {
                    permission: permission(name)?,
                }
            }
            "entity_property_exists" => {
                let (property, path) = property_params(params, name)?;
                Leaf::EntityPropertyExists { property, path }
            }
            "entity_property_equal_to" => {
                let (property, path) = property_params(params, name)?;
                Leaf::EntityPropertyEqualTo {
                    property,
                    path,
                    value: literal(param(params, "value", name)?),
                }
            }
            "entity_property_contains_any" => {
                let (property, path) = property_params(params, name)?;
                let raw = param(params, "value", name)?;
                let values = match literal(raw) {
                    Value::Array(a) => a,
                    _ => {
                        return Err(bad(format!(
                            "condition {name}: value must be a JSON array, e.g. \"[\\\"a\\\",\\\"b\\\"]\"."
                        )));
                    }
                };
                Leaf::EntityPropertyContainsAny {
                    property,
                    path,
                    values,
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown condition {other:?}; Gatehouse evaluates user_is_logged_in, user_is_admin, user_is_guest, can_see_user_directory, has_space_permission, has_content_permission, entity_property_exists, entity_property_equal_to, entity_property_contains_any (with and/or/invert)."
                )));
            }
        })
    }

    /// Every property this condition reads.
    pub fn properties(&self, out: &mut Vec<PropertyRef>) {
        match self {
            Condition::All(c) | Condition::Any(c) => c.iter().for_each(|c| c.properties(out)),
            Condition::Not(c) => c.properties(out),
            Condition::Leaf(
                Leaf::EntityPropertyExists { property, .. }
                | Leaf::EntityPropertyEqualTo { property, .. }
                | Leaf::EntityPropertyContainsAny { property, .. },
            ) => out.push(property.clone()),
            Condition::Leaf(_) => {}
        }
    }

    /// Evaluates without allocating: the render hot path.
    pub fn holds(&self, facts: &dyn Facts) -> bool {
        match self {
            Condition::All(c) => c.iter().all(|c| c.holds(facts)),
            Condition::Any(c) => c.iter().any(|c| c.holds(facts)),
            Condition::Not(c) => !c.holds(facts),
            Condition::Leaf(l) => l.holds(facts),
        }
    }

    /// Evaluates and records why: the explain path.
    pub fn trace(&self, facts: &dyn Facts) -> Trace {
        match self {
            Condition::All(c) | Condition::Any(c) => {
                let children: Vec<Trace> = c.iter().map(|c| c.trace(facts)).collect();
                let all = matches!(self, Condition::All(_));
                let result = if all {
                    children.iter().all(|t| t.result)
                } else {
                    children.iter().any(|t| t.result)
                };
                Trace {
                    condition: if all { "and" } else { "or" }.into(),
                    result,
                    detail: None,
                    children,
                }
            }
            Condition::Not(c) => {
                let inner = c.trace(facts);
                Trace {
                    condition: "invert".into(),
                    result: !inner.result,
                    detail: None,
                    children: vec![inner],
                }
            }
            Condition::Leaf(l) => Trace {
                condition: l.name().into(),
                result: l.holds(facts),
                detail: Some(l.describe(facts)),
                children: vec![],
            },
        }
    }
}

/// One node of an evaluated condition tree, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub condition: String,
    pub result: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Trace>,
}

impl Trace {
    /// The leaves that made the whole come out as it did (for a one-line reason).
    pub fn deciding_leaves(&self) -> Vec<&Trace> {
        if self.children.is_empty() {
            return vec![self];
        }
        let want = match self.condition.as_str() {
            "invert" => !self.result,
            _ => self.result,
        };
        self.children
            .iter()
            .filter(|c| c.result == want)
            .flat_map(|c| c.deciding_leaves())
            .collect()
    }
}

fn at_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| v.get(seg.as_str()))
}

impl Leaf {
    pub fn name(&self) -> &'static str {
        match self {
            Leaf::UserIsLoggedIn => "user_is_logged_in",
            Leaf::UserIsAdmin => "user_is_admin",
            Leaf::UserIsGuest => "user_is_guest",
            Leaf::CanSeeUserDirectory => "can_see_user_directory",
            Leaf::HasSpacePermission { .. } => "has_space_permission",
            Leaf::HasContentPermission { .. } => "has_content_permission",
            Leaf::EntityPropertyExists { .. } => "entity_property_exists",
            Leaf::EntityPropertyEqualTo { .. } => "entity_property_equal_to",
            Leaf::EntityPropertyContainsAny { .. } => "entity_property_contains_any",
        }
    }

    fn holds(&self, f: &dyn Facts) -> bool {
        let actor = f.actor();
        match self {
            Leaf::UserIsLoggedIn => actor.account_type != AccountType::Anonymous,
            Leaf::UserIsAdmin => actor.site_admin && actor.account_type == AccountType::Licensed,
            Leaf::UserIsGuest => actor.account_type == AccountType::Guest,
            Leaf::CanSeeUserDirectory => actor.can_see_user_directory(),
            Leaf::HasSpacePermission { permission } => permission.held(f.space_permissions()),
            Leaf::HasContentPermission { permission } => match (permission, f.content_access()) {
                (_, None) => false,
                (Perm::View, Some((view, _))) => view,
                (Perm::Edit, Some((view, edit))) => view && edit,
                (Perm::Admin, Some((view, _))) => view && f.space_permissions().admin,
            },
            Leaf::EntityPropertyExists { property, path } => f
                .property(property)
                .and_then(|v| at_path(v, path))
                .is_some(),
            Leaf::EntityPropertyEqualTo {
                property,
                path,
                value,
            } => f.property(property).and_then(|v| at_path(v, path)) == Some(value),
            Leaf::EntityPropertyContainsAny {
                property,
                path,
                values,
            } => match f.property(property).and_then(|v| at_path(v, path)) {
                Some(Value::Array(have)) => values.iter().any(|v| have.contains(v)),
                Some(single) => values.contains(single),
                None => false,
            },
        }
    }

    fn describe(&self, f: &dyn Facts) -> String {
        let target = |p: &PropertyRef, path: &[String]| {
            let mut s = format!("{} property {:?}", p.entity.as_str(), p.key);
            if !path.is_empty() {
                s.push_str(&format!(" at {:?}", path.join(".")));
            }
            s
        };
        let seen =
            |p: &PropertyRef, path: &[String]| match f.property(p).and_then(|v| at_path(v, path)) {
                Some(v) => format!("is {v}"),
                None => "does not exist".to_string(),
            };
        let a = f.actor();
        match self {
            Leaf::UserIsLoggedIn | Leaf::UserIsGuest | Leaf::CanSeeUserDirectory => {
                format!(
                    "the user is {} ({})",
                    a.account_id.as_deref().unwrap_or("anonymous"),
                    a.account_type.as_str()
                )
            }
            Leaf::UserIsAdmin => format!("site admin: {}", a.site_admin),
            Leaf::HasSpacePermission { permission } => {
                format!(
                    "needs {permission:?} in the space; the user holds [{}]",
                    f.space_permissions().names().join(", ")
                )
            }
            Leaf::HasContentPermission { permission } => match f.content_access() {
                None => "there is no current content".into(),
                Some((v, e)) => format!("needs {permission:?} on the content; view={v}, edit={e}"),
            },
            Leaf::EntityPropertyExists { property, path } => {
                format!("{} {}", target(property, path), seen(property, path))
            }
            Leaf::EntityPropertyEqualTo {
                property,
                path,
                value,
            } => {
                format!(
                    "{} {}, wanted {value}",
                    target(property, path),
                    seen(property, path)
                )
            }
            Leaf::EntityPropertyContainsAny {
                property,
                path,
                values,
            } => {
                format!(
                    "{} {}, wanted any of {}",
                    target(property, path),
                    seen(property, path),
                    Value::Array(values.clone())
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
