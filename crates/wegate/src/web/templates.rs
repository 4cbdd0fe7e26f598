//! Server-rendered pages: minijinja templates compiled into the binary, HTML auto-escaped.

use std::sync::LazyLock;

use minijinja::{Environment, Value};

use super::i18n::Lang;

static TEMPLATES: LazyLock<Result<Templates, minijinja::Error>> = LazyLock::new(Templates::new);

/// Renders a page with the built-in templates. The templates are compiled into the binary and parsed
/// once; a unit test proves they parse, so an error here is a bug, reported as such.
pub fn render(name: &str, lang: Lang, ctx: Value) -> Result<String, minijinja::Error> {
    match &*TEMPLATES {
        Ok(templates) => templates.render(name, lang, ctx),
        Err(e) => Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())),
    }
}

/// The page templates, loaded once at start.
pub struct Templates {
    env: Environment<'static>,
}

const SOURCES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("bind.html", include_str!("../../templates/bind.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    ("client_code.html", include_str!("../../templates/client_code.html")),
    ("directory.html", include_str!("../../templates/directory.html")),
    ("console/base.html", include_str!("../../templates/console/base.html")),
    ("console/login.html", include_str!("../../templates/console/login.html")),
    ("console/denied.html", include_str!("../../templates/console/denied.html")),
    ("console/dashboard.html", include_str!("../../templates/console/dashboard.html")),
    ("console/apps.html", include_str!("../../templates/console/apps.html")),
    ("console/app.html", include_str!("../../templates/console/app.html")),
    ("console/connections.html", include_str!("../../templates/console/connections.html")),
    ("console/connection.html", include_str!("../../templates/console/connection.html")),
    ("console/users.html", include_str!("../../templates/console/users.html")),
    ("console/user.html", include_str!("../../templates/console/user.html")),
    ("console/audit.html", include_str!("../../templates/console/audit.html")),
];

impl Templates {
    pub fn new() -> Result<Templates, minijinja::Error> {
        let mut env = Environment::new();
        // `.html` templates are escaped by default in minijinja; keep it explicit.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in SOURCES {
            env.add_template(name, source)?;
        }
        Ok(Templates { env })
    }

    /// Renders `name` with `ctx` plus `t` (the strings of `lang`) and `lang`. A page that gives `here`
    /// (its own path) gets a link that switches to the other language and comes back.
    pub fn render(&self, name: &str, lang: Lang, ctx: Value) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(name)?;
        let switch_href = ctx.get_attr("here").ok().and_then(|here| here.as_str().map(|h| switch_href(lang, h)));
        template.render(minijinja::context! { t => lang.strings(), lang => lang.code(), switch_href, ..ctx })
    }
}

/// `/language?lang=<the other one>&return=<here>`.
fn switch_href(lang: Lang, here: &str) -> String {
    let other = lang.other().short();
    let back = percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC);
    format!("/language?lang={other}&return={back}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_escape() {
        let html =
            render("message.html", Lang::En, minijinja::context! { title => "<script>x</script>", message => "a & b" })
                .unwrap();
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>x"));
    }
}
