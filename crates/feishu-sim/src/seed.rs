//! The simulated world as data: tenants (企业) with their users, and apps (custom or marketplace) with
//! their credentials, enabled scopes, availability (可用范围) and installations. Plus the deterministic
//! open_id / union_id derivations [FS-terms][FS-uid].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEMO_TENANT: &str = "tenant-acme";
pub const OTHER_TENANT: &str = "tenant-other";
/// The developer (ISV) tenant of the marketplace app: no users, nothing installed.
pub const ISV_TENANT: &str = "tenant-isv";
pub const CUSTOM_APP_ID: &str = "cli_acmecustom0001";
pub const CUSTOM_APP_SECRET: &str = "acme-custom-secret";
pub const CUSTOM_ENCRYPT_KEY: &str = "acme-encrypt-key";
pub const CUSTOM_VERIFICATION_TOKEN: &str = "acme-verification-token";
pub const STORE_APP_ID: &str = "cli_storeapp00001";
pub const STORE_APP_SECRET: &str = "store-app-secret";
pub const STORE_ENCRYPT_KEY: &str = "store-encrypt-key";
pub const STORE_VERIFICATION_TOKEN: &str = "store-verification-token";

/// The scopes both demo apps have enabled [FS-uinfo].
pub const DEMO_SCOPES: [&str; 5] = [
    "contact:user.employee_id:readonly",
    "contact:user.email:readonly",
    "contact:user.phone:readonly",
    "contact:user.employee:readonly",
    "offline_access",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Resigned,
    Frozen,
}

/// Only `id`, `user_id` and `name` are required in a seed file ([`Seed::validate`] checks them).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// Sim-global id (`u-zhangsan`); Feishu never shows it.
    pub id: String,
    /// Per tenant, admin-changeable [FS-uid].
    pub user_id: String,
    pub name: String,
    pub en_name: Option<String>,
    pub email: Option<String>,
    pub enterprise_email: Option<String>,
    /// E.164 (`+86…`) [FS-uinfo].
    pub mobile: Option<String>,
    pub employee_no: Option<String>,
    pub avatar_url: Option<String>,
    pub status: UserStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub tenant_key: String,
    pub name: String,
    #[serde(default)]
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// 企业自建应用.
    Custom,
    /// 商店应用 (ISV).
    Marketplace,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    pub app_id: String,
    pub app_secret: String,
    pub kind: AppKind,
    /// The developer: a custom app's only tenant, an ISV's own tenant for a marketplace app.
    pub owner_tenant: String,
    #[serde(default)]
    pub encrypt_key: Option<String>,
    pub verification_token: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scopes enabled for the app (权限管理).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Sim user ids in the availability scope (可用范围); None = everyone of an installed tenant.
    #[serde(default)]
    pub available_to: Option<Vec<String>>,
    /// Tenant keys; a custom app: just its owner.
    #[serde(default)]
    pub installed_in: Vec<String>,
}

impl App {
    pub(crate) fn available(&self, user: &str) -> bool {
        self.available_to.as_ref().is_none_or(|a| a.iter().any(|u| u == user))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seed {
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub apps: Vec<App>,
}

fn user(id: &str, user_id: &str, name: &str) -> User {
    User { id: id.into(), user_id: user_id.into(), name: name.into(), ..User::default() }
}

fn app(app_id: &str, secret: &str, kind: AppKind, owner: &str, key: &str, token: &str) -> App {
    App {
        app_id: app_id.into(),
        app_secret: secret.into(),
        kind,
        owner_tenant: owner.into(),
        encrypt_key: Some(key.into()),
        verification_token: token.into(),
        redirect_uris: vec![],
        scopes: DEMO_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        available_to: None,
        installed_in: vec![],
    }
}

impl Seed {
    /// Acme (张三, 李四, 王五 outside the custom app's availability, 赵六 resigned), Other Co (孙七, 周八), an
    /// ISV tenant without users; the Acme custom app and the ISV's marketplace app installed in both.
    pub fn demo() -> Seed {
        let zhangsan = User {
            en_name: Some("San Zhang".into()),
            email: Some("zhangsan@acme.example".into()),
            enterprise_email: Some("zhangsan@acme-corp.example".into()),
            mobile: Some("+8613800000001".into()),
            employee_no: Some("A001".into()),
            avatar_url: Some("https://sim.feishu.example/avatar/zhangsan.png".into()),
            ..user("u-zhangsan", "zhangsan", "张三")
        };
        let lisi = User {
            email: Some("lisi@acme.example".into()),
            mobile: Some("+8613800000002".into()),
            ..user("u-lisi", "lisi", "李四")
        };
        let zhaoliu = User { status: UserStatus::Resigned, ..user("u-zhaoliu", "zhaoliu", "赵六") };
        let custom = App {
            available_to: Some(vec!["u-zhangsan".into(), "u-lisi".into(), "u-zhaoliu".into()]),
            installed_in: vec![DEMO_TENANT.into()],
            ..app(
                CUSTOM_APP_ID,
                CUSTOM_APP_SECRET,
                AppKind::Custom,
                DEMO_TENANT,
                CUSTOM_ENCRYPT_KEY,
                CUSTOM_VERIFICATION_TOKEN,
            )
        };
        let store = App {
            installed_in: vec![DEMO_TENANT.into(), OTHER_TENANT.into()],
            ..app(
                STORE_APP_ID,
                STORE_APP_SECRET,
                AppKind::Marketplace,
                ISV_TENANT,
                STORE_ENCRYPT_KEY,
                STORE_VERIFICATION_TOKEN,
            )
        };
        Seed {
            tenants: vec![
                Tenant {
                    tenant_key: DEMO_TENANT.into(),
                    name: "Acme 示例科技".into(),
                    users: vec![zhangsan, lisi, user("u-wangwu", "wangwu", "王五"), zhaoliu],
                },
                Tenant {
                    tenant_key: OTHER_TENANT.into(),
                    name: "Other Co".into(),
                    users: vec![user("u-sunqi", "sunqi", "孙七"), user("u-zhouba", "zhouba", "周八")],
                },
                Tenant { tenant_key: ISV_TENANT.into(), name: "ISV 开发商".into(), users: vec![] },
            ],
            apps: vec![custom, store],
        }
    }

    /// Unique ids; apps point at existing tenants and users; a custom app lives in its owner only.
    pub fn validate(&self) -> Result<(), String> {
        let (mut tenants, mut users) = (HashSet::new(), HashSet::new());
        for t in &self.tenants {
            if t.tenant_key.is_empty() || !tenants.insert(t.tenant_key.as_str()) {
                return Err(format!("tenant_key {:?} is empty or repeated", t.tenant_key));
            }
            let mut user_ids = HashSet::new();
            for u in &t.users {
                if u.id.is_empty() || !users.insert(u.id.as_str()) {
                    return Err(format!("user id {:?} is empty or repeated", u.id));
                }
                if u.user_id.is_empty() || !user_ids.insert(u.user_id.as_str()) {
                    return Err(format!("{}: user_id {:?} is empty or repeated", t.tenant_key, u.user_id));
                }
            }
        }
        let mut apps = HashSet::new();
        for a in &self.apps {
            // [FS-terms] App IDs look like cli_….
            if !a.app_id.starts_with("cli_") || !apps.insert(a.app_id.as_str()) {
                return Err(format!("app_id {:?} must start with cli_ and be unique", a.app_id));
            }
            if !tenants.contains(a.owner_tenant.as_str()) {
                return Err(format!("app {}: unknown owner tenant {}", a.app_id, a.owner_tenant));
            }
            if let Some(t) = a.installed_in.iter().find(|t| !tenants.contains(t.as_str())) {
                return Err(format!("app {}: installed in unknown tenant {t}", a.app_id));
            }
            if a.kind == AppKind::Custom && a.installed_in != [a.owner_tenant.clone()] {
                return Err(format!("custom app {} must be installed in its owner only", a.app_id));
            }
            let installed_user = |u: &str| {
                self.tenants.iter().any(|t| a.installed_in.contains(&t.tenant_key) && t.users.iter().any(|x| x.id == u))
            };
            if let Some(u) = a.available_to.iter().flatten().find(|u| !installed_user(u)) {
                return Err(format!("app {}: available_to names {u}, not a user of an installed tenant", a.app_id));
            }
        }
        Ok(())
    }
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// [FS-terms] open_id (`ou_…`): per (app, user) — another App ID sees another open_id.
pub fn open_id(app_id: &str, user: &str) -> String {
    format!("ou_{}", &digest(&["open_id", app_id, user])[..32])
}

/// [FS-terms] union_id (`on_…`): per (developer, user) — the same across one developer's apps.
pub fn union_id(owner_tenant: &str, user: &str) -> String {
    format!("on_{}", &digest(&["union_id", owner_tenant, user])[..32])
}
