//! The built-in demo world used by `wegate demo` and `wegate simulator` without a seed file.
//!
//! Its ids and secrets are part of the crate's documented surface (README.md): wegate's demo
//! configures its connections with them, so change them only together.

use super::{App, Corp, Department, Member, Provider, Seed, Suite, Template};

/// CorpID of the demo corp that owns the self-built apps.
pub const DEMO_CORP_ID: &str = "wwdemo0000000001";
/// CorpID of the second corp (the customer that authorizes the delegated template).
pub const CUSTOMER_CORP_ID: &str = "wwdemo0000000002";
/// CorpID of the demo service provider.
pub const PROVIDER_CORP_ID: &str = "wwdemo0000000009";
/// The trusted domain of every demo app and suite: wegate's default listen address. WeCom admits a redirect
/// only on exactly this host and port; `wegate simulator --trusted-domain` or `POST /_sim/trusted_domain`
/// changes it for a server elsewhere.
pub const DEMO_TRUSTED_DOMAIN: &str = "127.0.0.1:8080";

struct M<'a> {
    userid: &'a str,
    name: &'a str,
    mobile: &'a str,
    email: &'a str,
    gender: &'a str,
    department: &'a [u64],
    position: &'a str,
    open_userid: &'a str,
    admin: bool,
}

fn member(m: M<'_>) -> Member {
    Member {
        userid: m.userid.to_owned(),
        name: m.name.to_owned(),
        mobile: m.mobile.to_owned(),
        email: m.email.to_owned(),
        biz_mail: m.email.replace("@", "@biz."),
        gender: m.gender.to_owned(),
        avatar: format!("https://wework.qpic.cn/wwpic/demo_{}/0", m.userid.to_lowercase()),
        department: m.department.to_vec(),
        position: m.position.to_owned(),
        address: String::new(),
        open_userid: Some(m.open_userid.to_owned()),
        admin: m.admin,
        status: 1,
    }
}

fn dept(id: u64, name: &str, parent: Option<u64>) -> Department {
    Department { id, name: name.to_owned(), parent }
}

pub(super) fn demo() -> Seed {
    let demo_corp = Corp {
        corp_id: DEMO_CORP_ID.to_owned(),
        name: "演示科技 Demo Tech".to_owned(),
        full_name: Some("演示科技有限公司".to_owned()),
        departments: vec![
            dept(1, "演示科技", None),
            dept(2, "研发部 R&D", Some(1)),
            dept(3, "销售部 Sales", Some(1)),
            dept(4, "外包 Contractors", Some(1)),
        ],
        members: vec![
            member(M {
                userid: "ZhangSan",
                name: "张三",
                mobile: "+86 13800138000",
                email: "zhangsan@demo-tech.example.com",
                gender: "1",
                department: &[2],
                position: "后端工程师",
                open_userid: "woH9sQyAZiqIhJ5NdLLyMlyCe1GQtAr6",
                admin: true,
            }),
            member(M {
                userid: "WangFang",
                name: "王芳",
                mobile: "+86 13900139000",
                email: "wangfang@demo-tech.example.com",
                gender: "2",
                department: &[3],
                position: "销售经理",
                open_userid: "woTAxqJYCA3CnmzrYriLrmufrpIIBq1U",
                admin: false,
            }),
            member(M {
                userid: "alice",
                name: "Alice Chen",
                mobile: "+86 13700137000",
                email: "alice.chen@demo-tech.example.com",
                gender: "2",
                department: &[2],
                position: "Product Manager",
                open_userid: "woKssHhWxv0MHy2d9BVGBpYK4oyWDXmv",
                admin: false,
            }),
            member(M {
                userid: "bob",
                name: "Bob Smith",
                mobile: "+86 13600136000",
                email: "bob.smith@demo-tech.example.com",
                gender: "1",
                department: &[2, 3],
                position: "CTO",
                open_userid: "womPRayPyXXrnMJu8SqtYrzvoTq5W6J9",
                admin: false,
            }),
            // Outside the demo app's visible scope: WeCom still tells the app who she is, so the
            // broker has to enforce the scope (user/get answers 60011).
            member(M {
                userid: "ZhaoLiu",
                name: "赵六",
                mobile: "+86 13500135000",
                email: "zhaoliu@contractor.example.com",
                gender: "2",
                department: &[4],
                position: "外包顾问",
                open_userid: "woHNjYL1f0Vi5WA4eav68N4uX7ETNSZn",
                admin: false,
            }),
        ],
        apps: vec![
            App {
                agent_id: 1000002,
                secret: "oVVnAgdyg44CAF8kjQOaguaAJDfvQbwKfqSa8ftimr2".to_owned(),
                name: "wegate 演示登录 Demo SSO".to_owned(),
                visible_users: vec![],
                visible_departments: vec![2, 3],
                trusted_domain: DEMO_TRUSTED_DOMAIN.to_owned(),
                legacy_privacy: false,
                schema: Some("wwauthdemo0000000001000002".to_owned()),
                event_url: None,
                token: None,
                encoding_aes_key: None,
            },
            App {
                agent_id: 1000003,
                secret: "FVntjRLaV4I9gBI08jotWz0RX6SNmI3pWn10Tcq5vR7".to_owned(),
                name: "旧版通讯录应用 Legacy App (2021)".to_owned(),
                visible_users: vec![],
                visible_departments: vec![],
                trusted_domain: DEMO_TRUSTED_DOMAIN.to_owned(),
                legacy_privacy: true,
                schema: None,
                event_url: None,
                token: None,
                encoding_aes_key: None,
            },
        ],
        // The sample customer is a linked corp (企业互联): its members reach the demo corp's apps as
        // `CorpId/userid`, which wegate refuses (they are not the demo corp's members).
        linked_corps: vec![CUSTOMER_CORP_ID.to_owned()],
    };
    let customer = Corp {
        corp_id: CUSTOMER_CORP_ID.to_owned(),
        name: "示例客户 Sample Customer".to_owned(),
        full_name: Some("示例客户集团有限公司".to_owned()),
        departments: vec![dept(1, "示例客户", None), dept(2, "信息部 IT", Some(1))],
        members: vec![
            member(M {
                userid: "LiuYang",
                name: "刘洋",
                mobile: "+86 13300133000",
                email: "liuyang@customer.example.com",
                gender: "1",
                department: &[2],
                position: "IT 主管",
                open_userid: "woB3TfiRUQBekg1MwowFg2Fj7BXQqShh",
                admin: true,
            }),
            member(M {
                userid: "emma",
                name: "Emma Wang",
                mobile: "+86 13200132000",
                email: "emma.wang@customer.example.com",
                gender: "2",
                department: &[1],
                position: "Operations",
                open_userid: "woW18su9fj8eUgUp2UjunKXEQk9pChub",
                admin: false,
            }),
            member(M {
                userid: "ChenJing",
                name: "陈静",
                mobile: "+86 13100131000",
                email: "chenjing@customer.example.com",
                gender: "2",
                department: &[2],
                position: "工程师",
                open_userid: "wo6FEaQxCGxamuClxqKnX2NlLP08ELkC",
                admin: false,
            }),
        ],
        apps: vec![],
        linked_corps: vec![],
    };
    Seed {
        corps: vec![demo_corp, customer],
        templates: vec![Template {
            template_id: "dkdemo0000000001".to_owned(),
            template_secret: "V9TNQjcxWIcaZTRcYeDMchuYVp4s6GGWng3oa13olVC".to_owned(),
            token: "0TejMGWfy2GEiYeCXvpZyXVOyfkmPNwE".to_owned(),
            encoding_aes_key: "XLJuoL1QEBZ3Ryad56nVo4YjMV0TsvJrfomPsDX4eTc".to_owned(),
            provider_corp_id: PROVIDER_CORP_ID.to_owned(),
            name: "wegate 代开发演示 Delegated Demo".to_owned(),
            event_url: None,
            trusted_domain: DEMO_TRUSTED_DOMAIN.to_owned(),
            legacy_ids: false,
        }],
        providers: vec![Provider {
            corp_id: PROVIDER_CORP_ID.to_owned(),
            provider_secret: "dvsKQo7omECCUUXw3dFoFNOfL4GRUFeSLzwovXXaEQY".to_owned(),
            name: Some("演示服务商 Demo Provider".to_owned()),
            login_trusted_domain: None,
            suites: vec![Suite {
                suite_id: "wwdemosuite00001".to_owned(),
                suite_secret: "kjiXzJxfGYvaFah8QCBNIakyHbH3tLQOambO0xPreCg".to_owned(),
                token: "8PouVJ6y1RbHYreWDAZMiqvLu4UzGTyZ".to_owned(),
                encoding_aes_key: "y0U7mtotsBWV1CwWLMVAVmnhbxI2iOnEpEVURmoQNtg".to_owned(),
                name: "wegate 服务商登录 Provider Login".to_owned(),
                event_url: None,
                trusted_domain: DEMO_TRUSTED_DOMAIN.to_owned(),
                authorized_corps: vec![DEMO_CORP_ID.to_owned()],
            }],
            legacy_ids: false,
        }],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_seed_is_valid() {
        super::demo().validate().unwrap();
    }
}
