//! A real OpenLDAP `slapd` for the `ldap` connection kind's tests: each [`slapd()`] is a fresh server with its
//! own `slapd.conf`, mdb database and certificates in a temporary directory, listening on two free ports of
//! 127.0.0.1 (`ldap://`, where StartTLS works too, and `ldaps://`), seeded with the people below, and killed
//! when the value is dropped. Needs Debian's `slapd` and `ldap-utils` (and the `openssl` CLI); without them
//! the tests that ask for one are skipped.
//!
//! The directory is strict like a real one: searching needs a bind (anonymous may only bind), the search
//! account reads everything but `userPassword`, and a simple bind with a DN and an empty password is an
//! "unauthenticated bind" that slapd 2.5.13 refuses with resultCode 53 (unwillingToPerform, "unauthenticated
//! bind (DN with no password) disallowed"), not 49 — the default (`allow bind_anon_cred` is not set).
//!
//! Seed (`dc=example,dc=org`):
//! - `cn=search,ou=system` — the search account, password `search-secret`;
//! - `ou=people`, all `inetOrgPerson`: `uid=alice` ("Alice Liddell", alice@example.org, "+86 138 0000 0001",
//!   `alice-password`), `uid=bob` ("Bob", bob@example.org, `bob-password`), `uid=carol1` and `uid=carol2`
//!   (both carol@example.org, `carol-password`: a `mail` login matches two entries), `uid=star*user` ("Star",
//!   `star-password`: a uid with a filter metacharacter), `uid=nopass` (no `userPassword`);
//! - `ou=devices`: `uid=alice` again, but a `device` (not a person, no password): `(objectClass=person)` must
//!   leave it out.
//!
//! Checking by hand with the OpenLDAP tools: libldap checks a server certificate against the machine's own
//! hostname when the URL says `localhost` (a libldap quirk), so `ldapsearch -H ldaps://localhost:…` fails
//! here; use `ldaps://127.0.0.1:…` (in the certificate too) or `openssl s_client -verify_hostname localhost`.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const LDAPMODIFY: &str = "/usr/bin/ldapmodify";
const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
const ROOT_PASSWORD: &str = "admin-secret";
const BASE_DN: &str = "dc=example,dc=org";
const PEOPLE_DN: &str = "ou=people,dc=example,dc=org";
const BIND_DN: &str = "cn=search,ou=system,dc=example,dc=org";
const BIND_PASSWORD: &str = "search-secret";

pub struct Slapd {
    /// `ldap://127.0.0.1:<port>`: plain LDAP, StartTLS available.
    pub url: String,
    /// `ldaps://localhost:<port>`: implicit TLS, the certificate is valid for `localhost` and `127.0.0.1`.
    pub ldaps_url: String,
    /// The test CA (CN "wegate test CA") that signed the server certificate.
    pub ca_pem: String,
    /// A second CA that has nothing to do with the server ("wrong CA" tests).
    pub other_ca_pem: String,
    /// `dc=example,dc=org`
    pub base_dn: String,
    /// `ou=people,dc=example,dc=org`
    pub people_dn: String,
    /// The search account, `cn=search,ou=system,dc=example,dc=org`.
    pub bind_dn: String,
    /// `search-secret`
    pub bind_password: String,
    // Declared before `dir`: slapd is killed before its directory goes.
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// Starts a fresh, seeded slapd and returns once it answers a search by the search account (about 0.1 s).
/// `None`, saying so on stderr, when slapd or the OpenLDAP client tools are not installed.
pub async fn slapd() -> Option<Slapd> {
    start(false).await
}

/// Like [`slapd()`], but answering a bind with a DN and an empty password with success (an unauthenticated
/// bind, `allow bind_anon_dn`), as Active Directory does (RFC 4513 §5.1.2): what wegate's empty-password guard
/// is for.
pub async fn slapd_ad_like() -> Option<Slapd> {
    start(true).await
}

async fn start(ad_like: bool) -> Option<Slapd> {
    if !Path::new(SLAPD).exists() || !Path::new(LDAPMODIFY).exists() {
        // CI installs them: there, a missing slapd is a failure, not a silently passing test.
        assert!(std::env::var_os("WEGATE_TEST_REQUIRE_SLAPD").is_none(), "WEGATE_TEST_REQUIRE_SLAPD: no slapd");
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "LDAP tests skipped: install slapd and ldap-utils");
        return None;
    }
    let certs = certs();
    let mut dir = tempfile::tempdir().expect("tempdir for slapd");
    let root = dir.path().to_path_buf();
    let path = |name: &str| root.join(name);
    std::fs::create_dir(path("db")).expect("slapd database directory");
    for (name, pem) in [
        ("ca.pem", &certs.ca),
        ("other-ca.pem", &certs.other_ca),
        ("server.pem", &certs.server_cert),
        ("server.key", &certs.server_key),
    ] {
        std::fs::write(path(name), pem).expect("writing a certificate");
    }
    let conf = path("slapd.conf");
    let mut config = slapd_conf(&root);
    if ad_like {
        config = config.replace("require authc\n", "require authc\nallow bind_anon_dn\n");
    }
    std::fs::write(&conf, config).expect("writing slapd.conf");
    std::fs::write(path("seed.ldif"), SEED).expect("writing seed.ldif");

    // Offline seeding: slapadd also gives every entry its entryUUID and the other operational attributes.
    let seeded = run(SLAPADD, &["-q", "-f", s(&conf), "-l", s(&path("seed.ldif"))], &[]).await;
    check(&seeded, "slapadd of the seed");

    for _attempt in 0..5 {
        let (port, tls_port) = free_ports();
        let listeners = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/");
        let log = std::fs::File::create(path("slapd.log")).expect("slapd.log");
        // `-d none`: stays in the foreground (any -d does) and logs only errors, to slapd.log. As root it
        // simply runs as root (no -u/-g): nothing else is needed.
        let child = Command::new(SLAPD)
            .args(["-f", s(&conf), "-h", &listeners, "-d", "none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("slapd.log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("starting slapd");
        let mut server = Slapd {
            url: format!("ldap://127.0.0.1:{port}"),
            ldaps_url: format!("ldaps://localhost:{tls_port}"),
            ca_pem: certs.ca.clone(),
            other_ca_pem: certs.other_ca.clone(),
            base_dn: BASE_DN.to_string(),
            people_dn: PEOPLE_DN.to_string(),
            bind_dn: BIND_DN.to_string(),
            bind_password: BIND_PASSWORD.to_string(),
            child: Some(child),
            dir,
        };
        match server.until_ready(port, tls_port).await {
            Ok(()) => return Some(server),
            // Someone took a port between our probe and slapd's bind: again with two others.
            Err(log) if log.contains("Address already in use") => dir = server.into_dir().await,
            Err(log) => panic!("slapd did not start:\n{log}"),
        }
    }
    panic!("slapd: no free pair of ports after 5 tries");
}

impl Slapd {
    /// The DN of `uid=<uid>,ou=people,dc=example,dc=org` (the value escaped as RFC 4514 wants).
    pub fn user_dn(&self, uid: &str) -> String {
        format!("uid={},{}", escape_dn_value(uid), self.people_dn)
    }

    /// Applies `ldif` (records with their `changetype:`, as `ldapmodify` takes them) as the rootdn; panics
    /// with the tool's output when slapd refuses.
    pub async fn ldapmodify(&self, ldif: &str) {
        static N: AtomicU64 = AtomicU64::new(0);
        let file = self.dir.path().join(format!("change-{}.ldif", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&file, ldif).expect("writing the LDIF");
        let out =
            run(LDAPMODIFY, &["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-f", s(&file)], NOINIT).await;
        check(&out, &format!("ldapmodify of\n{ldif}"));
    }

    /// Sets the password of `uid=<uid>,ou=people` through the Password Modify operation, so slapd stores it
    /// hashed (`{SSHA}`), as an admin's tool would.
    pub async fn set_password(&self, uid: &str, password: &str) {
        let dn = self.user_dn(uid);
        let out = run(
            "/usr/bin/ldappasswd",
            &["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-s", password, &dn],
            NOINIT,
        )
        .await;
        check(&out, &format!("ldappasswd of {dn}"));
    }

    /// Renames `uid=<uid>,ou=people` to `uid=<new_uid>` (the old uid value goes; the entryUUID stays).
    pub async fn rename(&self, uid: &str, new_uid: &str) {
        let ldif = format!(
            "dn: {}\nchangetype: modrdn\nnewrdn: uid={}\ndeleteoldrdn: 1\n",
            self.user_dn(uid),
            escape_dn_value(new_uid)
        );
        self.ldapmodify(&ldif).await;
    }

    /// The entryUUID (operational attribute) of `uid=<uid>,ou=people`, read as the rootdn.
    pub async fn entry_uuid(&self, uid: &str) -> String {
        let dn = self.user_dn(uid);
        let out = self.search_as(&self.url, ROOT_DN, ROOT_PASSWORD, &dn, "(objectClass=*)", &["entryUUID"]).await;
        let ldif = out.unwrap_or_else(|e| panic!("reading the entryUUID of {dn}: {e}"));
        ldif.lines()
            .find_map(|line| line.strip_prefix("entryUUID: "))
            .unwrap_or_else(|| panic!("{dn} has no entryUUID:\n{ldif}"))
            .to_string()
    }

    /// Kills slapd (the "directory down" tests): nothing listens on the two ports any more.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("killing slapd");
        }
    }

    /// `ldapsearch -LLL` of `base`'s subtree over `url` bound as `dn`: the LDIF, or what the tool said when
    /// it failed (with its exit code, e.g. "(53)" in the text for unwillingToPerform).
    async fn search_as(
        &self,
        url: &str,
        dn: &str,
        password: &str,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<String, String> {
        let mut args = vec!["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=5", "-x", "-H", url];
        args.extend(["-D", dn, "-w", password, "-b", base, filter]);
        args.extend_from_slice(attrs);
        let out = if url.starts_with("ldaps:") {
            let ca = self.dir.path().join("ca.pem");
            run("/usr/bin/ldapsearch", &args, &[("LDAPTLS_CACERT", s(&ca)), ("LDAPTLS_REQCERT", "demand")]).await
        } else {
            run("/usr/bin/ldapsearch", &args, NOINIT).await
        };
        if out.status.success() { Ok(text(&out.stdout)) } else { Err(describe(&out)) }
    }

    /// [`Self::search_as`] as the search account.
    async fn search(&self, url: &str, base: &str, filter: &str, attrs: &[&str]) -> Result<String, String> {
        self.search_as(url, &self.bind_dn, &self.bind_password, base, filter, attrs).await
    }

    /// Waits until slapd answers a search by the search account on `url` and accepts TCP on the TLS port.
    /// `Err(slapd.log)` when slapd exited or did not come up in 10 s.
    async fn until_ready(&mut self, port: u16, tls_port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let log = || std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default();
        loop {
            let child = self.child.as_mut().expect("slapd child");
            if let Some(status) = child.try_wait().expect("slapd status") {
                return Err(format!("{status}\n{}", log()));
            }
            let up = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
                && tokio::net::TcpStream::connect(("127.0.0.1", tls_port)).await.is_ok();
            if up {
                let probe = self.search_as(&self.url, BIND_DN, BIND_PASSWORD, PEOPLE_DN, "(uid=alice)", &["uid"]);
                match probe.await {
                    Ok(ldif) if ldif.contains("uid: alice") => return Ok(()),
                    Ok(ldif) if Instant::now() > deadline => return Err(format!("unexpected answer:\n{ldif}")),
                    Err(e) if Instant::now() > deadline => return Err(format!("{e}\n{}", log())),
                    _ => {}
                }
            } else if Instant::now() > deadline {
                return Err(format!("no listener after 10 s\n{}", log()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills slapd and gives back its directory (for another try with other ports).
    async fn into_dir(mut self) -> tempfile::TempDir {
        self.stop().await;
        let _ = std::fs::remove_file(self.dir.path().join("slapd.pid"));
        self.dir
    }
}

/// Client tools ignore /etc/ldap/ldap.conf and ~/.ldaprc (only for plain ldap://: this also drops LDAPTLS_*).
const NOINIT: &[(&str, &str)] = &[("LDAPNOINIT", "1")];

async fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn check(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}", describe(out));
}

fn describe(out: &Output) -> String {
    format!("{}\n{}{}", out.status, text(&out.stdout), text(&out.stderr))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Two distinct free ports of 127.0.0.1 (held together while probing, then released for slapd).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("probe port");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("probe port");
    (a.local_addr().expect("port").port(), b.local_addr().expect("port").port())
}

/// An attribute value as it goes into a DN (RFC 4514 §2.4).
fn escape_dn_value(value: &str) -> String {
    let mut out = String::new();
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' { out.push_str("\\00") } else { out.push(c) }
    }
    out
}

fn slapd_conf(dir: &Path) -> String {
    let p = |name: &str| -> PathBuf { dir.join(name) };
    let (pid, args, ca, cert, key, db) =
        (p("slapd.pid"), p("slapd.args"), p("ca.pem"), p("server.pem"), p("server.key"), p("db"));
    let (pid, args, ca, cert, key, db) = (s(&pid), s(&args), s(&ca), s(&cert), s(&key), s(&db));
    format!(
        r#"# wegate test directory (generated by tests/it/slapd.rs)
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile "{pid}"
argsfile "{args}"
threads 4
TLSCACertificateFile "{ca}"
TLSCertificateFile "{cert}"
TLSCertificateKeyFile "{key}"
# No operation but bind (and StartTLS) without authenticating: anonymous searches get 53 "authentication
# required". Default `disallow`/`allow`: a DN with an empty password is refused as an unauthenticated bind (53).
require authc

database mdb
maxsize 10485760
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw "{ROOT_PASSWORD}"
directory "{db}"
index objectClass eq
index uid,mail,cn eq
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="{BIND_DN}" read
  by self read
  by * none
"#
    )
}

/// The seed. Passwords are `{{SSHA}}` hashes made with `slappasswd -s …` of the plaintexts in the comments.
const SEED: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=system,dc=example,dc=org
objectClass: organizationalUnit
ou: system

dn: ou=devices,dc=example,dc=org
objectClass: organizationalUnit
ou: devices

# search-secret
dn: cn=search,ou=system,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: search
userPassword: {SSHA}X0Fqh2G+MT2EgZ/+s36gMCTmbLVHq20/

# alice-password
dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
mail: alice@example.org
telephoneNumber: +86 138 0000 0001
userPassword: {SSHA}cIAuMaDhUzFyR6+UQsJUoJhDm6aqNAQA

# bob-password
dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Bob
mail: bob@example.org
userPassword: {SSHA}T33aUuJj/RPgqA+3pdtyXtL2nMFvh1ls

# carol-password
dn: uid=carol1,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol1
cn: Carol One
sn: One
mail: carol@example.org
userPassword: {SSHA}yUSViALgYQ+JBVkKgkSO4swxwopG1FjQ

# carol-password
dn: uid=carol2,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol2
cn: Carol Two
sn: Two
mail: carol@example.org
userPassword: {SSHA}yUSViALgYQ+JBVkKgkSO4swxwopG1FjQ

# star-password
dn: uid=star*user,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: star*user
cn: Star
sn: User
userPassword: {SSHA}HtPVSLtSHsbMWTdODS2u4W+NsIFXhgoY

dn: uid=nopass,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: nopass
cn: No Password
sn: Password

# Not a person: `device` has no uid, `uidObject` adds one.
dn: uid=alice,ou=devices,dc=example,dc=org
objectClass: device
objectClass: uidObject
uid: alice
cn: alice-laptop
description: Alice's laptop
";

pub struct Certs {
    pub ca: String,
    pub other_ca: String,
    server_cert: String,
    server_key: String,
}

/// Made once per test process with the `openssl` CLI (P-256 keys: fast; ten years).
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir for certificates");
        let p = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .output()
                .expect("running openssl (needed for the LDAP tests' certificates)");
            assert!(out.status.success(), "openssl {args:?} failed: {}", describe(&out));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (name, cn) in [("ca", "wegate test CA"), ("other-ca", "wegate unrelated test CA")] {
            let (key, crt, subj) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN={cn}"));
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &crt, "-days", "3650", "-subj", &subj]);
            args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            openssl(&args);
        }
        let mut args = vec!["req", "-new"];
        args.extend(ec);
        args.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        openssl(&args);
        std::fs::write(
            p("server.ext"),
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )
        .expect("server.ext");
        let sign = "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650 -extfile server.ext";
        openssl(&sign.split(' ').chain(["-out", "server.pem"]).collect::<Vec<_>>());
        let read = |name: &str| std::fs::read_to_string(p(name)).expect("reading a generated certificate");
        Certs {
            ca: read("ca.pem"),
            other_ca: read("other-ca.pem"),
            server_cert: read("server.pem"),
            server_key: read("server.key"),
        }
    })
}

/// An OpenLDAP client tool with `LDAPTLS_CACERT=ca_file` (`openssl s_client` gets it as -CAfile).
fn tls_tool(ca_file: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(args[0]);
    command.args(&args[1..]).env("LDAPTLS_CACERT", ca_file).env("LDAPTLS_REQCERT", "demand").stdin(Stdio::null());
    if args[0] == "openssl" {
        command.arg("-CAfile").arg(ca_file);
    }
    command.output().unwrap()
}

#[tokio::test]
async fn the_fixture_starts_and_answers() {
    let started = Instant::now();
    let Some(mut ldap) = slapd().await else { return };
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "slapd took {took:?} to start");
    assert_eq!((ldap.base_dn.as_str(), ldap.people_dn.as_str()), (BASE_DN, PEOPLE_DN));
    let (url, people, base) = (ldap.url.clone(), ldap.people_dn.clone(), ldap.base_dn.clone());
    let dns = |ldif: &str| ldif.lines().filter(|l| l.starts_with("dn: ")).count();

    // The search account over ldap:// reads a person, but never a password.
    let alice = ldap.search(&url, &people, "(uid=alice)", &["uid", "cn", "mail", "telephoneNumber", "entryUUID"]);
    let alice = alice.await.unwrap();
    for want in ["uid: alice", "cn: Alice Liddell", "mail: alice@example.org", "telephoneNumber: +86 138 0000 0001"] {
        assert!(alice.contains(want), "{want} missing from\n{alice}");
    }
    assert!(alice.contains("entryUUID: "), "{alice}");
    let secret = ldap.search(&url, &people, "(uid=alice)", &["userPassword"]).await.unwrap();
    assert_eq!(dns(&secret), 1, "{secret}");
    assert!(!secret.to_lowercase().contains("userpassword"), "the search account read a password:\n{secret}");

    // The seed's traps: two alice entries (one a device), two entries with carol's mail, a uid with a `*`.
    let count = async |base: &str, filter: &str| dns(&ldap.search(&url, base, filter, &["1.1"]).await.unwrap());
    assert_eq!(count(&base, "(uid=alice)").await, 2);
    assert_eq!(count(&base, "(&(objectClass=person)(uid=alice))").await, 1);
    assert_eq!(count(&people, "(mail=carol@example.org)").await, 2);
    assert_eq!(count(&people, r"(uid=star\2auser)").await, 1);

    // Anonymous may bind but not search. An empty password is an unauthenticated bind: 53, not 49.
    let anonymous = ldap.search_as(&url, "", "", &people, "(uid=alice)", &["uid"]).await.unwrap_err();
    assert!(anonymous.contains("(53)") && anonymous.contains("authentication required"), "{anonymous}");
    let alice_dn = ldap.user_dn("alice");
    let empty = ldap.search_as(&url, &alice_dn, "", &people, "(uid=alice)", &[]).await.unwrap_err();
    assert!(empty.contains("(53)") && empty.contains("unauthenticated bind"), "{empty}");
    let wrong = ldap.search_as(&url, &alice_dn, "nope", &people, "(uid=alice)", &[]).await.unwrap_err();
    assert!(wrong.contains("(49)"), "{wrong}");
    let star = ldap.user_dn("star*user");
    let own = ldap.search_as(&url, &star, "star-password", &star, "(objectClass=*)", &["cn"]).await.unwrap();
    assert!(own.contains("cn: Star"), "{own}");

    // TLS: ldaps:// and StartTLS with the test CA; the other CA is refused; the certificate names localhost.
    let files = tempfile::tempdir().unwrap();
    let (ca, other_ca) = (files.path().join("ca.pem"), files.path().join("other-ca.pem"));
    std::fs::write(&ca, &ldap.ca_pem).unwrap();
    std::fs::write(&other_ca, &ldap.other_ca_pem).unwrap();
    let tls_port = ldap.ldaps_url.strip_prefix("ldaps://localhost:").unwrap().to_string();
    let ldaps_ip = format!("ldaps://127.0.0.1:{tls_port}"); // libldap checks "localhost" against the hostname
    let bob = ldap.search(&ldaps_ip, &people, "(uid=bob)", &["mail"]).await.unwrap();
    assert!(bob.contains("mail: bob@example.org"), "{bob}");
    let (bind_dn, password) = (ldap.bind_dn.as_str(), ldap.bind_password.as_str());
    let whoami = ["ldapwhoami", "-x", "-H", &ldaps_ip, "-D", bind_dn, "-w", password];
    let good = tls_tool(&ca, &whoami);
    assert!(good.status.success() && text(&good.stdout).contains(bind_dn), "{}", describe(&good));
    let bad = tls_tool(&other_ca, &whoami);
    assert!(!bad.status.success(), "the other CA was accepted: {}", describe(&bad));
    let starttls = tls_tool(&ca, &["ldapwhoami", "-ZZ", "-x", "-H", &url, "-D", bind_dn, "-w", password]);
    assert!(starttls.status.success(), "StartTLS: {}", describe(&starttls));
    let connect = format!("127.0.0.1:{tls_port}");
    let s_client =
        ["openssl", "s_client", "-connect", &connect, "-verify_hostname", "localhost", "-verify_return_error"];
    let verified = tls_tool(&ca, &s_client);
    assert!(verified.status.success(), "the certificate is not valid for localhost: {}", describe(&verified));

    // entryUUID survives a rename; set_password stores a hash; ldapmodify applies.
    let uuid = ldap.entry_uuid("alice").await;
    assert_eq!(uuid.len(), 36, "{uuid}");
    ldap.rename("alice", "alice.liddell").await;
    assert_eq!(ldap.entry_uuid("alice.liddell").await, uuid);
    assert_eq!(count(&people, "(uid=alice)").await, 0);
    ldap.set_password("nopass", "now-a-password").await;
    let nopass = ldap.user_dn("nopass");
    let own = ldap.search_as(&url, &nopass, "now-a-password", &nopass, "(objectClass=*)", &["userPassword"]).await;
    let own = own.unwrap();
    assert!(own.contains("userPassword:: e1NTSEF9"), "not stored as {{SSHA}}:\n{own}"); // base64 of "{SSHA}"
    ldap.ldapmodify(
        "dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: mail\nmail: robert@example.org\n",
    )
    .await;
    let bob = ldap.search(&url, &people, "(uid=bob)", &["mail"]).await.unwrap();
    assert!(bob.contains("mail: robert@example.org"), "{bob}");

    // Down: nothing answers any more.
    ldap.stop().await;
    let down = ldap.search(&url, &people, "(uid=bob)", &["mail"]).await.unwrap_err();
    assert!(down.contains("Can't contact LDAP server"), "{down}");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", tls_port.parse::<u16>().unwrap())).await.is_err());
}
