//! WeCom's callback events (the decrypted XML), parsed with quick-xml into [`Event`]. Command events
//! carry `<InfoType>` (reference §7.2, §7.4); self-built contact events carry `<Event>change_contact</Event>`
//! with `<ChangeType>`. Anything else is [`Event::Unknown`] with the raw XML: a new WeCom event must never
//! fail a callback.
//!
//! ```
//! use wecom::event::{Event, parse_event};
//! let xml = "<xml><SuiteId><![CDATA[dk123]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>\
//!            <TimeStamp>1403610513</TimeStamp><SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>";
//! let event = parse_event(xml).unwrap();
//! assert_eq!(event, Event::SuiteTicket { suite_id: "dk123".into(), ticket: "asdfasfdasdfasdf".into(), timestamp: 1403610513 });
//! assert_eq!(parse_event(&event.to_xml()).unwrap(), event);
//! ```

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("event {info_type} lacks {field}")]
    Missing { info_type: String, field: &'static str },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    SuiteTicket {
        suite_id: String,
        ticket: String,
        timestamp: i64,
    },
    CreateAuth {
        suite_id: String,
        auth_code: String,
        state: Option<String>,
        timestamp: i64,
    },
    ChangeAuth {
        suite_id: String,
        auth_corp_id: String,
        timestamp: i64,
    },
    CancelAuth {
        suite_id: String,
        auth_corp_id: String,
        timestamp: i64,
    },
    ResetPermanentCode {
        suite_id: String,
        auth_code: String,
        timestamp: i64,
    },
    /// An address-book change (通讯录回调, path/90970 for self-built apps, path/90639 for third-party and
    /// delegated apps). With `suite_id` it is the provider format (`InfoType`, `AuthCorpId`); without, the
    /// self-built format (`MsgType=event`, `Event=change_contact`, `ToUserName` = the corp).
    ChangeContact {
        suite_id: Option<String>,
        auth_corp_id: Option<String>,
        /// `create_user`, `update_user`, `delete_user`, `create_party`, ...
        change_type: String,
        user_id: Option<String>,
        /// The member's fields as the event carries them (only those WeCom sent). Boxed: the largest variant.
        member: Box<ContactMember>,
        timestamp: i64,
    },
    Unknown {
        info_type: Option<String>,
        raw: String,
    },
}

/// The member fields of a `change_contact` event. WeCom sends only what changed, and since 2022 only what the
/// receiving app may read (path/90970: mobile, email, avatar … not for new apps), so every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactMember {
    /// `NewUserID`: the member's userid was changed to this.
    pub new_user_id: Option<String>,
    /// `OpenUserID` (third-party apps).
    pub open_user_id: Option<String>,
    pub name: Option<String>,
    /// `Department`: comma-separated ids.
    pub department: Option<Vec<i64>>,
    pub position: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub biz_mail: Option<String>,
    pub avatar: Option<String>,
    /// `Status`: 1 active, 2 disabled, 4 not yet active (path/90970); user/get adds 5, left.
    pub status: Option<i64>,
}

impl ContactMember {
    const FIELDS: [&'static str; 10] =
        ["NewUserID", "OpenUserID", "Name", "Department", "Position", "Mobile", "Email", "BizMail", "Avatar", "Status"];

    fn parse(get: impl Fn(&str) -> Option<String>) -> ContactMember {
        ContactMember {
            new_user_id: get("NewUserID"),
            open_user_id: get("OpenUserID"),
            name: get("Name"),
            department: get("Department").map(|d| d.split(',').filter_map(|x| x.trim().parse::<i64>().ok()).collect()),
            position: get("Position"),
            mobile: get("Mobile"),
            email: get("Email"),
            biz_mail: get("BizMail"),
            avatar: get("Avatar"),
            status: get("Status").and_then(|s| s.trim().parse().ok()),
        }
    }

    fn values(&self) -> [Option<String>; 10] {
        [
            self.new_user_id.clone(),
            self.open_user_id.clone(),
            self.name.clone(),
            self.department.as_ref().map(|d| d.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
            self.position.clone(),
            self.mobile.clone(),
            self.email.clone(),
            self.biz_mail.clone(),
            self.avatar.clone(),
            self.status.map(|s| s.to_string()),
        ]
    }

    fn write(&self, out: &mut String) {
        for (name, value) in Self::FIELDS.iter().zip(self.values()) {
            if let Some(value) = value {
                push(out, name, &value);
            }
        }
    }
}

/// The direct children of the root element, in order, as (name, text) — text and CDATA joined.
/// Nested elements deeper than one level are skipped. Bounded: at most 256 fields.
pub fn flat_fields(xml: &str) -> Result<Vec<(String, String)>, EventError> {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut saw_root = false;
    loop {
        match reader.read_event() {
            Ok(XmlEvent::Start(start)) => {
                depth += 1;
                if depth == 1 {
                    saw_root = true;
                } else if depth == 2 {
                    current = Some((String::from_utf8_lossy(start.name().as_ref()).into_owned(), String::new()));
                }
            }
            Ok(XmlEvent::Empty(start)) => {
                if depth == 0 {
                    saw_root = true;
                } else if depth == 1 {
                    fields.push((String::from_utf8_lossy(start.name().as_ref()).into_owned(), String::new()));
                }
            }
            Ok(XmlEvent::End(_)) => {
                if let (2, Some(field)) = (depth, current.take()) {
                    fields.push(field);
                }
                depth = depth.checked_sub(1).ok_or_else(|| EventError::Xml("unbalanced end tag".into()))?;
                if depth == 0 {
                    break;
                }
            }
            Ok(XmlEvent::Text(text)) => {
                if let (2, Some((_, value))) = (depth, current.as_mut()) {
                    let unescaped = text.unescape().map_err(|e| EventError::Xml(e.to_string()))?;
                    value.push_str(unescaped.trim());
                }
            }
            Ok(XmlEvent::CData(data)) => {
                if let (2, Some((_, value))) = (depth, current.as_mut()) {
                    value.push_str(&String::from_utf8_lossy(&data.into_inner()));
                }
            }
            Ok(XmlEvent::Eof) => {
                if depth != 0 || !saw_root {
                    return Err(EventError::Xml("truncated document".into()));
                }
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(EventError::Xml(e.to_string())),
        }
        if fields.len() > 256 {
            return Err(EventError::Xml("too many elements".into()));
        }
    }
    Ok(fields)
}

/// Parses a decrypted event.
pub fn parse_event(xml: &str) -> Result<Event, EventError> {
    let fields = flat_fields(xml)?;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let timestamp = get("TimeStamp").or_else(|| get("CreateTime")).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    let info_type = get("InfoType");
    let need = |name: &'static str, info: &str| {
        get(name).ok_or(EventError::Missing { info_type: info.to_string(), field: name })
    };
    let event = match info_type.as_deref() {
        Some(t @ "suite_ticket") => {
            Event::SuiteTicket { suite_id: need("SuiteId", t)?, ticket: need("SuiteTicket", t)?, timestamp }
        }
        Some(t @ "create_auth") => Event::CreateAuth {
            suite_id: need("SuiteId", t)?,
            auth_code: need("AuthCode", t)?,
            state: get("State"),
            timestamp,
        },
        Some(t @ "change_auth") => {
            Event::ChangeAuth { suite_id: need("SuiteId", t)?, auth_corp_id: need("AuthCorpId", t)?, timestamp }
        }
        Some(t @ "cancel_auth") => {
            Event::CancelAuth { suite_id: need("SuiteId", t)?, auth_corp_id: need("AuthCorpId", t)?, timestamp }
        }
        Some(t @ "reset_permanent_code") => {
            Event::ResetPermanentCode { suite_id: need("SuiteId", t)?, auth_code: need("AuthCode", t)?, timestamp }
        }
        Some("change_contact") => Event::ChangeContact {
            suite_id: get("SuiteId"),
            auth_corp_id: get("AuthCorpId"),
            change_type: get("ChangeType").unwrap_or_default(),
            user_id: get("UserID"),
            member: Box::new(ContactMember::parse(get)),
            timestamp,
        },
        None if get("Event").as_deref() == Some("change_contact") => Event::ChangeContact {
            suite_id: None,
            auth_corp_id: get("ToUserName"),
            change_type: get("ChangeType").unwrap_or_default(),
            user_id: get("UserID"),
            member: Box::new(ContactMember::parse(get)),
            timestamp,
        },
        other => Event::Unknown { info_type: other.map(String::from).or_else(|| get("Event")), raw: xml.to_string() },
    };
    Ok(event)
}

/// Wraps text for a CDATA section, splitting any `]]>` it contains.
pub fn cdata_safe(text: &str) -> String {
    text.replace("]]>", "]]]]><![CDATA[>")
}

fn push(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("<{name}><![CDATA[{}]]></{name}>", cdata_safe(value)));
}

impl Event {
    /// The XML WeCom sends for this event.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<xml>");
        let timestamp = |out: &mut String, t: &i64| out.push_str(&format!("<TimeStamp>{t}</TimeStamp>"));
        match self {
            Event::SuiteTicket { suite_id, ticket, timestamp: t } => {
                push(&mut out, "SuiteId", suite_id);
                push(&mut out, "InfoType", "suite_ticket");
                timestamp(&mut out, t);
                push(&mut out, "SuiteTicket", ticket);
            }
            Event::CreateAuth { suite_id, auth_code, state, timestamp: t } => {
                push(&mut out, "SuiteId", suite_id);
                push(&mut out, "AuthCode", auth_code);
                push(&mut out, "InfoType", "create_auth");
                timestamp(&mut out, t);
                if let Some(state) = state {
                    push(&mut out, "State", state);
                }
            }
            Event::ChangeAuth { suite_id, auth_corp_id, timestamp: t }
            | Event::CancelAuth { suite_id, auth_corp_id, timestamp: t } => {
                push(&mut out, "SuiteId", suite_id);
                let kind = if matches!(self, Event::ChangeAuth { .. }) { "change_auth" } else { "cancel_auth" };
                push(&mut out, "InfoType", kind);
                timestamp(&mut out, t);
                push(&mut out, "AuthCorpId", auth_corp_id);
            }
            Event::ResetPermanentCode { suite_id, auth_code, timestamp: t } => {
                push(&mut out, "SuiteId", suite_id);
                push(&mut out, "AuthCode", auth_code);
                push(&mut out, "InfoType", "reset_permanent_code");
                timestamp(&mut out, t);
            }
            Event::ChangeContact { suite_id: Some(s), auth_corp_id, change_type, user_id, member, timestamp: t } => {
                push(&mut out, "SuiteId", s);
                if let Some(c) = auth_corp_id {
                    push(&mut out, "AuthCorpId", c);
                }
                push(&mut out, "InfoType", "change_contact");
                timestamp(&mut out, t);
                push(&mut out, "ChangeType", change_type);
                if let Some(u) = user_id {
                    push(&mut out, "UserID", u);
                }
                member.write(&mut out);
            }
            // The self-built format (path/90970): to the corp, from `sys`.
            Event::ChangeContact { suite_id: None, auth_corp_id, change_type, user_id, member, timestamp: t } => {
                push(&mut out, "ToUserName", auth_corp_id.as_deref().unwrap_or_default());
                push(&mut out, "FromUserName", "sys");
                out.push_str(&format!("<CreateTime>{t}</CreateTime>"));
                push(&mut out, "MsgType", "event");
                push(&mut out, "Event", "change_contact");
                push(&mut out, "ChangeType", change_type);
                if let Some(u) = user_id {
                    push(&mut out, "UserID", u);
                }
                member.write(&mut out);
            }
            Event::Unknown { raw, .. } => return raw.clone(),
        }
        out.push_str("</xml>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips() {
        let events = [
            Event::SuiteTicket { suite_id: "dk1".into(), ticket: "t".into(), timestamp: 1 },
            Event::CreateAuth { suite_id: "dk1".into(), auth_code: "a".into(), state: Some("s".into()), timestamp: 2 },
            Event::CreateAuth { suite_id: "dk1".into(), auth_code: "a".into(), state: None, timestamp: 2 },
            Event::ChangeAuth { suite_id: "dk1".into(), auth_corp_id: "ww1".into(), timestamp: 3 },
            Event::CancelAuth { suite_id: "dk1".into(), auth_corp_id: "ww1".into(), timestamp: 4 },
            Event::ResetPermanentCode { suite_id: "dk1".into(), auth_code: "b".into(), timestamp: 5 },
            Event::ChangeContact {
                suite_id: Some("dk1".into()),
                auth_corp_id: Some("ww1".into()),
                change_type: "update_user".into(),
                user_id: Some("zhangsan".into()),
                member: Box::new(ContactMember {
                    name: Some("张三".into()),
                    department: Some(vec![1, 2]),
                    status: Some(2),
                    open_user_id: Some("woX".into()),
                    ..ContactMember::default()
                }),
                timestamp: 6,
            },
            Event::ChangeContact {
                suite_id: None,
                auth_corp_id: Some("ww1".into()),
                change_type: "delete_user".into(),
                user_id: Some("bob".into()),
                member: Box::default(),
                timestamp: 7,
            },
        ];
        for event in events {
            assert_eq!(parse_event(&event.to_xml()).unwrap(), event);
        }
    }

    #[test]
    fn self_built_change_contact_and_unknown_events() {
        let xml = "<xml><ToUserName><![CDATA[ww1]]></ToUserName><CreateTime>7</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ChangeType>delete_user</ChangeType><UserID><![CDATA[bob]]></UserID></xml>";
        assert_eq!(
            parse_event(xml).unwrap(),
            Event::ChangeContact {
                suite_id: None,
                auth_corp_id: Some("ww1".into()),
                change_type: "delete_user".into(),
                user_id: Some("bob".into()),
                member: Box::default(),
                timestamp: 7
            }
        );
        let text = "<xml><ToUserName>ww1</ToUserName><MsgType>text</MsgType><Content>你好</Content></xml>";
        assert!(matches!(parse_event(text).unwrap(), Event::Unknown { info_type: None, .. }));
        let future = "<xml><InfoType>brand_new_event</InfoType><Nested><A>1</A></Nested></xml>";
        assert_eq!(
            parse_event(future).unwrap(),
            Event::Unknown { info_type: Some("brand_new_event".into()), raw: future.into() }
        );
    }

    #[test]
    fn truncated_or_incomplete_xml_is_an_error() {
        for bad in ["", "<xml>", "<xml><InfoType>suite_ticket</InfoType>", "not xml", "<xml><a></b></xml>"] {
            assert!(parse_event(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_event("<xml><InfoType>suite_ticket</InfoType></xml>"),
            Err(EventError::Missing { field: "SuiteId", .. })
        ));
    }

    #[test]
    fn cdata_with_terminator_survives() {
        let e = Event::SuiteTicket { suite_id: "dk1".into(), ticket: "a]]>b".into(), timestamp: 1 };
        assert_eq!(parse_event(&e.to_xml()).unwrap(), e);
    }
}
