//! The decision benchmark's synthetic tenant, and the same decisions encoded
//! three ways: Gatehouse (compiled conditions over a snapshot), cedar-policy
//! (one policy per module, users/spaces/content/apps as entities, properties
//! as attributes) and casbin (an ABAC model whose policy lines `eval` a rhai
//! expression per module). All three are generated from the one compiled
//! condition tree, so they must agree; the bench checks they do before it
//! times anything.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gatehouse_core::condition::{Condition, EntityKind, Leaf, Perm};
use gatehouse_core::descriptor::Descriptor;
use gatehouse_core::directory::{self, Content, Permissions, Space, User};
use gatehouse_core::module::GuestRule;
use gatehouse_core::principal::AccountType;
use gatehouse_server::render::{self, Page, PageView};
use gatehouse_server::snapshot::{CompiledApp, TenantSnapshot};
use gatehouse_store::Installation;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

pub const APPS: usize = 50;
pub const MODULES_PER_APP: usize = 20;
pub const USERS: usize = 1000;
pub const SPACES: usize = 200;
pub const PAGES_PER_SPACE: usize = 10;
/// Page locations a render plan asks for.
pub const LOCATIONS: &[&str] = &[
    "page.side",
    "page.header",
    "page.footer",
    "page.menu",
    "contentBylineItems",
];

const KINDS: &[(&str, Option<&str>)] = &[
    ("webPanels", None),
    ("webItems", None),
    ("webSections", None),
    ("dialogs", None),
    ("contentBylineItems", Some("contentBylineItems")),
    ("generalPages", Some("page.menu")),
    ("adminPages", Some("page.menu")),
    ("spaceToolsTabs", Some("page.header")),
];

/// The synthetic tenant.
pub struct World {
    pub snapshot: TenantSnapshot,
    pub users: Vec<String>,
    pub pages: Vec<String>,
}

fn leaf(rng: &mut StdRng) -> Value {
    let tiers = ["gold", "silver", "bronze"];
    match rng.random_range(0..11) {
        0 => json!({"condition": "user_is_logged_in"}),
        1 => json!({"condition": "user_is_admin"}),
        2 => json!({"condition": "user_is_guest", "invert": true}),
        3 => json!({"condition": "can_see_user_directory"}),
        4 => {
            let p = ["VIEWSPACE", "EDITSPACE", "ADMINISTRATE"][rng.random_range(0..3)];
            json!({"condition": "has_space_permission", "params": {"permission": p}})
        }
        5 => {
            let p = ["view", "edit"][rng.random_range(0..2)];
            json!({"condition": "has_content_permission", "params": {"permission": p}})
        }
        6 => {
            json!({"condition": "entity_property_exists", "params": {"entity": "addon", "propertyKey": "config", "objectName": "beta"}})
        }
        7 => {
            json!({"condition": "entity_property_equal_to", "params": {"entity": "addon", "propertyKey": "config", "objectName": "enabled", "value": "true"}})
        }
        8 => {
            let tier = tiers[rng.random_range(0..3)];
            json!({"condition": "entity_property_equal_to", "params": {"entity": "addon", "propertyKey": "config", "objectName": "tier", "value": tier}})
        }
        9 => {
            json!({"condition": "entity_property_contains_any", "params": {"entity": "page", "propertyKey": "labels", "value": "[\"a\", \"b\"]"}})
        }
        _ => {
            json!({"condition": "entity_property_exists", "params": {"entity": "content", "propertyKey": "flag"}})
        }
    }
}

fn tree(rng: &mut StdRng, depth: u32) -> Value {
    if depth == 0 || rng.random_bool(0.45) {
        return leaf(rng);
    }
    let n = rng.random_range(2..4);
    let children: Vec<Value> = (0..n).map(|_| tree(rng, depth - 1)).collect();
    let mut node = if rng.random_bool(0.5) {
        json!({"and": children})
    } else {
        json!({"or": children})
    };
    if rng.random_bool(0.15) {
        node["invert"] = json!(true);
    }
    node
}

fn descriptor(rng: &mut StdRng, a: usize) -> Value {
    let mut modules: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for m in 0..MODULES_PER_APP {
        let (kind, fixed) = KINDS[(a + m) % KINDS.len()];
        let location = fixed.unwrap_or(LOCATIONS[rng.random_range(0..4)]);
        let conditions: Vec<Value> = (0..rng.random_range(0..3)).map(|_| tree(rng, 3)).collect();
        modules.entry(kind).or_default().push(json!({
            "key": format!("m{m}"), "location": location, "url": format!("/m{m}?page={{page.id}}"), "conditions": conditions
        }));
    }
    json!({
        "key": format!("app{a:02}"), "baseUrl": format!("https://app{a}.example.test"), "authentication": {"type": "jwt"},
        "scopes": ["READ"], "guestAccess": {"supported": a % 5 < 2}, "modules": modules,
    })
}

/// Builds the tenant from `seed`: same seed, same world.
pub fn generate(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut users = Vec::new();
    for i in 0..USERS {
        let (t, admin) = match i % 20 {
            0 | 1 => (AccountType::Guest, false),
            2 => (AccountType::Licensed, true),
            _ => (AccountType::Licensed, false),
        };
        users.push(User {
            account_id: format!("u{i:04}"),
            display_name: format!("User {i}"),
            account_type: t,
            site_admin: admin,
        });
    }
    let mut spaces: Vec<Space> = (0..SPACES)
        .map(|s| Space {
            key: format!("S{s:03}"),
            name: format!("Space {s}"),
            members: Default::default(),
        })
        .collect();
    for u in &users {
        let n = if u.account_type == AccountType::Guest {
            1
        } else {
            3
        };
        for _ in 0..n {
            let s = rng.random_range(0..SPACES);
            let p = match rng.random_range(0..10) {
                0 if u.account_type == AccountType::Licensed => Permissions {
                    view: true,
                    edit: true,
                    admin: true,
                },
                0..=5 => Permissions {
                    view: true,
                    edit: true,
                    admin: false,
                },
                _ => Permissions {
                    view: true,
                    edit: false,
                    admin: false,
                },
            };
            spaces[s].members.insert(u.account_id.clone(), p);
        }
    }
    let mut content = Vec::new();
    let mut values: HashMap<gatehouse_core::condition::PropertyRef, HashMap<String, Value>> =
        HashMap::new();
    let prop = |e: EntityKind, k: &str| gatehouse_core::condition::PropertyRef {
        entity: e,
        key: k.to_string(),
    };
    for s in &spaces {
        for p in 0..PAGES_PER_SPACE {
            let id = format!("{}-{p}", s.key);
            let members: Vec<&String> = s.members.keys().collect();
            let restricted = (rng.random_bool(0.1) && !members.is_empty()).then(|| {
                (0..2)
                    .map(|_| members[rng.random_range(0..members.len())].clone())
                    .collect()
            });
            if rng.random_bool(0.3) {
                let labels: Vec<&str> = ["a", "b", "c", "d"]
                    .into_iter()
                    .filter(|_| rng.random_bool(0.4))
                    .collect();
                values
                    .entry(prop(EntityKind::Content, "labels"))
                    .or_default()
                    .insert(id.clone(), json!(labels));
            }
            if rng.random_bool(0.2) {
                values
                    .entry(prop(EntityKind::Content, "flag"))
                    .or_default()
                    .insert(id.clone(), json!("yes"));
            }
            content.push(Content {
                id,
                space_key: s.key.clone(),
                title: "t".into(),
                restricted_to: restricted,
            });
        }
    }
    let mut apps = HashMap::new();
    let mut by_location: HashMap<String, Vec<(Arc<CompiledApp>, usize)>> = HashMap::new();
    for a in 0..APPS {
        let raw = descriptor(&mut rng, a);
        let d = Descriptor::from_value(raw.clone()).expect("synthetic descriptors compile");
        let key = d.key.clone();
        let mut config = serde_json::Map::new();
        config.insert("enabled".into(), json!(rng.random_bool(0.6)));
        config.insert(
            "tier".into(),
            json!(["gold", "silver", "bronze"][rng.random_range(0..3)]),
        );
        if rng.random_bool(0.5) {
            config.insert("beta".into(), json!("on"));
        }
        if rng.random_bool(0.9) {
            values
                .entry(prop(EntityKind::Addon, "config"))
                .or_default()
                .insert(key.clone(), Value::Object(config));
        }
        let inst = Installation {
            app_key: key.clone(),
            base_url: d.base_url.clone(),
            shared_secret: Some(format!("secret-{a}")),
            // A quarter of the apps that support guests are switched off by the admin.
            guest_access_enabled: a % 10 != 0,
            descriptor: raw,
            installed_at_ms: 0,
        };
        let app = Arc::new(CompiledApp {
            installation: inst,
            descriptor: d,
        });
        for (i, m) in app.descriptor.modules.iter().enumerate() {
            by_location
                .entry(m.location.clone())
                .or_default()
                .push((app.clone(), i));
        }
        apps.insert(key, app);
    }
    let user_ids = users.iter().map(|u| u.account_id.clone()).collect();
    let page_ids = content.iter().map(|c| c.id.clone()).collect();
    World {
        snapshot: TenantSnapshot {
            generation: 1,
            apps,
            by_location,
            macros: HashMap::new(),
            users: users
                .into_iter()
                .map(|u| (u.account_id.clone(), u))
                .collect(),
            spaces: spaces.into_iter().map(|s| (s.key.clone(), s)).collect(),
            content: content.into_iter().map(|c| (c.id.clone(), c)).collect(),
            values,
        },
        users: user_ids,
        pages: page_ids,
    }
}

/// One sampled page view: who, which page (or none), which location.
#[derive(Debug, Clone)]
pub struct Sample {
    pub account_id: Option<String>,
    pub content_id: Option<String>,
    pub location: &'static str,
}

impl World {
    /// Page views the user may actually open (a render plan is asked only
    /// for pages the host shows), with a few anonymous, page-less views.
    pub fn samples(&self, seed: u64, n: usize) -> Vec<Sample> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let location = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
            if rng.random_bool(0.05) {
                out.push(Sample {
                    account_id: None,
                    content_id: None,
                    location,
                });
                continue;
            }
            let u = self.users[rng.random_range(0..self.users.len())].clone();
            let p = self.pages[rng.random_range(0..self.pages.len())].clone();
            let s = Sample {
                account_id: Some(u),
                content_id: Some(p),
                location,
            };
            if render::resolve(&self.snapshot, &s.view()).is_ok() {
                out.push(s);
            }
        }
        out
    }
}

impl Sample {
    pub fn view(&self) -> PageView {
        PageView {
            account_id: self.account_id.clone(),
            location: self.location.into(),
            space_key: None,
            content_id: self.content_id.clone(),
            app: None,
            module: None,
        }
    }
}

/// Gatehouse: the render plan's visibility bits, in plan order.
pub fn gatehouse_plan(w: &World, s: &Sample) -> Vec<(String, bool)> {
    let view = s.view();
    let page = render::resolve(&w.snapshot, &view).expect("samples are visible");
    render::plan(&w.snapshot, &page, &view, false, |_| None)
        .into_iter()
        .map(|m| (format!("{}/{}", m.app, m.module), m.visible))
        .collect()
}

pub fn resolve<'a>(w: &'a World, s: &Sample) -> Page<'a> {
    render::resolve(&w.snapshot, &s.view()).expect("samples are visible")
}

/// Flattens a JSON value into `path → scalar as text` and `path → [strings]`,
/// the shape both Cedar records and rhai maps hold well.
pub fn flatten(
    prefix: &str,
    v: &Value,
    scalars: &mut BTreeMap<String, String>,
    arrays: &mut BTreeMap<String, Vec<String>>,
) {
    match v {
        Value::Object(o) => {
            scalars.insert(prefix.to_string(), "{}".into());
            for (k, v) in o {
                flatten(&format!("{prefix}.{k}"), v, scalars, arrays);
            }
        }
        Value::Array(a) => {
            scalars.insert(prefix.to_string(), "[]".into());
            arrays.insert(prefix.to_string(), a.iter().map(scalar_text).collect());
        }
        other => {
            scalars.insert(prefix.to_string(), scalar_text(other));
        }
    }
}

pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn path_key(key: &str, path: &[String]) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{key}.{}", path.join("."))
    }
}

/// Target syntax for one engine.
pub trait Dialect {
    fn user_type(&self) -> &'static str;
    fn user_admin(&self) -> &'static str;
    fn in_space_set(&self, set: &str) -> String;
    fn content_view(&self) -> String;
    fn has_content(&self) -> &'static str;
    fn scalars(&self, entity: EntityKind) -> &'static str;
    fn arrays(&self, entity: EntityKind) -> &'static str;
    fn has_key(&self, map: &str, key: &str) -> String;
    fn index(&self, map: &str, key: &str) -> String;
    fn contains_any(&self, array: &str, values: &[String]) -> String;
}

fn perm_set(p: Perm) -> &'static str {
    match p {
        Perm::View => "views",
        Perm::Edit => "edits",
        Perm::Admin => "admins",
    }
}

/// Translates a compiled condition into `d`'s expression syntax.
pub fn translate(c: &Condition, d: &dyn Dialect) -> String {
    match c {
        Condition::All(v) if v.is_empty() => "true".into(),
        Condition::Any(v) if v.is_empty() => "false".into(),
        Condition::All(v) => format!(
            "({})",
            v.iter()
                .map(|c| translate(c, d))
                .collect::<Vec<_>>()
                .join(" && ")
        ),
        Condition::Any(v) => format!(
            "({})",
            v.iter()
                .map(|c| translate(c, d))
                .collect::<Vec<_>>()
                .join(" || ")
        ),
        Condition::Not(c) => format!("!({})", translate(c, d)),
        Condition::Leaf(l) => leaf_expr(l, d),
    }
}

fn entity_guard(e: EntityKind, d: &dyn Dialect) -> Option<&'static str> {
    (e == EntityKind::Content).then(|| d.has_content())
}

fn leaf_expr(l: &Leaf, d: &dyn Dialect) -> String {
    let t = d.user_type();
    match l {
        Leaf::UserIsLoggedIn => format!("{t} != \"anonymous\""),
        Leaf::UserIsAdmin => format!("({} && {t} == \"licensed\")", d.user_admin()),
        Leaf::UserIsGuest => format!("{t} == \"guest\""),
        Leaf::CanSeeUserDirectory => format!("{t} == \"licensed\""),
        Leaf::HasSpacePermission { permission } => d.in_space_set(perm_set(*permission)),
        Leaf::HasContentPermission { permission } => match permission {
            Perm::View => d.content_view(),
            p => format!("({} && {})", d.content_view(), d.in_space_set(perm_set(*p))),
        },
        Leaf::EntityPropertyExists { property, path } => {
            let k = path_key(&property.key, path);
            guard(
                entity_guard(property.entity, d),
                d.has_key(d.scalars(property.entity), &k),
            )
        }
        Leaf::EntityPropertyEqualTo {
            property,
            path,
            value,
        } => {
            let k = path_key(&property.key, path);
            let map = d.scalars(property.entity);
            let e = format!(
                "({} && {} == {})",
                d.has_key(map, &k),
                d.index(map, &k),
                json!(scalar_text(value))
            );
            guard(entity_guard(property.entity, d), e)
        }
        Leaf::EntityPropertyContainsAny {
            property,
            path,
            values,
        } => {
            let k = path_key(&property.key, path);
            let arrays = d.arrays(property.entity);
            let vals: Vec<String> = values.iter().map(scalar_text).collect();
            let e = format!(
                "({} && {})",
                d.has_key(arrays, &k),
                d.contains_any(&d.index(arrays, &k), &vals)
            );
            guard(entity_guard(property.entity, d), e)
        }
    }
}

fn guard(g: Option<&str>, e: String) -> String {
    match g {
        Some(g) => format!("({g} && {e})"),
        None => e,
    }
}

/// The guest/admin gate, in a dialect.
pub fn gate_expr(rule: GuestRule, d: &dyn Dialect, guest_ok: &str) -> String {
    let t = d.user_type();
    let site_admin = format!("({} && {t} == \"licensed\")", d.user_admin());
    match rule {
        GuestRule::Allowed => "true".into(),
        GuestRule::BlockedUnlessOptIn => format!("({t} != \"guest\" || {guest_ok})"),
        GuestRule::SiteAdminOnly => site_admin,
        GuestRule::SpaceAdminOnly => format!(
            "({site_admin} || ({t} == \"licensed\" && {}))",
            d.in_space_set("admins")
        ),
    }
}

/// Every user's permission sets, as space keys.
pub fn space_sets(w: &World, user: &User) -> [Vec<String>; 3] {
    let actor = user.actor();
    let mut sets = [Vec::new(), Vec::new(), Vec::new()];
    for s in w.snapshot.spaces.values() {
        let p = directory::space_permissions(&actor, s);
        for (i, held) in [p.view, p.edit, p.admin].into_iter().enumerate() {
            if held {
                sets[i].push(s.key.clone());
            }
        }
    }
    for s in &mut sets {
        s.sort();
    }
    sets
}

pub mod casbin_encoding;
pub mod cedar_encoding;
