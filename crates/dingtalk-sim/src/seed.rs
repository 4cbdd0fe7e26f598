//! What exists in the simulated DingTalk: accounts (people), orgs with their members, internal apps.
//! Built in code ([`Seed::demo`]) or read from TOML ([`Seed::from_toml`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

pub const DEMO_CORP_ID: &str = "dingacme0001";
pub const DEMO_CLIENT_ID: &str = "dingacmeapp";
pub const DEMO_CLIENT_SECRET: &str = "acme-app-secret";
pub const OTHER_CORP_ID: &str = "dingother0002";
pub const OTHER_CLIENT_ID: &str = "dingotherapp";
pub const OTHER_CLIENT_SECRET: &str = "other-app-secret";

/// Every permission the simulator knows.
pub const ALL_PERMISSIONS: [&str; 4] =
    ["Contact.User.Read", "qyapi_get_member", "Contact.User.mobile", "Contact.User.email"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    #[serde(default)]
    pub orgs: Vec<Org>,
    #[serde(default)]
    pub apps: Vec<App>,
    #[serde(default)]
    pub people: Vec<Person>,
}

/// A DingTalk account: exists independently of any org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub nick: String,
    #[serde(default)]
    pub mobile: Option<String>,
    /// The personal mailbox (what `users/me` returns), not the org mailbox.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub corp_id: String,
    pub name: String,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub person: String,
    pub userid: String,
    pub name: String,
    /// contact_type 1 = 企业外部联系人.
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub org_email: Option<String>,
    #[serde(default)]
    pub job_number: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// An internal app; `corp_id` owns it and is also its developer account (scope of unionIds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub corp_id: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

impl App {
    pub(crate) fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

fn person(id: &str, nick: &str, mobile: Option<&str>, email: Option<&str>, avatar: Option<&str>) -> Person {
    Person {
        id: id.into(),
        nick: nick.into(),
        mobile: mobile.map(Into::into),
        email: email.map(Into::into),
        avatar_url: avatar.map(Into::into),
    }
}

fn member(person: &str, userid: &str, name: &str) -> Member {
    Member {
        person: person.into(),
        userid: userid.into(),
        name: name.into(),
        external: false,
        title: None,
        org_email: None,
        job_number: None,
        admin: false,
    }
}

fn app(client_id: &str, secret: &str, corp_id: &str, permissions: &[&str]) -> App {
    App {
        client_id: client_id.into(),
        client_secret: secret.into(),
        corp_id: corp_id.into(),
        redirect_uris: vec![],
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

impl Seed {
    /// Two orgs sharing the userid `zhangsan` (different people), a person in both orgs, an external
    /// contact, a person in no org, and an app without any permission.
    pub fn demo() -> Seed {
        let zhangsan = Member {
            title: Some("技术总监".into()),
            org_email: Some("zhangsan@acme.example".into()),
            job_number: Some("A001".into()),
            admin: true,
            ..member("p-zhangsan", "zhangsan", "张三")
        };
        let wangwu = Member { external: true, ..member("p-wangwu", "wangwu", "王五") };
        Seed {
            people: vec![
                person(
                    "p-zhangsan",
                    "张三",
                    Some("13800000001"),
                    Some("zhangsan@personal.example"),
                    Some("https://static.dingtalk.example/avatar/zhangsan.png"),
                ),
                person("p-lisi", "李四", Some("13800000002"), None, None),
                person("p-wangwu", "王五", None, None, None),
                person("p-zhao", "赵六", Some("13900000006"), Some("zhao@personal.example"), None),
                person("p-sunqi", "孙七", None, None, None),
                person("p-loner", "独行侠", Some("13700000000"), Some("loner@personal.example"), None),
            ],
            orgs: vec![
                Org {
                    corp_id: DEMO_CORP_ID.into(),
                    name: "Acme 示例科技".into(),
                    members: vec![zhangsan, member("p-lisi", "lisi", "李四"), wangwu],
                },
                Org {
                    corp_id: OTHER_CORP_ID.into(),
                    name: "Other Co".into(),
                    members: vec![
                        member("p-zhao", "zhangsan", "赵六"),
                        member("p-sunqi", "sunqi", "孙七"),
                        member("p-lisi", "lisi2", "李四"),
                    ],
                },
            ],
            apps: vec![
                app(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CORP_ID, &ALL_PERMISSIONS),
                app(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_CORP_ID, &ALL_PERMISSIONS),
                app("dingnoperm", "noperm-secret", DEMO_CORP_ID, &[]),
            ],
        }
    }

    /// Parses and validates a TOML seed (`[[people]]`, `[[orgs]]` with `[[orgs.members]]`, `[[apps]]`).
    pub fn from_toml(text: &str) -> Result<Seed, String> {
        let seed: Seed = toml::from_str(text).map_err(|e| format!("seed: {e}"))?;
        seed.validate()?;
        Ok(seed)
    }

    /// Unique ids, members and apps pointing at existing people and orgs, one membership per person per org.
    pub fn validate(&self) -> Result<(), String> {
        let mut people = HashSet::new();
        for p in &self.people {
            if p.id.is_empty() || !people.insert(p.id.as_str()) {
                return Err(format!("person id {:?} is empty or repeated", p.id));
            }
        }
        let mut corps = HashSet::new();
        for o in &self.orgs {
            if o.corp_id.is_empty() || !corps.insert(o.corp_id.as_str()) {
                return Err(format!("corp_id {:?} is empty or repeated", o.corp_id));
            }
            let (mut userids, mut in_org) = (HashSet::new(), HashSet::new());
            for m in &o.members {
                if !people.contains(m.person.as_str()) {
                    return Err(format!("{}: member {} is unknown person {}", o.corp_id, m.userid, m.person));
                }
                if m.userid.is_empty() || !userids.insert(m.userid.as_str()) {
                    return Err(format!("{}: userid {:?} is empty or repeated", o.corp_id, m.userid));
                }
                if !in_org.insert(m.person.as_str()) {
                    return Err(format!("{}: person {} is a member twice", o.corp_id, m.person));
                }
            }
        }
        let mut clients = HashSet::new();
        for a in &self.apps {
            if a.client_id.is_empty() || !clients.insert(a.client_id.as_str()) {
                return Err(format!("client_id {:?} is empty or repeated", a.client_id));
            }
            if !corps.contains(a.corp_id.as_str()) {
                return Err(format!("app {}: unknown corp {}", a.client_id, a.corp_id));
            }
            if let Some(p) = a.permissions.iter().find(|p| !ALL_PERMISSIONS.contains(&p.as_str())) {
                return Err(format!("app {}: unknown permission {p}", a.client_id));
            }
        }
        Ok(())
    }
}
